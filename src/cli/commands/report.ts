import { resolve } from 'node:path';
import { Option, UsageError } from 'clipanion';
import {
  DurationError,
  formatDuration,
  monitoring,
  monitoringMarkdown,
  parseDuration,
  printable,
  readReports,
  redactSaltFrom,
  renderPage,
  reportsDir,
  writeReportOutput,
} from '../../index.js';
import { SpecCommand } from '../base-command.js';

const FORMATS = ['html', 'json', 'markdown'] as const;
type ReportFormat = (typeof FORMATS)[number];

export class ReportCommand extends SpecCommand {
  static override paths = [['report']];
  static override usage = SpecCommand.Usage({
    description: 'Make the monitoring page (or its figures as JSON or Markdown) from the run reports',
    details:
      "Reads the run reports that every plan and apply writes next to the state (the spec's `reports.dir`, or --dir) and " +
      'makes one self-contained HTML page of the last --since (default 90d): the outcome of every run, the duration of ' +
      'each stage, the changes per entity, the users per profile and per establishment over time, the held and skipped ' +
      'entries by reason, and the last run in detail. The page has its charts inline (SVG) and opens with no network ' +
      'and no script: mail it, publish it, print it. Never connects to the directory or to Moodle; reads the spec ' +
      'without its secrets. DNs, addresses and personal values are pseudonymised as in `plan --format markdown` unless ' +
      '--no-redact (L2M_REDACT_SALT changes the salt). `--format json` (or --json) prints the same figures for other ' +
      'tools, `--format markdown` as tables; both to stdout unless --out. A report that cannot be read is left out with ' +
      'a warning; --since 0 keeps every run.',
    examples: [
      ['The page of the last 90 days', '$0 report --spec site.yaml --out sync-report.html'],
      ['The last week, from a copied reports directory', '$0 report --dir site.reports --since 7d --out week.html'],
      ['The figures for a script', "$0 report --spec site.yaml --json | jq '.runs[-1].outcome'"],
      ['Tables for a wiki page', '$0 report --spec site.yaml --format markdown > sync.md'],
      ['The page on stdout', '$0 report --spec site.yaml --out - > sync-report.html'],
    ],
  });

  dir = Option.String('--dir', {
    description: "Read the run reports of this directory instead of the spec's (the spec is then not read)",
  });
  since = Option.String('--since', '90d', {
    description: 'Keep the runs started within this long (30d, 12h, 1d12h; 0 for every run); default 90d',
  });
  out = Option.String('--out,-o', {
    description: 'Write to this file, atomically (`-` for stdout); required for html, stdout otherwise',
  });
  format = Option.String('--format', { description: `Output format: ${FORMATS.join(', ')} (default html)` });
  json = Option.Boolean('--json', false, { description: 'Same as --format json' });
  noRedact = Option.Boolean('--no-redact', false, {
    description: 'Show DNs, addresses and personal values as they are (the page then holds personal data)',
  });

  async run(): Promise<number> {
    const format = this.outputFormat();
    if (format === 'html' && this.out === undefined) {
      throw new UsageError('html needs --out FILE (for example --out sync-report.html), or --out - for stdout');
    }
    const windowMs = this.windowMs();
    const now = new Date();
    const since = new Date(windowMs === 0 ? 0 : now.getTime() - windowMs);
    const dir = this.dir !== undefined ? resolve(this.dir) : reportsDir(await this.loadSpec({ resolveSecrets: false }));

    const read = await readReports(dir, windowMs === 0 ? {} : { since });
    for (const warning of read.warnings) this.context.stderr.write(`Warning: ${printable(warning)}\n`);
    if (!read.found)
      this.context.stderr.write(`Warning: no reports directory at ${printable(dir)}: no run has written one yet\n`);
    const figures = monitoring(read.reports, {
      since,
      now,
      redact: !this.noRedact,
      ...(this.noRedact ? {} : { salt: redactSaltFrom(this.context.env) }),
    });

    const text =
      format === 'json'
        ? `${JSON.stringify(figures, null, 2)}\n`
        : format === 'markdown'
          ? monitoringMarkdown(figures)
          : await renderPage(figures, { source: dir });
    if (this.out === undefined || this.out === '-') {
      this.context.stdout.write(text);
      return 0;
    }
    await writeReportOutput(this.out, text);
    const window = windowMs === 0 ? 'all time' : `the last ${formatDuration(windowMs)}`;
    this.context.stderr.write(
      `Wrote ${this.out}: ${read.reports.length} run${read.reports.length === 1 ? '' : 's'} of ${window}` +
        `${figures.redacted ? '' : ' (not redacted)'}\n`,
    );
    return 0;
  }

  private outputFormat(): ReportFormat {
    if (this.json) {
      if (this.format !== undefined && this.format !== 'json') {
        throw new UsageError(`--json and --format ${this.format} disagree: give one of them`);
      }
      return 'json';
    }
    const format = this.format ?? 'html';
    if (!(FORMATS as readonly string[]).includes(format)) {
      throw new UsageError(`unknown --format ${format}: use one of ${FORMATS.join(', ')}`);
    }
    return format as ReportFormat;
  }

  private windowMs(): number {
    try {
      return parseDuration(this.since);
    } catch (error) {
      if (error instanceof DurationError) throw new UsageError(`--since: ${error.message}`);
      throw error;
    }
  }
}
