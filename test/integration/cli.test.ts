/**
 * The command line end to end: `validate` and `plan` run in-process through `buildCli().run` (the TS sources)
 * with captured streams, against each Moodle target; then the real `bin/ldap2moodle.js` on a fresh build, for
 * what only a process shows (the launcher, exit codes).
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/child-apply.js';
import { expectGolden } from '../helpers/golden.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import {
  ANSI,
  type CliRun,
  COLLEGE_LDIF,
  collegeSpec,
  collegeUsers,
  runCli,
  SMALL_LDIF,
  stripAnsi,
  type TestSite,
  testSite,
  userErrorParagraph,
  writeSpec,
  withoutStageLines,
} from '../helpers/spec-files.js';
import { TARGETS } from '../helpers/targets.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/ldap2moodle.js', import.meta.url));
const golden = (name: string) => fileURLToPath(new URL(`../golden/cli/${name}`, import.meta.url));

function exec(file: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(file, [...args], { cwd: ROOT, env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

// A build when dist/ is stale (≈10 s of CPU) runs while the in-process tests do; only the process tests wait.
let build: Promise<unknown>;
beforeAll(async () => {
  build = ensureBuilt();
  build.catch(() => undefined); // reported by the tests that wait for it
  await dropStaleTestDatabases();
});

const sites: TestSite[] = [];
afterEach(async () => {
  await Promise.all(sites.splice(0).map((s) => s.remove()));
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A spec of the collège whose `moodle` section is the test Moodle's with `overrides`. */
async function specWithMoodle(s: TestSite, overrides: Record<string, unknown>): Promise<string> {
  const moodle = s.t.moodleSection(s.ws.dir, overrides);
  return writeSpec(s.ws, { version: 1, source: { ldif: COLLEGE_LDIF }, moodle, users: await collegeUsers() });
}

const INVALID_SPEC = `version: 1
source:
  ldif: directory.ldif
moodle:
  driver: mariadb
  port: three
  database: moodle
users:
  search: { base: 'ou=people,dc=ent,dc=example' }
  auth: cas
  fields:
    username: '{uid|lower}'
    firstname: '{givenName}'
    lastname: '{sn}'
  onRemoved: delete
  adpot: never
`;

