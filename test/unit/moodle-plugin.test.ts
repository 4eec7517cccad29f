/**
 * The optional Moodle plugin shipped in moodle-plugin/: its PHP files are valid (`php -l`), read the way Moodle's
 * installer reads them (version.php's fields, the language file's strings), and the package ships them; and the
 * plan's decision to say that the plugin is missing (src/plan/own-plugin.ts).
 *
 * PHP comes from Debian (`.ci/run` installs php-cli). Outside CI a machine without php skips the PHP checks,
 * saying so; `.ci/run` sets L2M_REQUIRE_PHP=1, so that there a missing php fails them.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { EntityType } from '../../src/model/change.js';
import type { DesiredObject } from '../../src/model/desired.js';
import { OWN_PLUGIN, OWN_PLUGIN_PACKAGE_PATH, ownPluginWarning } from '../../src/plan/own-plugin.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PLUGIN_DIR = join(ROOT, OWN_PLUGIN_PACKAGE_PATH);
/** Moodle 4.5.0's `$version`: the release the tool is tested on (the fixtures are 4.5.6, 2024100706). */
const MOODLE_45 = 2024100700;
/** lib/classes/component.php of Moodle 4.5. */
const MATURITY_STABLE = 200;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

const phpFound = spawnSync('php', ['--version'], { encoding: 'utf8' }).status === 0;
const phpRequired = process.env.L2M_REQUIRE_PHP === '1';
const NO_PHP = 'php not found: the PHP checks of moodle-plugin/ are skipped (apt-get install php-cli to run them)';

/** Skips the test where php is missing and not required; fails it where it is required (CI). */
function needPhp(skip: (condition: boolean, note?: string) => void): void {
  if (!phpFound && phpRequired) throw new Error('L2M_REQUIRE_PHP=1 but php cannot be run (is php-cli installed?)');
  skip(!phpFound, NO_PHP);
}

/** Runs `code` with PHP, the file as $argv[1]; returns what it printed as JSON. */
function runPhp(code: string, file: string): unknown {
  const run = spawnSync('php', ['-r', code, '--', file], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout);
}

describe('the Moodle plugin moodle-plugin/local_ldap2moodle', () => {
  it('holds a version file and the English strings, nothing else', () => {
    expect(filesUnder(PLUGIN_DIR)).toEqual(['lang/en/local_ldap2moodle.php', 'version.php']);
  });

  it('is shipped in the npm package', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain(OWN_PLUGIN_PACKAGE_PATH.split('/')[0]);
  });

  it('has PHP files that are valid (php -l)', ({ skip }) => {
    needPhp(skip);
    const files = filesUnder(PLUGIN_DIR).filter((f) => f.endsWith('.php'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const file of files) {
      const lint = spawnSync('php', ['-l', join(PLUGIN_DIR, file)], { encoding: 'utf8' });
      expect({ file, status: lint.status, output: lint.stdout + lint.stderr }).toMatchObject({
        file,
        status: 0,
        output: expect.stringContaining('No syntax errors detected'),
      });
    }
  });

  it('declares in version.php what Moodle 4.5’s installer checks (upgrade_plugins)', ({ skip }) => {
    needPhp(skip);
    const plugin = runPhp(
      `define('MOODLE_INTERNAL', 1); define('MATURITY_STABLE', ${MATURITY_STABLE});` +
        ' $plugin = new stdClass(); require $argv[1]; echo json_encode($plugin);',
      join(PLUGIN_DIR, 'version.php'),
    ) as Record<string, unknown>;
    // The component names the directory the plugin is installed in: local/ldap2moodle.
    expect(plugin.component).toBe(OWN_PLUGIN);
    expect(OWN_PLUGIN_PACKAGE_PATH.endsWith(`/${OWN_PLUGIN}`)).toBe(true);
    expect(plugin.version).toEqual(expect.any(Number));
    expect(String(plugin.version)).toMatch(/^20[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])[0-9]{2}$/);
    expect(plugin.requires).toBe(MOODLE_45);
    expect(plugin.maturity).toBe(MATURITY_STABLE);
    expect(plugin.release).toEqual(expect.stringMatching(/\S/));
  });

  it('names the plugin in its English strings', ({ skip }) => {
    needPhp(skip);
    const strings = runPhp(
      "define('MOODLE_INTERNAL', 1); $string = []; require $argv[1]; echo json_encode($string);",
      join(PLUGIN_DIR, 'lang/en/local_ldap2moodle.php'),
    ) as Record<string, unknown>;
    expect(strings.pluginname).toEqual(expect.stringContaining('ldap2moodle'));
  });
});

