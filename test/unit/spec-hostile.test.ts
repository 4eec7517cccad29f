/**
 * A spec file cannot crash or hang the tool: deep nesting, alias bombs, an anchor that contains itself, and
 * every file a spec names (`extends`, a transcoding's `csv`, a `${file:}` secret, the spec itself) being
 * `/dev/zero`, `/dev/urandom`, a FIFO, a directory or too big are each a coded error (SPEC_INVALID naming the
 * file and, where the spec writes it, the position), within a bounded time.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readBoundedRegularFile } from '../../src/bounded-read.js';
import { formatDiagnostic, UserError } from '../../src/errors.js';
import { checkSourceFiles } from '../../src/index.js';
import { readLdifFile } from '../../src/source/ldif/parse-ldif.js';
import { loadSpec, parseSpecText } from '../../src/spec/load.js';
import { MINIMAL_SPEC } from '../helpers/minimal-spec.js';

const dir = mkdtempSync(join(tmpdir(), 'l2m-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fifo = join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);
const big = join(dir, 'big.csv');
writeFileSync(big, '');
truncateSync(big, 10 * 1024 * 1024 + 1);

/** The error loading `text` (as `name` in the test directory) gives, with its diagnostics as printed. */
async function failure(text: string, options: { resolveSecrets?: boolean; name?: string } = {}): Promise<string> {
  const path = join(dir, options.name ?? 'spec.yaml');
  writeFileSync(path, text);
  const error: unknown = await loadSpec(path, {
    resolveSecrets: options.resolveSecrets ?? true,
    env: {},
  }).catch((e: unknown) => e);
  expect(error, String(error)).toBeInstanceOf(UserError);
  const e = error as UserError;
  return `${e.code}: ${e.message}\n${e.diagnostics.map(formatDiagnostic).join('\n')}`;
}

