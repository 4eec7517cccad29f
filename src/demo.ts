/**
 * `ldap2moodle demo`: the whole job on a fresh embedded Moodle, with no server and no configuration — the
 * fictional collège of examples/college: plan, apply, a short tour of what was written, plan again.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commitPlan } from './apply/commit.js';
import { UserError } from './errors.js';
import type { PlanResult } from './pipeline/plan.js';
import { lockPolicyOf } from './moodle/connect.js';
import type { RunObserver } from './observe/events.js';
import { NO_OBSERVER } from './observe/events.js';
import { readAndPlan, withSpecResources } from './pipeline/plan.js';
import type { PlanView } from './render/view.js';
import type { LoadedSpec } from './spec/load.js';
import { loadSpec } from './spec/load.js';

const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'college');
const MARKER = '.ldap2moodle-demo';

export interface DemoOutput {
  write(text: string): void;
}

export interface DemoResult {
  readonly dir: string;
  readonly first: PlanResult;
  readonly second: PlanResult;
  readonly users: number;
  readonly elapsedMs: number;
}

/** A demo directory is wiped at each run; any other non-empty directory is refused, never overwritten. */
async function prepareDir(dir: string): Promise<void> {
  if (existsSync(dir)) {
    const entries = await readdir(dir);
    if (entries.length > 0 && !entries.includes(MARKER)) {
      throw new UserError('STATE_WRITE', `${dir} exists and is not a demo directory; choose another with --dir`);
    }
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, MARKER), 'made by `ldap2moodle demo`; deleted and remade at each run\n');
}

/** withSpecResources with the spec's lock policy, the source and the database watched by `observer`. */
function watchedResources<T>(
  loaded: LoadedSpec,
  observer: RunObserver,
  fn: Parameters<typeof withSpecResources<T>>[1],
): Promise<T> {
  return withSpecResources(loaded, fn, lockPolicyOf(loaded), observer);
}

/** `observer` watches both plans and the apply (the CLI's log and progress). */
export async function runDemo(
  dir: string,
  view: PlanView,
  out: DemoOutput,
  observer: RunObserver = NO_OBSERVER,
): Promise<DemoResult> {
  const started = Date.now();
  const where = resolve(dir);
  await prepareDir(where);
  for (const file of ['directory.ldif', 'levels.csv', 'subjects.csv'])
    await copyFile(join(EXAMPLE, file), join(where, file));
  await writeFile(join(where, 'ldap2moodle.yaml'), await readFile(join(EXAMPLE, 'ldap2moodle.yaml'), 'utf8'));
  const loaded = await loadSpec(join(where, 'ldap2moodle.yaml'));
  const shown = relative(process.cwd(), where) || '.';
  return watchedResources(loaded, observer, async (source, db, rules) => {
    out.write(`Demo: a fresh embedded Moodle 4.5 in ${shown}/moodle, fed from ${shown}/directory.ldif.\n\n`);
    const first = await readAndPlan(loaded, source, db, { repair: true, observer }, rules);
    out.write(view.render(first.plan, first.header));
    out.write('\nApplying it (as `ldap2moodle apply --auto-approve` would)…\n');
    await commitPlan(loaded.hash, db, first, { observer });
    const [users] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM {user} WHERE auth = ? AND deleted = 0', [
      loaded.spec.users.auth,
    ]);
    const sample = await db.query<{ username: string; firstname: string; lastname: string }>(
      'SELECT username, firstname, lastname FROM {user} WHERE auth = ? ORDER BY id LIMIT 3',
      [loaded.spec.users.auth],
    );
    const count = Number(users?.n ?? 0);
    const spec = `${shown}/ldap2moodle.yaml`;
    const countOf = async (sql: string): Promise<number> => Number((await db.query<{ n: number }>(sql))[0]?.n ?? 0);
    const categories = await countOf("SELECT COUNT(*) AS n FROM {course_categories} WHERE idnumber <> ''");
    const cohorts = await countOf("SELECT COUNT(*) AS n FROM {cohort} WHERE component = 'local_ldap2moodle'");
    const members = await countOf(
      "SELECT COUNT(*) AS n FROM {cohort_members} m JOIN {cohort} c ON c.id = m.cohortid WHERE c.component = 'local_ldap2moodle'",
    );
    const data = await countOf('SELECT COUNT(*) AS n FROM {user_info_data}');
    const courses = await countOf("SELECT COUNT(*) AS n FROM {course} WHERE format <> 'site'");
    const enrolments = await countOf('SELECT COUNT(*) AS n FROM {user_enrolments}');
    const groups = await countOf('SELECT COUNT(*) AS n FROM {groups}');
    out.write(
      [
        '',
        `Moodle now has ${count} ${loaded.spec.users.auth} users, each with its user context, for example:`,
        ...sample.map((u) => `  ${u.username}  ${u.firstname} ${u.lastname}`),
        `and ${categories} course categories, ${cohorts} cohorts with ${members} members, ${data} profile field values,`,
        `${courses} courses with ${enrolments} enrolments and ${groups} groups.`,
        '',
        `The state (what ldap2moodle manages) is in ${shown}/ldap2moodle.state.json.`,
        'Look inside:',
        `  npx ldap2moodle moodle-query --spec ${spec} "SELECT id, username, firstname, lastname FROM {user}"`,
        `  npx ldap2moodle moodle-query --spec ${spec} "SELECT idnumber, name FROM {cohort}"`,
        `  npx ldap2moodle moodle-query --spec ${spec} "SELECT shortname, fullname FROM {course}"`,
        `  npx ldap2moodle plan --spec ${spec}`,
        `Edit ${shown}/directory.ldif (a name, a class, remove a person) and plan again to see the diff.`,
        '',
        'Planning again:',
        '',
      ].join('\n'),
    );
    const second = await readAndPlan(loaded, source, db, { repair: true, observer }, rules);
    out.write(view.render(second.plan, second.header));
    return { dir: where, first, second, users: count, elapsedMs: Date.now() - started };
  });
}