describe('the plan’s note on the missing plugin', () => {
  const object = (key: string, values: DesiredObject['values'] = {}): DesiredObject => ({
    key,
    dn: `cn=${key},dc=example`,
    values,
    sourceDigest: 'sha256:0',
  });
  const cohort = (key: string, component: string): DesiredObject => object(key, { name: key, component });
  const desired = (objects: Partial<Record<EntityType, DesiredObject[]>>) =>
    new Map(Object.entries(objects) as [EntityType, DesiredObject[]][]);
  const assignments = [object('system/manager/u1'), object('system/manager/u2'), object('system/manager/u3')];

  it('counts the cohorts carrying the component, says what Moodle shows and how to install the plugin', () => {
    const warning = ownPluginWarning({
      desired: desired({ cohort: [cohort('A', OWN_PLUGIN), cohort('B', OWN_PLUGIN), cohort('C', 'local_other')] }),
      roleAssignmentComponent: '',
      installed: false,
    });
    expect(warning).toBe(
      '2 cohorts carry the component "local_ldap2moodle", which is not installed in Moodle: its cohort list shows ' +
        'their component as "[[pluginname]]". The plugin is optional and ships with ldap2moodle ' +
        "(moodle-plugin/local_ldap2moodle/): copy that directory to local/ldap2moodle in Moodle's directory and run " +
        'php admin/cli/upgrade.php',
    );
  });

  it('counts role assignments only when roleAssignments.component is the plugin', () => {
    const both = ownPluginWarning({
      desired: desired({ cohort: [cohort('A', OWN_PLUGIN)], role_assignment: assignments }),
      roleAssignmentComponent: OWN_PLUGIN,
      installed: false,
    });
    expect(both).toMatch(/^1 cohort and 3 role assignments carry the component "local_ldap2moodle".*\[\[pluginname]]/);
    const assignmentsOnly = ownPluginWarning({
      desired: desired({ role_assignment: assignments }),
      roleAssignmentComponent: OWN_PLUGIN,
      installed: false,
    });
    expect(assignmentsOnly).toMatch(/^3 role assignments carry .*: they name a plugin Moodle does not know\. /);
    const plain = ownPluginWarning({
      desired: desired({ role_assignment: assignments }),
      roleAssignmentComponent: '',
      installed: false,
    });
    expect(plain).toBeUndefined();
    const single = ownPluginWarning({
      desired: desired({ cohort: [cohort('A', OWN_PLUGIN)] }),
      roleAssignmentComponent: '',
      installed: false,
    });
    expect(single).toMatch(/^1 cohort carries .*: its cohort list shows its component as "\[\[pluginname]]"\. /);
  });

  it('says nothing when the plugin is installed or nothing carries its name', () => {
    const objects = desired({ cohort: [cohort('A', OWN_PLUGIN)], role_assignment: assignments });
    expect(ownPluginWarning({ desired: objects, roleAssignmentComponent: OWN_PLUGIN, installed: true })).toBe(
      undefined,
    );
    expect(ownPluginWarning({ desired: desired({}), roleAssignmentComponent: OWN_PLUGIN, installed: false })).toBe(
      undefined,
    );
  });
});
