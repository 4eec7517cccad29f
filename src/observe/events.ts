/**
 * What a run tells about itself while it works, for whoever watches: the log (`--verbose`, `--log-format json`),
 * the progress shown on a terminal, the run report and its metrics. The pipeline emits events and never knows
 * who listens; an event carries counts, times and the shape of a request, never a secret or a personal value.
 */

/** The stages of a run, in the order they start (source and Moodle reads overlap). */
export const STAGES = ['source', 'moodle', 'planning', 'writing', 'state', 'postApply'] as const;
export type Stage = (typeof STAGES)[number];

/** What a stage is, for humans ("Read the directory in 4.1 s"). */
export const STAGE_LABELS: Readonly<Record<Stage, string>> = {
  source: 'Read the directory',
  moodle: 'Read Moodle',
  planning: 'Planned',
  writing: 'Wrote to Moodle',
  state: 'Wrote the state',
  postApply: 'Ran postApply',
};

/** The first word of an SQL statement, lower-cased: what kind of work it did. */
export type SqlKind = 'select' | 'insert' | 'update' | 'delete' | 'other';

export type RunEvent =
  | {
      readonly type: 'stage-start';
      readonly stage: Stage;
      /** How much work the stage has to do, when known before it starts (changes to write). */
      readonly total?: number;
    }
  | {
      readonly type: 'stage-end';
      readonly stage: Stage;
      readonly ms: number;
      /** False when the stage ended by an error. */
      readonly ok: boolean;
    }
  /** One directory search, finished: where, how and how many entries it returned. */
  | {
      readonly type: 'search';
      /** The source (`ldap://host:389`, a file name): no credentials. */
      readonly source: string;
      readonly base: string;
      readonly scope: 'base' | 'one' | 'sub';
      readonly filter: string;
      readonly attributes: readonly string[];
      /** The same search as an `ldapsearch` command line, for the log (bind password never on it). */
      readonly ldapsearch: string;
      readonly entries: number;
      readonly ms: number;
    }
  /** Work done so far in a long stage: entries read, rows read, changes written. */
  | {
      readonly type: 'progress';
      readonly stage: Stage;
      readonly done: number;
      readonly total?: number;
    }
  /** One SQL statement, finished: its kind, its first table, rows returned or affected. Never its values. */
  | {
      readonly type: 'sql';
      readonly kind: SqlKind;
      /** The first table it names, without the prefix (`user`), or '' when none. */
      readonly table: string;
      readonly rows: number;
      readonly ms: number;
    };

/** Whoever watches a run. `emit` must not throw and must be quick: it runs inside the pipeline's loops. */
export interface RunObserver {
  emit(event: RunEvent): void;
}

/** Watches nothing: the default of every library function. */
export const NO_OBSERVER: RunObserver = { emit: () => undefined };

/** Every one of `observers`, in order. */
export function allOf(...observers: readonly RunObserver[]): RunObserver {
  const live = observers.filter((o) => o !== NO_OBSERVER);
  if (live.length === 0) return NO_OBSERVER;
  if (live.length === 1) return live[0] as RunObserver;
  return {
    emit: (event) => {
      for (const o of live) o.emit(event);
    },
  };
}

/** Runs `fn` as `stage`: a start event, then an end event with its duration, whether it resolves or throws. */
export async function inStage<T>(
  observer: RunObserver,
  stage: Stage,
  fn: () => T | Promise<T>,
  total?: number,
): Promise<T> {
  const started = performance.now();
  observer.emit({ type: 'stage-start', stage, ...(total === undefined ? {} : { total }) });
  let ok = false;
  try {
    const result = await fn();
    ok = true;
    return result;
  } finally {
    observer.emit({ type: 'stage-end', stage, ms: performance.now() - started, ok });
  }
}

/** The kind of an SQL statement, from its first word. */
export function sqlKind(sql: string): SqlKind {
  const word = /^\s*(\w+)/.exec(sql)?.[1]?.toLowerCase();
  return word === 'select' || word === 'insert' || word === 'update' || word === 'delete' ? word : 'other';
}

/** The first table a statement names in Moodle's `{table}` notation (`user`), or ''. */
export function sqlTable(sql: string): string {
  return /\{(\w+)\}/.exec(sql)?.[1] ?? '';
}
