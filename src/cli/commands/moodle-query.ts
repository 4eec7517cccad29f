import { Command, Option, UsageError } from 'clipanion';
import { DurationError, formatDuration, openSpecMoodle, parseDuration, printable, UserError } from '../../index.js';
import { SpecCommand } from '../base-command.js';

const READ_ONLY = /^\s*(select|with)\b/i;
/** Writes a file on the database server, which no read-only transaction prevents (MariaDB, MySQL). */
const WRITES_FILE = /\binto\s+(outfile|dumpfile)\b/i;

export class MoodleQueryCommand extends SpecCommand {
  static override paths = [['moodle-query']];
  static override usage = Command.Usage({
    description: "Run a read-only SQL query on the spec's Moodle database and print the rows",
    details:
      'For looking inside a Moodle, the embedded one especially. `{name}` stands for a prefixed table (`{user}` is `mdl_user`). Only one SELECT (or WITH … SELECT) is accepted, and it runs in a read-only transaction that is rolled back (the server refuses any write: `setval`, a data-modifying WITH, `SELECT … INTO OUTFILE` is refused here), on a session of its own that ends with it, and is stopped after --timeout (MariaDB, MySQL, PostgreSQL; the embedded Moodle runs in-process and cannot be interrupted). A refused or failed query is MOODLE_QUERY_FAILED.',
    examples: [
      [
        'Users of the demo',
        '$0 moodle-query --spec ldap2moodle-demo/ldap2moodle.yaml "SELECT id, username FROM {user}"',
      ],
    ],
  });

  sql = Option.String({ name: 'sql' });
  timeout = Option.String('--timeout', '30s', {
    description: 'Stop the query after this long (e.g. 10s, 5m; default 30s)',
  });

  async run(): Promise<number> {
    if (!READ_ONLY.test(this.sql) || this.sql.replace(/;\s*$/, '').includes(';')) {
      throw new UsageError('moodle-query runs one SELECT statement; nothing else');
    }
    if (WRITES_FILE.test(this.sql)) {
      throw new UsageError('moodle-query does not write files on the database server (INTO OUTFILE, INTO DUMPFILE)');
    }
    let timeoutMs: number;
    try {
      timeoutMs = parseDuration(this.timeout);
    } catch (error) {
      if (error instanceof DurationError) throw new UsageError(`--timeout: ${error.message}`);
      throw error;
    }
    if (timeoutMs <= 0) throw new UsageError('--timeout must be more than 0');
    const loaded = await this.loadSpec();
    const db = await openSpecMoodle(loaded);
    try {
      const rows = await db.readOnlyQuery(this.sql.replace(/;\s*$/, ''), timeoutMs).catch((error: unknown) => {
        if (error instanceof UserError) throw error;
        // The database refused the query (a typo, a write in a read-only transaction, the timeout): the user's
        // SQL, not a bug here.
        const reason = error instanceof Error ? error.message : String(error);
        throw new UserError(
          'MOODLE_QUERY_FAILED',
          `the database refused the query (read-only, at most ${formatDuration(timeoutMs)}): ${reason}`,
          [],
          { cause: error },
        );
      });
      this.context.stdout.write(formatTable(rows));
      return 0;
    } finally {
      await db.close();
    }
  }
}

function formatTable(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return '(no rows)\n';
  const columns = Object.keys(rows[0] ?? {});
  // A value a directory once wrote raw (an escape sequence, a newline) is shown, not acted on by the terminal.
  const cell = (v: unknown): string => (v === null || v === undefined ? 'NULL' : printable(String(v)));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join(' | ')
      .trimEnd();
  return `${[line(columns), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n')}\n(${rows.length} row${rows.length === 1 ? '' : 's'})\n`;
}
