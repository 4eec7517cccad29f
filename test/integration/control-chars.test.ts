/**
 * Directory values carrying terminal escapes and line breaks reach the terminal as visible escapes: the human
 * plan, the Markdown plan and the log through the real CLI, from a crafted LDIF (values base64-encoded, as LDIF
 * carries bytes it cannot write as text). A uid with `ESC ]0;…` (retitle the terminal) and `ESC [2J` (clear it)
 * must not be sent raw, and a newline inside a value must not start a line of its own.
 */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printable } from '../../src/printable.js';
import { collegeSpec, type TestSite, testSite } from '../helpers/spec-files.js';

const ESC = '\u001b';
/** A uid with terminal escapes, DEL and a C1 control: a DN shown as it is (the entry is skipped, its DN listed). */
const HOSTILE_UID = `evil${ESC}]0;pwned\u0007${ESC}[2J\u009b1m\u007f`;
/**
 * A fake summary line hidden in a surname, after a newline and a carriage return: the rules clean names as
 * Moodle's API does (control characters removed, with a warning), so no fake line may appear anywhere.
 */
const HOSTILE_SN = `Doe\nPlan: 0 to create.\r${ESC}[31mred\u009b1m\u007f`;

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

function ldif(): string {
  const entry = (uid: string, sn: string): string =>
    [
      `dn:: ${b64(`uid=${uid},ou=people,dc=ent,dc=example`)}`,
      'objectClass: inetOrgPerson',
      `uid:: ${b64(uid)}`,
      `cn:: ${b64(uid)}`,
      `sn:: ${b64(sn)}`,
      'givenName: Given',
      'mail: someone@ent.example',
    ].join('\n');
  return `${[
    'dn: ou=people,dc=ent,dc=example\nobjectClass: organizationalUnit\nou: people',
    entry('healthy', 'Healthy'),
    entry(HOSTILE_UID, 'Smith'),
    entry('newline', HOSTILE_SN),
  ].join('\n\n')}\n`;
}

/** Bytes below 0x20 other than a newline, DEL, and the C1 controls (U+0080–U+009F). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/u;

function expectNoRawControl(text: string): void {
  const found = RAW_CONTROL.exec(text);
  expect(found === null ? null : `U+${(found[0].codePointAt(0) ?? 0).toString(16)} at ${found.index}`).toBeNull();
}

describe('control characters in human output', () => {
  let site: TestSite;
  let spec: string;
  beforeAll(async () => {
    site = await testSite('embedded');
    const file = site.ws.path('people.ldif');
    await writeFile(file, ldif());
    spec = await collegeSpec(site.ws, site.t, {
      ldif: file,
      users: { search: { base: 'ou=people,dc=ent,dc=example', filter: '(objectClass=inetOrgPerson)' } },
    });
  }, 120_000);
  afterAll(async () => site?.remove());

  it('printable escapes C0, DEL and C1 as JSON does, and leaves other text alone', () => {
    expect(printable(HOSTILE_UID)).toBe('evil\\u001b]0;pwned\\u0007\\u001b[2J\\u009b1m\\u007f');
    expect(printable('a\nb\tc\rd')).toBe('a\\nb\\tc\\rd');
    expect(printable('\u007f\u009b')).toBe('\\u007f\\u009b');
    expect(printable('Éloïse — ok')).toBe('Éloïse — ok');
  });

  it.each([
    ['human', [] as string[], true],
    ['full human', ['--full'], true],
    // Redacted by default: the values are pseudonyms there, the raw bytes must still not pass.
    ['Markdown', ['--format', 'markdown'], false],
    ['unredacted Markdown', ['--format', 'markdown', '--no-redact'], true],
    ['verbose log', ['--verbose'], true],
  ])(
    'the %s plan shows the escapes, never the raw bytes',
    async (_name, extra, showsValues) => {
      const run = await site.cli(['plan', '--spec', spec, '--no-color', ...extra]);
      const both = run.stdout + run.stderr;
      expectNoRawControl(both);
      if (!showsValues) return;
      // The hostile uid is somewhere in the plan (a change or a skipped entry), escaped; the fake line is not a line.
      expect(both).toContain('\\u001b]0;pwned\\u0007\\u001b[2J\\u009b1m\\u007f');
      expect(both).not.toMatch(/^Plan: 0 to create\.$/m);
      await site.expectNothingWritten();
    },
    60_000,
  );

  it('moodle-query shows a value stored with control characters escaped', async () => {
    // A value written raw into Moodle (by an older version, or by hand): only the display is escaped.
    // (No `;` in it: moodle-query runs one statement.)
    const sql = `SELECT 'evil${ESC}[2J${ESC}]2\u0007\nPlan: 0' AS uid`;
    const run = await site.cli(['moodle-query', '--spec', spec, sql]);
    expect(run.code, run.stderr).toBe(0);
    expectNoRawControl(run.stdout + run.stderr);
    expect(run.stdout).toContain('evil\\u001b[2J\\u001b]2\\u0007\\nPlan: 0');
  });

  it('an error message carrying a value is escaped on stderr', async () => {
    const run = await site.cli(['plan', '--spec', site.ws.path(`missing${ESC}[2J.yaml`)]);
    expect(run.code).not.toBe(0);
    expectNoRawControl(run.stderr);
    expect(run.stderr).toContain('missing\\u001b[2J.yaml');
  });
});
