import { Command, Option, UsageError } from 'clipanion';
import { openSpecMoodle, UserError } from '../../index.js';
import { SpecCommand } from '../base-command.js';

const READ_ONLY = /^\s*(select|with)\b/i;

export class MoodleQueryCommand extends SpecCommand {
  static override paths = [['moodle-query']];
  static override usage = Command.Usage({
    description: "Run a read-only SQL query on the spec's Moodle database and print the rows",
    details:
      'For looking inside a Moodle, the embedded one especially. `{name}` stands for a prefixed table (`{user}` is `mdl_user`). Only SELECT (or WITH … SELECT) is accepted.',
    examples: [
      [
        'Users of the demo',
        '$0 moodle-query --spec ldap2moodle-demo/ldap2moodle.yaml "SELECT id, username FROM {user}"',
      ],
    ],
  });

  sql = Option.String({ name: 'sql' });

  async run(): Promise<number> {
    if (!READ_ONLY.test(this.sql) || this.sql.replace(/;\s*$/, '').includes(';')) {
      throw new UsageError('moodle-query runs one SELECT statement; nothing else');
    }
    const loaded = await this.loadSpec();
    const db = await openSpecMoodle(loaded);
    try {
      // Inside a transaction that is always rolled back: whatever the query is, nothing stays written.
      const rows = await db
        .transaction(async (tx) => {
          const result = await tx.query(this.sql.replace(/;\s*$/, ''));
          throw Object.assign(new Error('rollback'), { rows: result });
        })
        .catch((error: unknown) => {
          const rows = (error as { rows?: Record<string, unknown>[] }).rows;
          if (rows !== undefined) return rows;
          if (error instanceof UserError) throw error;
          // The database refused the query (a typo, a missing column): the user's SQL, not a bug here.
          const reason = error instanceof Error ? error.message : String(error);
          throw new UserError('MOODLE_QUERY_FAILED', `the database refused the query: ${reason}`, [], { cause: error });
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
  const cell = (v: unknown): string => (v === null || v === undefined ? 'NULL' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join(' | ')
      .trimEnd();
  return `${[line(columns), widths.map((w) => '-'.repeat(w)).join('-+-'), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n')}\n(${rows.length} row${rows.length === 1 ? '' : 's'})\n`;
}