describe('YAML that would exhaust the stack or the memory', () => {
  it('block nesting 3,000 deep is SPEC_INVALID, not a stack overflow', async () => {
    let nested = '';
    for (let i = 0; i < 3000; i++) nested += `${'  '.repeat(i + 1)}k:\n`;
    const text = `${MINIMAL_SPEC}vars:\n${nested}${'  '.repeat(3001)}v\n`;
    expect(await failure(text)).toMatch(
      /^SPEC_INVALID: [^\n]*\n.*spec\.yaml:\d+:\d+: .*nested more than 64 levels deep/s,
    );
  });

  it('flow nesting 5,000 deep is SPEC_INVALID', async () => {
    const text = `${MINIMAL_SPEC}vars: { a: ${'['.repeat(5000)}${']'.repeat(5000)} }\n`;
    expect(await failure(text)).toMatch(/^SPEC_INVALID: .*nested more than 64 levels deep/s);
  });

  it('an anchor that contains its own alias is SPEC_INVALID at the alias', async () => {
    const text = `${MINIMAL_SPEC}vars: &v { c: *v }\n`;
    expect(await failure(text)).toMatch(/^SPEC_INVALID: .*spec\.yaml:15:\d+: the alias \*v is inside its own anchor/s);
    // Unresolved secrets too: the resolver walks the same tree.
    expect(await failure(text, { resolveSecrets: false })).toMatch(/the alias \*v is inside its own anchor/);
  });

  it('an alias bomb is SPEC_INVALID', async () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    const text = `${MINIMAL_SPEC}vars:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
    expect(await failure(text)).toMatch(/^SPEC_INVALID: .*(alias|nested)/s);
  });
});

describe('files a spec names must be regular files under 10 MiB', () => {
  const cases: readonly (readonly [string, string, RegExp])[] = [
    ['/dev/zero', '/dev/zero', /is a character device, not a regular file/],
    ['/dev/urandom', '/dev/urandom', /is a character device, not a regular file/],
    [fifo, 'a FIFO', /is a FIFO \(named pipe\), not a regular file/],
    [dir, 'a directory', /is a directory, not a regular file/],
    [big, 'a file over 10 MiB', /is 10 MiB, over the limit of 10 MiB|over the limit of 10 MiB/],
  ];

  for (const [path, what, message] of cases) {
    it(`extends naming ${what}`, async () => {
      const out = await failure(`extends: ${path}\n${MINIMAL_SPEC}`);
      expect(out).toMatch(/^SPEC_INVALID: /);
      expect(out).toMatch(message);
      expect(out).toMatch(/spec\.yaml:1:\d+: /);
    }, 5_000);

    it(`a transcoding csv naming ${what}`, async () => {
      const out = await failure(`${MINIMAL_SPEC}transcodings:\n  levels:\n    csv: ${path}\n`);
      expect(out).toMatch(/^SPEC_INVALID: /);
      expect(out).toMatch(message);
      expect(out).toMatch(/spec\.yaml:17:\d+: /);
    }, 5_000);

    it(`a \${file:} secret naming ${what}`, async () => {
      const text = MINIMAL_SPEC.replace('database: moodle', `database: moodle\n  password: '\${file:${path}}'`);
      const out = await failure(text);
      expect(out).toMatch(/^SPEC_INVALID: /);
      expect(out).toMatch(message);
      expect(out).toMatch(/spec\.yaml:7:\d+: /);
    }, 5_000);

    it(`the LDIF source being ${what}: validate says SPEC_INVALID at source.ldif, a run LDIF_INVALID`, async () => {
      if (path === big) return; // a 10 MiB LDIF is fine (its limit is 512 MiB)
      const spec = join(dir, 'ldif.yaml');
      writeFileSync(spec, MINIMAL_SPEC.replace('ldif: people.ldif', `ldif: ${path}`));
      const error: unknown = await checkSourceFiles(await loadSpec(spec, { env: {} })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).code).toBe('SPEC_INVALID');
      expect((error as UserError).diagnostics.map(formatDiagnostic).join('\n')).toMatch(message);
      const read: unknown = await readLdifFile(path).catch((e: unknown) => e);
      expect((read as UserError).code).toBe('LDIF_INVALID');
      expect((read as UserError).message).toMatch(message);
    }, 5_000);

    it(`the spec itself being ${what}`, async () => {
      const error: unknown = await loadSpec(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserError);
      expect((error as UserError).code).toMatch(/^SPEC_(READ|INVALID)$/);
      expect((error as UserError).message).toMatch(message);
    }, 5_000);
  }

  it('a bounded read stops one byte past the limit, even where stat says 0 bytes (/proc)', async () => {
    const small = join(dir, 'small.txt');
    writeFileSync(small, 'x'.repeat(100));
    expect((await readBoundedRegularFile(small, 100)).length).toBe(100);
    await expect(readBoundedRegularFile(small, 99)).rejects.toThrow(/over the limit of 99 bytes/);
    expect((await readBoundedRegularFile('/proc/self/status', 1024 * 1024)).toString()).toMatch(/^Name:/);
    await expect(readBoundedRegularFile('/proc/self/status', 10)).rejects.toThrow(/over the limit of 10 bytes/);
  });

  it('text given in-process is held to the same limits', async () => {
    const error: unknown = await parseSpecText(`extends: /dev/zero\n${MINIMAL_SPEC}`, join(dir, 'inline.yaml')).catch(
      (e: unknown) => e,
    );
    expect((error as UserError).code).toBe('SPEC_INVALID');
  });
});

describe('secret references only in secret fields', () => {
  it('a ${env:} or ${file:} reference in a user field, a filter or a name is SPEC_INVALID at its position', async () => {
    const text = MINIMAL_SPEC.replace(
      "lastname: '{sn}'",
      "lastname: '{sn}'\n    email: '{mail} ${env:MOODLE_DB_PASSWORD}'",
    ).replace(
      'base: ou=people,dc=example,dc=org',
      "base: ou=people,dc=example,dc=org\n    filter: '(cn=${file:/etc/ldap2moodle/ldap.secret})'",
    );
    const out = await failure(text);
    expect(out).toMatch(/^SPEC_INVALID: /);
    const lines = out.split('\n').slice(1);
    expect(lines).toEqual([
      expect.stringMatching(
        /spec\.yaml:10:13: a secret reference \(\$\{env:…\} or \$\{file:…\}\) is allowed only in source\.ldap\.password, .* \(at \/users\/search\/filter\)$/,
      ),
      expect.stringMatching(/spec\.yaml:16:12: a secret reference .* \(at \/users\/fields\/email\)$/),
    ]);
    // Refused before anything is resolved: validate (which resolves nothing) says the same.
    expect(await failure(text, { resolveSecrets: false })).toMatch(/allowed only in/);
  });

  it('is accepted in passwords, the bind DN, the database user and postApply arguments; $${ stays literal anywhere', async () => {
    const text = `${MINIMAL_SPEC.replace(
      'database: moodle',
      "database: moodle\n  user: '${env:DB_USER}'\n  password: '${env:DB_PW}'",
    ).replace(
      "lastname: '{sn}'",
      () => "lastname: '$${sn} {sn}'",
    )}postApply:\n  - run: [deploy, '--token=\${env:TOKEN}']\n`;
    const path = join(dir, 'fine.yaml');
    writeFileSync(path, text);
    const loaded = await loadSpec(path, { env: { DB_USER: 'moodle', DB_PW: 'pw-123456', TOKEN: 'tok-987' } });
    expect(loaded.spec.moodle.password).toBe('pw-123456');
    expect(loaded.spec.postApply?.[0]?.run).toEqual(['deploy', '--token=tok-987']);
    expect(loaded.spec.users.fields.lastname).toBe('${sn} {sn}');
  });
});
