/**
 * The optional Moodle plugin `local_ldap2moodle` (moodle-plugin/ in the package). Cohorts and role assignments
 * may carry its name as their component; without the plugin installed, Moodle has no `pluginname` string for it
 * and its cohort list shows `[[pluginname]]`. The plan says so once per run, with how to install it.
 */
import type { EntityType } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import { MARKER_PLUGIN } from '../moodle/marker.js';

/** The plugin's component: the name the tool keeps its apply marker and lock rows under in config_plugins, too. */
export const OWN_PLUGIN = MARKER_PLUGIN;

/** Where the plugin lies in the package, and where it goes in Moodle's directory. */
export const OWN_PLUGIN_PACKAGE_PATH = 'moodle-plugin/local_ldap2moodle';
export const OWN_PLUGIN_MOODLE_PATH = 'local/ldap2moodle';

export interface OwnPluginInput {
  readonly desired: ReadonlyMap<EntityType, readonly DesiredObject[]>;
  /** `roleAssignments.component`: role assignments carry no component of their own in their values. */
  readonly roleAssignmentComponent: string;
  /** The site fact: a `version` row for the plugin in config_plugins. */
  readonly installed: boolean;
}

/** The warning, or undefined when the plugin is installed or nothing would carry its name. */
export function ownPluginWarning(input: OwnPluginInput): string | undefined {
  if (input.installed) return undefined;
  const cohorts = (input.desired.get('cohort') ?? []).filter((o) => o.values.component === OWN_PLUGIN).length;
  const assignments =
    input.roleAssignmentComponent === OWN_PLUGIN ? (input.desired.get('role_assignment') ?? []).length : 0;
  if (cohorts === 0 && assignments === 0) return undefined;
  const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;
  const carriers = [
    cohorts > 0 ? count(cohorts, 'cohort') : '',
    assignments > 0 ? count(assignments, 'role assignment') : '',
  ].filter((part) => part !== '');
  const one = cohorts + assignments === 1;
  // Moodle 4.5 names a cohort's component with get_string('pluginname', …); a role assignment's it lists as is.
  const shown =
    cohorts > 0
      ? `its cohort list shows ${one ? 'its' : 'their'} component as "[[pluginname]]"`
      : `${one ? 'it names' : 'they name'} a plugin Moodle does not know`;
  return (
    `${carriers.join(' and ')} ${one ? 'carries' : 'carry'} the component "${OWN_PLUGIN}", which is not installed in Moodle: ${shown}. ` +
    `The plugin is optional and ships with ldap2moodle (${OWN_PLUGIN_PACKAGE_PATH}/): copy that directory to ` +
    `${OWN_PLUGIN_MOODLE_PATH} in Moodle's directory and run php admin/cli/upgrade.php`
  );
}
