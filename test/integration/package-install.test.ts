/**
 * The package as a server gets it: `npm pack`, then `npm install -g` of the tarball into a fresh prefix, then
 * the installed `ldap2moodle` runs `demo` and `validate` from there. This catches a file missing from
 * package.json's `files` (a preset, an asset, a schema), a dependency left in devDependencies, and a tree that
 * ships what the README's commands leave behind (the embedded Moodle's data, states, saved plans).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/child-apply.js';
import { reportSeries, writeReports } from '../helpers/run-reports.js';
import { withoutStageLines } from '../helpers/spec-files.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The packed tarball stays well under this: a bigger one ships something it should not. */
const MAX_PACKED_BYTES = 8 * 1024 * 1024;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** npm (the one `npm test` runs under, else the one on PATH), on the Node that runs the tests. */
function npm(args: readonly string[], cwd: string): Promise<Run> {
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  const npmCli = process.env.npm_execpath ?? '';
  return npmCli.endsWith('.js') ? run(process.execPath, [npmCli, ...args], cwd, env) : run('npm', args, cwd, env);
}

describe('the packed package, installed into a fresh prefix', () => {
  let work: string;
  let tarball: string;
  let entries: string[];
  let bin: string;
  let installed: string;
  beforeAll(async () => {
    await ensureBuilt();
    work = await mkdtemp(join(tmpdir(), 'ldap2moodle-pack-'));
    // What a developer's tree may hold after running the README's commands: none of it may be packed.
    const leftovers = [
      join(ROOT, 'examples/college/moodle/.l2m-package-test'),
      join(ROOT, 'examples/college/l2m-package-test.state.json'),
      join(ROOT, 'examples/college/l2m-package-test.plan'),
    ];
    await mkdir(leftovers[0] as string, { recursive: true });
    await writeFile(join(leftovers[0] as string, 'data'), 'embedded Moodle data');
    await writeFile(leftovers[1] as string, '{}');
    await writeFile(leftovers[2] as string, 'plan');
    // dist/ is built above (one build at a time across test workers); `prepare` would build it again.
    const packed = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT).finally(() =>
      Promise.all([
        rm(leftovers[0] as string, { recursive: true, force: true }),
        rm(leftovers[1] as string, { force: true }),
        rm(leftovers[2] as string, { force: true }),
      ]),
    );
    expect(packed.code, packed.stderr).toBe(0);
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    if (info === undefined) throw new Error(`npm pack printed no package: ${packed.stdout}`);
    tarball = join(work, info.filename);
    entries = info.files.map((f) => f.path);
    const prefix = join(work, 'prefix');
    // From the npm cache `npm ci` filled; the registry only for what it lacks.
    const install = await npm(
      ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball],
      work,
    );
    expect(install.code, `${install.stdout}\n${install.stderr}`).toBe(0);
    bin = join(prefix, 'bin', 'ldap2moodle');
    installed = join(prefix, 'lib', 'node_modules', 'ldap2moodle');
  }, 600_000);
  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('is small and ships neither the embedded Moodle data, states nor saved plans', async () => {
    expect((await stat(tarball)).size).toBeLessThan(MAX_PACKED_BYTES);
    expect(entries).toContain('presets/sdet.yaml');
    expect(entries).toContain('schemas/ldap2moodle.schema.json');
    expect(entries).toContain('examples/college/ldap2moodle.yaml');
    expect(entries).toContain('dist/cli/main.js');
    const leaked = entries.filter((p) => /l2m-package-test|^examples\/.*\/moodle\/|\.state\.json|\.plan$/.test(p));
    expect(leaked).toEqual([]);
    expect(entries.filter((p) => p.startsWith('test/') || p.startsWith('src/') || p.startsWith('.ci/'))).toEqual([]);
  });

  it('runs `ldap2moodle --version` and `validate` on a shipped example from the installed copy', async () => {
    const version = await run(process.execPath, [bin, '--version'], work);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const spec = join(installed, 'examples/college/ldap2moodle.yaml');
    const validate = await run(process.execPath, [bin, 'validate', '--spec', spec, '--no-color'], work);
    expect(validate.stderr).toBe('');
    expect(validate.code).toBe(0);
    expect(validate.stdout).toContain('valid');
  });

  it('runs `ldap2moodle report` from the installed copy: its charting libraries are dependencies', async () => {
    const reports = join(work, 'site.reports');
    await writeReports(reports, reportSeries(new Date(Date.now() - 3 * 86_400_000)));
    const page = await run(process.execPath, [bin, 'report', '--dir', reports, '--out', '-'], work);
    expect(page.stderr).toBe('');
    expect(page.code).toBe(0);
    expect(page.stdout).toMatch(/<figure data-chart="outcomes"[\s\S]*<svg /);
  });

  it('runs `ldap2moodle demo` from the installed copy, offline, in an empty directory', async () => {
    const cwd = join(work, 'demo');
    await mkdir(cwd);
    const demo = await run(process.execPath, [bin, 'demo', '--no-color'], cwd);
    // stderr is the log: warnings and stage lines only.
    for (const line of withoutStageLines(demo.stderr)
      .split('\n')
      .filter((l) => l !== '')) {
      expect(line).toMatch(/^Warning: /);
    }
    expect(demo.code).toBe(0);
    expect(demo.stdout).toContain('No changes. Moodle matches the spec.');
    expect(await readdir(cwd)).toEqual(['ldap2moodle-demo']);
    // Nothing written into the installed package itself.
    expect((await readdir(join(installed, 'examples/college'))).sort()).toEqual(
      ['directory.ldif', 'ldap2moodle.yaml', 'levels.csv', 'subjects.csv'].sort(),
    );
  });
});
