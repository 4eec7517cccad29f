/**
 * Facts the README states that live elsewhere too, kept equal: the entities in write order (the catalogue)
 * and the Node.js floor (package.json's engines, the launcher's check).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENTITY_ORDER } from '../../src/entities/catalog.js';
import { ENTITY_TITLES } from '../../src/render/view.js';

const read = (path: string): string => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const README = read('README.md').replace(/\s+/g, ' ');

describe('the README agrees with the code', () => {
  it('lists every entity in the order they are written', () => {
    const listed = /Entities are listed in the order they are written: ([^(.]+?) \(/.exec(README)?.[1];
    expect(listed).toBe(ENTITY_ORDER.map((e) => ENTITY_TITLES[e].toLowerCase()).join(', '));
  });

  it('states the Node.js floor that package.json and the launcher enforce', () => {
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    const floor = /^>=(\d+\.\d+\.\d+)$/.exec(engines)?.[1];
    expect(floor).toBeDefined();
    expect(read('bin/ldap2moodle.js')).toContain(`const FLOOR = '${floor}';`);
    expect(README).toContain(`Needs Node.js ≥ ${floor}`);
    for (const stated of README.matchAll(/Node\.js ≥ (\d+\.\d+(?:\.\d+)?)/g)) expect(stated[1]).toBe(floor);
  });
});
