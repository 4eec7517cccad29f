import { describe, expect, it } from 'vitest';
import { compileTemplate, TemplateSyntaxError } from '../../src/rules/template.js';
import type { LdapEntry } from '../../src/source/entry.js';

const entry: LdapEntry = {
  dn: 'uid=F4500111,ou=people,dc=ent,dc=example',
  attributes: {
    uid: ['F4500111'],
    givenname: ['Éloïse'],
    sn: ['MARTIN-DUBOIS'],
    mail: ['a@ent.example', 'b@ent.example'],
    entpersonjointure: ['AC-ORLEANS-TOURS$7100001'],
    enteleveclasses: ['ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example$6EME1'],
    padded: ['  x  '],
  },
};
const run = (t: string): readonly string[] => compileTemplate(t).evaluate(entry);

describe('templates', () => {
  it('looks attributes up in any case and keeps every value of a lone placeholder', () => {
    expect(run('{UID}')).toEqual(['F4500111']);
    expect(run('{mail}')).toEqual(['a@ent.example', 'b@ent.example']);
  });

  it('builds text from the first value of each placeholder', () => {
    expect(run('{givenName} {sn}')).toEqual(['Éloïse MARTIN-DUBOIS']);
    expect(run('{mail} / {uid}')).toEqual(['a@ent.example / F4500111']);
  });

  it('gives no value when a placeholder of a text template has none', () => {
    expect(run('{nickname} {sn}')).toEqual([]);
    expect(run('{nickname|default("?")} {sn}')).toEqual(['? MARTIN-DUBOIS']);
  });

  it('applies case, trim, ascii and position filters', () => {
    expect(run('{uid|lower}')).toEqual(['f4500111']);
    expect(run('{sn|upper|lower}')).toEqual(['martin-dubois']);
    expect(run('{padded|trim}')).toEqual(['x']);
    expect(run('{givenName|ascii|lower}')).toEqual(['eloise']);
    expect(run('{mail|first}')).toEqual(['a@ent.example']);
    expect(run('{mail|last}')).toEqual(['b@ent.example']);
    expect(run('{mail|nth(2)}')).toEqual(['b@ent.example']);
    expect(run('{mail|nth(-2)}')).toEqual(['a@ent.example']);
    expect(run('{mail|nth(3)}')).toEqual([]);
    expect(run('{mail|join(", ")}')).toEqual(['a@ent.example, b@ent.example']);
  });

  it('extracts parts with split and regular expressions with named groups', () => {
    expect(run('{ENTPersonJointure|split("$", 2)}')).toEqual(['7100001']);
    expect(run('{ENTEleveClasses|split("$", -1)}')).toEqual(['6EME1']);
    expect(run('{ENTPersonJointure|match("^[^$]+\\$(?<key>.+)$", "key")}')).toEqual(['7100001']);
    expect(run('{ENTPersonJointure|match("^(AC-[A-Z-]+)")}')).toEqual(['AC-ORLEANS-TOURS']);
    expect(run('{ENTPersonJointure|match("^nomatch")}')).toEqual([]);
    expect(run('{sn|replace("-", " ")}')).toEqual(['MARTIN DUBOIS']);
    expect(run('{mail|match("^(?<local>[^@]+)@", "local")|join("+")}')).toEqual(['a+b']);
  });

  it('keeps literal braces and NFC-normalises results', () => {
    expect(run('{{{uid}}}')).toEqual(['{F4500111}']);
    const decomposed: LdapEntry = { dn: 'x', attributes: { sn: ['E\u0301tienne'] } };
    expect(compileTemplate('{sn}').evaluate(decomposed)).toEqual(['\u00c9tienne']);
  });

  it('lists the attributes it reads, lower-cased', () => {
    expect(compileTemplate('{givenName} {SN|lower} {sn}').attributes).toEqual(['givenname', 'sn']);
  });

  it.each([
    ['{uid', 'expected "|" or "}" in placeholder', 4],
    ['uid}', 'unmatched "}"', 3],
    ['{}', 'expected an attribute name', 1],
    ['{uid|shout}', 'unknown filter "shout"', 5],
    ['{uid|nth}', 'filter "nth" takes 1 argument(s), got 0', 5],
    ['{uid|nth("a")}', 'argument 1 must be a non-zero integer', 5],
    ['{uid|join(1)}', 'argument 1 must be a quoted string', 5],
    ['{uid|match("(")}', 'invalid regular expression', 5],
    ['{uid|default("x)}', 'unterminated string', 13],
  ])('refuses %s with its position', (source, message, offset) => {
    let caught: unknown;
    try {
      compileTemplate(source);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TemplateSyntaxError);
    expect((caught as TemplateSyntaxError).message).toContain(message);
    expect((caught as TemplateSyntaxError).offset).toBe(offset);
  });
});
