/**
 * I/O: everything the plan needs to know of Moodle — the site's facts, then every entity's rows and facts in
 * ENTITY_ORDER (each may use what the ones before it read: members are read for the cohorts read).
 */
import type { CurrentIndex } from '../model/current.js';
import type { MoodleDatabase } from '../moodle/database.js';
import type { MoodleSite } from '../moodle/site.js';
import type { CompiledRules } from '../rules/rules.js';
import type { LoadedSpec } from '../spec/load.js';
import type { EntityReading } from './reading.js';
import { readEntities } from './reading.js';
import { entityReaders } from './registry.js';

export interface MoodleSnapshot {
  readonly site: MoodleSite;
  /** What was read for each entity, in ENTITY_ORDER. */
  readonly readings: readonly EntityReading[];
  readonly index: CurrentIndex;
}

/** Reads every entity of the spec's rules from a site whose facts were read (readSite). */
export async function readMoodle(
  db: MoodleDatabase,
  loaded: LoadedSpec,
  rules: CompiledRules,
  site: MoodleSite,
): Promise<MoodleSnapshot> {
  const budget = await db.statementBudget();
  const { readings, index } = await readEntities(entityReaders(loaded, rules, site), db, { site, budget });
  return { site, readings, index };
}
