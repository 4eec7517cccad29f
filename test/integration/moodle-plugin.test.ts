/**
 * The optional Moodle plugin local_ldap2moodle (moodle-plugin/), as Moodle sees it on every target: Moodle
 * counts a plugin as installed by its `version` row in config_plugins, which its installer writes
 * (upgrade_plugins → upgrade_plugin_savepoint → set_config('version', …, 'local_ldap2moodle')); the tests insert
 * that row as it would. The plan says once that the plugin is missing while the collège's cohorts (and here its
 * role assignments) carry its name; the tool's own rows under the same plugin name (the apply marker) live beside
 * the version row without mistaking it; and uninstalling the plugin, which deletes every config_plugins row of
 * the plugin (uninstall_plugin → unset_all_config_for_plugin), takes the marker with it, until the marker row is
 * written again from the state file as the README says.
 */
import { readFile } from 'node:fs/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { PlanResult } from '../../src/index.js';
import { OWN_PLUGIN_PACKAGE_PATH } from '../../src/plan/own-plugin.js';
import { dropStaleTestDatabases } from '../helpers/mariadb.js';
import { type CollegeSite, collegeSite, removeEntry } from '../helpers/sdet-college.js';
import { TARGETS } from '../helpers/targets.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
beforeAll(async () => {
  await dropStaleTestDatabases();
});

const NOTE = 'carry the component "local_ldap2moodle", which is not installed in Moodle';
/** The collège, its role assignments carrying the plugin's name too. */
const ASSIGNMENTS_TOO = {
  edits: [['roleAssignments:\n  rules:', 'roleAssignments:\n  component: local_ldap2moodle\n  rules:']] as const,
};

/** `$plugin->version` of the shipped version.php: what Moodle's installer records. */
async function shippedVersion(): Promise<string> {
  const text = await readFile(new URL(`../../${OWN_PLUGIN_PACKAGE_PATH}/version.php`, import.meta.url), 'utf8');
  const version = /^\$plugin->version\s*=\s*([0-9]{10});/m.exec(text)?.[1];
  if (version === undefined) throw new Error('no $plugin->version in version.php');
  return version;
}

const occurrences = (text: string, needle: string): number => text.split(needle).length - 1;
const pluginNotes = (planned: PlanResult): string[] => planned.plan.warnings.filter((w) => w.includes(NOTE));

describe.each(TARGETS)('the Moodle plugin local_ldap2moodle on %s', (target) => {
  async function site(options: Parameters<typeof collegeSite>[1] = {}): Promise<CollegeSite> {
    const s = await collegeSite(target, options);
    cleanups.push(() => s.remove());
    return s;
  }

  /** What Moodle's installer writes when the plugin is installed. */
  async function installPlugin(s: CollegeSite): Promise<void> {
    await s.t.insert('config_plugins', { plugin: 'local_ldap2moodle', name: 'version', value: await shippedVersion() });
  }

  /** The plugin's config_plugins rows but the lock's (taken and let go by each run), by name. */
  async function pluginRows(s: CollegeSite): Promise<Record<string, string>> {
    const rows = await s.t.query<{ name: string; value: string }>(
      "SELECT name, value FROM mdl_config_plugins WHERE plugin = 'local_ldap2moodle' AND name NOT IN ('lock', 'lock_holder') ORDER BY name",
    );
    return Object.fromEntries(rows.map((r) => [r.name, String(r.value)]));
  }

  it('plan says once that the plugin is missing, with the counts, and nothing once it is installed', async () => {
    const s = await site({ spec: ASSIGNMENTS_TOO });
    const planned = await s.plan();
    const cohorts = planned.desired.objects.get('cohort')?.length ?? 0;
    const assignments = planned.desired.objects.get('role_assignment')?.length ?? 0;
    expect(cohorts).toBeGreaterThan(0);
    expect(assignments).toBeGreaterThan(0);
    expect(pluginNotes(planned)).toEqual([
      `${cohorts} cohorts and ${assignments} role assignments ${NOTE}: its cohort list shows their component as ` +
        '"[[pluginname]]". The plugin is optional and ships with ldap2moodle (moodle-plugin/local_ldap2moodle/): ' +
        "copy that directory to local/ldap2moodle in Moodle's directory and run php admin/cli/upgrade.php",
    ]);
    const run = await s.cli(['plan', '--no-color', '--spec', s.specPath]);
    expect(run.code).toBe(0);
    // Warnings go to the log on stderr; stdout is the plan alone.
    expect(occurrences(run.stderr, NOTE)).toBe(1);
    expect(run.stdout).not.toContain(NOTE);
    expect(run.stderr).toMatch(
      new RegExp(`^Warning: ${cohorts} cohorts and ${assignments} role assignments carry`, 'm'),
    );

    await installPlugin(s);
    const installed = await s.plan();
    expect(installed.plan.changes).toHaveLength(planned.plan.changes.length);
    expect(installed.plan.warnings.filter((w) => w.includes('local_ldap2moodle'))).toEqual([]);
  }, 180_000);

  it('keeps its marker beside the plugin’s version row; uninstalling the plugin takes the marker with it', async () => {
    const s = await site();
    // The first apply, before the plugin is installed: the note once in its log (stderr), not in the plan.
    const first = await s.cli(['apply', '--auto-approve', '--no-color', '--spec', s.specPath]);
    expect(first.code).toBe(0);
    expect(occurrences(first.stderr, NOTE)).toBe(1);
    expect(first.stdout).not.toContain(NOTE);
    const applied = await pluginRows(s);
    expect(Object.keys(applied)).toEqual(['state']);
    const state = await s.state();
    expect(JSON.parse(applied.state ?? '')).toMatchObject({ lineage: state.lineage, serial: 1 });
    // The marker is no version row: the plugin is still missing for the plan.
    expect(pluginNotes(await s.plan())).toHaveLength(1);

    // Installed afterwards, as a site would: the marker stays as it was, the version row beside it.
    await installPlugin(s);
    const version = await shippedVersion();
    expect(await pluginRows(s)).toEqual({ ...applied, version });
    const again = await s.plan();
    expect(again.plan.changes).toEqual([]);
    expect(again.plan.warnings.filter((w) => w.includes('local_ldap2moodle'))).toEqual([]);

    // The next apply moves the marker on and leaves the plugin's version alone.
    await s.writeLdif(removeEntry(await s.ldif(), 'F4500188'));
    const second = await s.apply({ allowRemovals: 10 });
    expect(second.applied).toBe(true);
    const rows = await pluginRows(s);
    expect(rows.version).toBe(version);
    expect(JSON.parse(rows.state ?? '')).toMatchObject({ lineage: state.lineage, serial: 2 });
    expect((await s.state()).serial).toBe(2);

    // Moodle's uninstall deletes every config_plugins row of the plugin: the state is then refused as foreign.
    await s.t.execute("DELETE FROM mdl_config_plugins WHERE plugin = 'local_ldap2moodle'");
    const refused = await s.plan().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(UserError);
    expect(refused).toMatchObject({ code: 'STATE_INVALID' });
    expect((refused as UserError).message).toContain('the Moodle plugin local_ldap2moodle was uninstalled');

    // The README's way back: the marker row again, from the state file's lineage, serial and apply id.
    const kept = await s.state();
    await s.t.insert('config_plugins', {
      plugin: 'local_ldap2moodle',
      name: 'state',
      value: JSON.stringify({ lineage: kept.lineage, serial: kept.serial, apply_id: kept.apply_id }),
    });
    expect((await s.plan()).plan.changes).toEqual([]);
  }, 180_000);
});