describe.each(TARGETS)('on %s', (target) => {
  const embedded = target === 'embedded';
  async function setup(): Promise<TestSite> {
    const site = await testSite(target);
    sites.push(site);
    return site;
  }

  describe('validate', () => {
    it('prints "valid" and exits 0 for the example spec pointed at a test database', async () => {
      const s = await setup();
      const spec = await collegeSpec(s.ws, s.t);
      expect(await s.cli(['validate', '--spec', spec])).toEqual({ code: 0, stdout: `${spec}: valid\n`, stderr: '' });
    });

    it('exits 1 with one file:line:col line per problem for an invalid spec (plan too)', async () => {
      const s = await setup();
      const spec = s.ws.path('ldap2moodle.yaml');
      await writeFile(spec, INVALID_SPEC);
      const validate = await s.cli(['validate', '--spec', spec]);
      expect(userErrorParagraph(validate, 'SPEC_INVALID')).toBe(`${spec}: 3 problems in the spec`);
      expectGolden(golden('invalid-spec.stderr.txt'), validate.stderr.replaceAll(s.ws.dir, '<dir>'));
      const lines = validate.stderr.split('\n').slice(1, -1);
      expect(lines.map((l) => /^ {2}(.+):(\d+):(\d+): /.exec(l)?.slice(1))).toEqual([
        [spec, '6', '9'],
        [spec, '15', '14'],
        [spec, '16', '3'],
      ]);
      expect(await s.cli(['plan', '--spec', spec])).toEqual(validate);
      await s.expectNothingWritten();
    });

    it('an unset secret: SECRET_UNSET naming the reference and where it is written', async () => {
      const s = await setup();
      delete process.env.NOPE;
      const spec = await specWithMoodle(s, { password: '${env:NOPE}' });
      const run = await s.cli(['plan', '--spec', spec]);
      const paragraph = userErrorParagraph(run, 'SECRET_UNSET');
      expect(paragraph).toMatch(new RegExp(`\\$\\{env:NOPE\\} at ${spec}:\\d+:\\d+`));
      expect(run.stderr).toContain('environment variable NOPE is not set (at /moodle/password)');
      await s.expectNothingWritten();
    });
  });

  describe('plan: Moodle database problems', () => {
    // The embedded Moodle has no host or port (embedded.test.ts covers a directory it cannot use).
    it.skipIf(embedded)('an unreachable database: MOODLE_CONNECT naming host and port', async () => {
      const s = await setup();
      const port = await closedPort();
      const run = await s.cli(['plan', '--spec', await specWithMoodle(s, { port })]);
      const paragraph = userErrorParagraph(run, 'MOODLE_CONNECT');
      expect(paragraph).toContain(`${String(s.t.moodleSection(s.ws.dir).host)}:${port}`);
      expect(paragraph).toContain('connection refused');
      await s.expectNothingWritten();
    });

    // No credentials in an embedded Moodle.
    it.skipIf(embedded)(
      'wrong credentials: MOODLE_CONNECT, access denied, the password nowhere in the output',
      async () => {
        const s = await setup();
        const password = 'Wr0ng-Db-Pa55';
        await writeFile(s.ws.path('db-password'), `${password}\n`);
        // The test PostgreSQL trusts local connections (any password is accepted): an unknown role is refused.
        const user = target === 'postgres' ? 'l2m_no_such_role' : String(s.t.moodleSection(s.ws.dir).user);
        const spec = await specWithMoodle(s, { password: '${file:db-password}', user });
        const run = await s.cli(['plan', '--spec', spec]);
        const paragraph = userErrorParagraph(run, 'MOODLE_CONNECT');
        expect(paragraph).toContain(`access denied for user "${user}" (password given: yes)`);
        expect(run.stderr + run.stdout).not.toContain(password);
        await s.expectNothingWritten();
      },
    );

    it('a prefix that holds no Moodle: MOODLE_NOT_FOUND naming the database and prefix', async () => {
      const s = await setup();
      const run = await s.cli(['plan', '--spec', await specWithMoodle(s, { prefix: 'moodle_' })]);
      const paragraph = userErrorParagraph(run, 'MOODLE_NOT_FOUND');
      expect(paragraph).toContain(`no Moodle found in ${s.t.location} with prefix "moodle_"`);
      expect(paragraph).toContain('moodle.prefix');
      await s.expectNothingWritten();
    });
  });

  describe('plan output', () => {
    it('prints the collège plan without colours with --no-color (golden file)', async () => {
      const s = await setup();
      const run = await s.cli(['plan', '--no-color', '--spec', await collegeSpec(s.ws, s.t)], { tty: true });
      expect(run.code).toBe(0);
      // Warnings in the log on stderr, with the stage lines: stdout is the plan alone.
      expect(withoutStageLines(run.stderr)).toMatch(
        /^Warning: the auth plugin "cas" is not enabled in Moodle[^\n]*\n$/,
      );
      expect(run.stdout).not.toMatch(ANSI);
      expect(run.stdout).toContain(s.t.label);
      // The golden file was recorded on MariaDB: the target's address is the only line that differs.
      const normalised = run.stdout
        .replace(ROOT, '<repo>/')
        .replace(/(?:mariadb|postgres|embedded):\/\/\S+/, 'mariadb://<test database>')
        .replace(s.ws.dir, '<workspace>');
      expectGolden(golden('plan-college.txt'), normalised);
      await s.expectNothingWritten();
    });

    it('colours only a terminal, and never with NO_COLOR', async () => {
      const s = await setup();
      const spec = await collegeSpec(s.ws, s.t);
      const saved = process.env.NO_COLOR;
      delete process.env.NO_COLOR;
      try {
        const tty = await s.cli(['plan', '--spec', spec], { tty: true });
        expect(tty.stdout).toMatch(ANSI);
        const pipe = await s.cli(['plan', '--spec', spec]);
        expect(pipe.stdout).not.toMatch(ANSI);
        // The same plan, once the colours are gone.
        expect(stripAnsi(tty.stdout)).toBe(pipe.stdout);
        process.env.NO_COLOR = '1';
        const noColor = await s.cli(['plan', '--spec', spec], { tty: true });
        expect({ code: noColor.code, stdout: noColor.stdout }).toEqual({ code: pipe.code, stdout: pipe.stdout });
      } finally {
        if (saved === undefined) delete process.env.NO_COLOR;
        else process.env.NO_COLOR = saved;
      }
      await s.expectNothingWritten();
    });

    it('--json prints a parseable plan listing the changes', async () => {
      const s = await setup();
      const run = await s.cli(['plan', '--json', '--no-redact', '--spec', await collegeSpec(s.ws, s.t)], {
        tty: true,
      });
      expect(run.code).toBe(0);
      // The warnings are in the document, not in the log.
      expect(withoutStageLines(run.stderr)).toBe('');
      expect(run.stdout).not.toMatch(ANSI);
      const document = JSON.parse(run.stdout) as {
        summary: Record<string, number>;
        changes: { address: string; action: string; after: Record<string, unknown> }[];
        warnings: string[];
      };
      expect(document.summary).toMatchObject({ create: 13, update: 0, adopt: 0, suspend: 0 });
      expect(document.changes).toHaveLength(13);
      expect(document.changes[0]).toMatchObject({
        address: 'user["f4500111"]',
        action: 'create',
        after: { username: 'f4500111', firstname: 'Éloïse' },
      });
      expect(document.warnings).toEqual([expect.stringContaining('"cas" is not enabled')]);
      await s.expectNothingWritten();
    });

    it('cuts at 20 changes per entity by default; --full lists them all', async () => {
      const s = await setup();
      const users = await collegeUsers({
        search: { base: 'ou=people,dc=ent,dc=example', filter: '(objectClass=ENTPerson)' },
      });
      const spec = await writeSpec(s.ws, {
        version: 1,
        source: { ldif: SMALL_LDIF },
        moodle: s.t.moodleSection(s.ws.dir),
        users,
      });
      const blocks = (run: CliRun) => run.stdout.split('\n').filter((l) => l.startsWith('  + user["')).length;
      const cut = await s.cli(['plan', '--spec', spec]);
      const full = await s.cli(['plan', '--full', '--spec', spec]);
      expect(blocks(full)).toBe(41);
      expect(full.stdout).toContain('Users: 41 changes (41 in the directory)');
      expect(full.stdout).not.toContain('--full');
      expect(blocks(cut)).toBe(20);
      expect(cut.stdout).toContain('  … and 21 more users changes (use --full to see them all)');
      expect(cut.stdout).toContain('Plan: 41 to create.');
      await s.expectNothingWritten();
    });
  });
});

describe('help', () => {
  it('plan --help lists the options', async () => {
    const run = await runCli(['plan', '--help']);
    expect(run.code).toBe(0);
    for (const option of ['--spec', '--no-color', '--full', '--json']) expect(run.stdout).toContain(option);
    expect(run.stdout).toContain('writes nothing');
  });

  it.each(['validate', 'plan', 'apply'])(
    '%s --help says where the spec is read when --spec is not given',
    async (cmd) => {
      const run = await runCli([cmd, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/--spec[^\n]*default: \.\/ldap2moodle\.yaml/);
    },
  );
});

describe('the real executable (bin/ldap2moodle.js on a fresh build)', () => {
  async function built(): Promise<void> {
    await build;
  }

  const target = TARGETS[0] ?? 'mariadb';
  const servers = TARGETS.filter((t) => t !== 'embedded');
  async function setup(on = target): Promise<TestSite> {
    const site = await testSite(on);
    sites.push(site);
    return site;
  }

  it('validate: exit 0 under this Node, no version complaint', async () => {
    await built();
    const s = await setup();
    const spec = await collegeSpec(s.ws, s.t);
    const run = await exec(process.execPath, [BIN, 'validate', '--spec', spec]);
    expect(run).toEqual({ code: 0, stdout: `${spec}: valid\n`, stderr: '' });
  });

  it.skipIf(servers.length === 0)(
    'plan with an unreachable database: exit code 1 and the user error, no stack trace',
    async () => {
      await built();
      const s = await setup(servers[0]);
      const run = await exec(process.execPath, [
        BIN,
        'plan',
        '--spec',
        await specWithMoodle(s, { port: await closedPort() }),
      ]);
      expect(userErrorParagraph(run, 'MOODLE_CONNECT')).toContain('connection refused');
      expect(run.stderr).not.toContain('needs Node.js');
      await s.expectNothingWritten();
    },
  );

  it.each(TARGETS)('plan on a pipe (%s): no colours in the plan', async (on) => {
    await built();
    const s = await setup(on);
    const spec = await collegeSpec(s.ws, s.t);
    await s.t.release();
    const run = await exec(process.execPath, [BIN, 'plan', '--spec', spec]);
    expect(run.code).toBe(0);
    expect(withoutStageLines(run.stderr)).toMatch(/^Warning: the auth plugin "cas" is not enabled in Moodle[^\n]*\n$/);
    expect(run.stdout).toContain('Plan: 13 to create.');
    expect(run.stdout).not.toMatch(ANSI);
  });

  it('plan --help on a pipe: no colours', async () => {
    await built();
    const { NO_COLOR: _, FORCE_COLOR: __, ...env } = process.env;
    const run = await exec(process.execPath, [BIN, 'plan', '--help'], { ...env, TERM: 'xterm-256color' });
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(ANSI);
  });
});
