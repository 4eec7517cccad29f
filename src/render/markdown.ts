/**
 * The Markdown rendering of a plan, for merge-request comments (GitHub, GitLab): the summary as a title, a
 * table of counts per entity, then one collapsed `<details>` block per entity with its changes as `diff`
 * blocks, the skipped entries and the warnings. Redaction is the caller's (`redactPlan`): this view prints
 * what it is given.
 */

import { ENTITY_ORDER, factsOf } from '../entities/catalog.js';
import type { Change, FieldValue } from '../model/change.js';
import { addressOf } from '../model/change.js';
import type { Plan, PlanHeader } from '../model/plan.js';
import type { SkippedEntry } from '../model/skipped.js';
import { printable } from '../printable.js';
import { summaryLine } from './human.js';
import type { PlanView } from './view.js';
import { ENTITY_TITLES, planCounts, refusalLines } from './view.js';

export interface MarkdownViewOptions {
  /** Show every change instead of the first `limit` per entity. */
  readonly full?: boolean;
  /** Changes listed per entity (and skipped entries listed) before "… and N more"; default 50. */
  readonly limit?: number;
  /** The plan went through `redactPlan`: the comment says so, and how to see the real values. */
  readonly redacted?: boolean;
  /**
   * The longest output, in characters (default 65,000: GitHub refuses comments over 65,536); fewer changes
   * per entity are listed until it fits, with a note saying so. `full` lifts it.
   */
  readonly maxChars?: number;
}

export const MARKDOWN_DEFAULT_LIMIT = 50;
export const MARKDOWN_DEFAULT_MAX_CHARS = 65_000;

const TITLES = ENTITY_TITLES;

export class MarkdownPlanView implements PlanView {
  private readonly limit: number;

  constructor(private readonly options: MarkdownViewOptions = {}) {
    this.limit = options.full === true ? Number.POSITIVE_INFINITY : (options.limit ?? MARKDOWN_DEFAULT_LIMIT);
  }

  render(plan: Plan, header: PlanHeader): string {
    const table = this.summaryTable(plan);
    const whole = this.renderListing(plan, header, table, this.limit);
    const maxChars =
      this.options.full === true ? Number.POSITIVE_INFINITY : (this.options.maxChars ?? MARKDOWN_DEFAULT_MAX_CHARS);
    if (whole.length <= maxChars) return whole;
    // The largest per-entity listing that fits with its note (the length grows with the limit).
    const fitted = (limit: number): string => {
      const note = shortenedNote(plan, limit, maxChars);
      return `${this.renderListing(plan, header, table, limit).trimEnd()}\n\n${note}\n`;
    };
    let [low, high] = [0, Math.min(this.limit, plan.changes.length + plan.skipped.length)];
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      if (fitted(middle).length <= maxChars) low = middle;
      else high = middle - 1;
    }
    const best = fitted(low);
    if (best.length <= maxChars) return best;
    // Even the tables and warnings alone are too long: cut at a line, and say so.
    const note = shortenedNote(plan, 0, maxChars);
    const room = Math.max(0, maxChars - note.length - 2);
    const cut = best.lastIndexOf('\n', room);
    return `${best.slice(0, cut > 0 ? cut : room)}\n\n${note}\n`;
  }

  private renderListing(plan: Plan, header: PlanHeader, table: readonly string[], limit: number): string {
    const out: string[] = [];
    const refusal = refusalLines(plan);
    out.push(`### ldap2moodle — ${refusal === null ? '' : '⛔ REFUSED — '}${summaryLine(plan)}`, '');
    const state = header.state === undefined ? '' : `, state ${code(header.state)}`;
    out.push(`Source ${code(header.source)} → Moodle ${code(header.target)}${state}`, '');
    if (refusal !== null) {
      out.push(`> **${refusal.heading}**`, '>');
      for (const line of refusal.violations) out.push(`> - ${text(line)}`);
      out.push('>', `> ${text(refusal.allow)}`, '');
    }
    if (this.options.redacted === true) {
      out.push(
        '_Names, e-mails, usernames and DNs are pseudonymised (`u-…`, stable between plans); `--no-redact` shows them._',
        '',
      );
    }
    out.push(...table, '');

    for (const entity of ENTITY_ORDER) {
      const changes = plan.changes.filter((ch) => ch.entity === entity);
      if (changes.length === 0) continue;
      out.push(`<details><summary>${TITLES[entity]}: ${count(changes.length, 'change')}</summary>`, '');
      for (const change of changes.slice(0, limit)) out.push(...this.change(change), '');
      if (changes.length > limit) {
        out.push(
          `… and ${changes.length - limit} more ${TITLES[entity].toLowerCase()} changes (\`--full\` lists them all)`,
          '',
        );
      }
      out.push('</details>', '');
    }

    if (plan.skipped.length > 0) out.push(...this.skipped(plan.skipped, limit), '');
    if (plan.warnings.length > 0) {
      out.push(`#### Warnings (${plan.warnings.length})`, '');
      for (const warning of plan.warnings) out.push(`- ${text(warning)}`);
      out.push('');
    }
    if (plan.purgeNeeded) {
      out.push(
        "**Note:** this plan writes course categories, courses or groups, which Moodle's caches do not see until they are purged " +
          '(postApply runs the purge after the commit).',
        '',
      );
    }
    return `${out.join('\n').trimEnd()}\n`;
  }

  /** One row per entity with changes or desired objects; one column per action the plan uses. */
  private summaryTable(plan: Plan): string[] {
    const { actions, rows } = planCounts(plan, true);
    const lines = [
      `| Entity | ${[...actions, 'in the directory'].join(' | ')} |`,
      `| :-- | ${[...actions, ''].map(() => '--:').join(' | ')} |`,
    ];
    for (const row of rows) lines.push(`| ${TITLES[row.entity]} | ${[...row.counts, row.desired ?? ''].join(' | ')} |`);
    return lines;
  }

  private change(change: Change): string[] {
    const lines = [`**${code(change.address)}** ${change.action} — ${text(change.reason)}`];
    const body: string[] = [];
    const names = Object.keys(change.after);
    for (const name of change.before === null ? [] : Object.keys(change.before)) {
      if (!names.includes(name)) names.push(name);
    }
    const width = Math.max(0, ...names.map((n) => n.length));
    for (const name of names) {
      const label = name.padEnd(width);
      const before = change.before?.[name];
      const after = change.after[name];
      if (before !== undefined) body.push(`- ${label} = ${show(before)}`);
      if (after !== undefined) body.push(`+ ${label} = ${show(after)}`);
    }
    // What the object points at (a cohort's category, a category's parent), unless its values repeat its refs.
    if (!factsOf(change.entity).refsInValues) {
      for (const [name, ref] of Object.entries(change.refs ?? {})) {
        if (ref === undefined || names.includes(name)) continue;
        body.push(`  ${name} → ${printable(addressOf(ref.entity, ref.key))}`);
      }
    }
    if (body.length > 0) lines.push('', ...fenced('diff', body));
    return lines;
  }

  private skipped(skipped: readonly SkippedEntry[], limit: number): string[] {
    const lines = [
      `<details><summary>Skipped directory entries: ${skipped.length}</summary>`,
      '',
      '| DN | Left out | Reason |',
      '| :-- | :-- | :-- |',
    ];
    for (const s of skipped.slice(0, limit)) {
      const what = `${TITLES[s.entity].toLowerCase()}${s.kind === 'data' ? ' (data)' : ''}`;
      lines.push(`| ${cell(code(s.dn))} | ${what} | ${cell(text(s.reason))} |`);
    }
    if (skipped.length > limit) lines.push('', `… and ${skipped.length - limit} more (\`--full\` lists them all)`);
    lines.push('', '</details>');
    return lines;
  }
}

/** What a shortened comment leaves out, and how to get all of it. */
function shortenedNote(plan: Plan, limit: number, maxChars: number): string {
  const perEntity = new Map<string, number>();
  for (const change of plan.changes) perEntity.set(change.entity, (perEntity.get(change.entity) ?? 0) + 1);
  const listed = [...perEntity.values()].reduce((sum, n) => sum + Math.min(n, limit), 0);
  const skippedListed = Math.min(plan.skipped.length, limit);
  const left = [`${plan.changes.length - listed} of ${count(plan.changes.length, 'change')}`];
  if (plan.skipped.length > skippedListed)
    left.push(`${plan.skipped.length - skippedListed} of ${plan.skipped.length} skipped entries`);
  return (
    `**Shortened to fit a comment** (${maxChars.toLocaleString('en')} characters): ${left.join(' and ')} are not listed ` +
    '(the counts above are complete). `ldap2moodle show PLANFILE --format markdown --full` lists everything, ' +
    'for a file attached to the review or kept as a CI artifact.'
  );
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

const show = (v: FieldValue): string => printable(JSON.stringify(v));

/** Inline code that survives backticks in the value (CommonMark: a longer backtick run delimits). */
function code(raw: string): string {
  const value = printable(raw);
  const longest = Math.max(0, ...(value.match(/`+/g) ?? []).map((run) => run.length));
  const ticks = '`'.repeat(longest + 1);
  const pad = value.startsWith('`') || value.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${value}${pad}${ticks}`;
}

/** A fenced block whose fence no line of the content can close. */
function fenced(info: string, body: readonly string[]): string[] {
  const longest = Math.max(0, ...body.flatMap((line) => line.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}${info}`, ...body, fence];
}

/** Directory text as Markdown text: no markup, no HTML (a DN or a value could hold `<`, `*`, `_`…). */
function text(value: string): string {
  return printable(value.replace(/\s+/g, ' ')).replace(/[\\`*_[\]<>&|~#]/g, '\\$&');
}

/** Inside a table cell a pipe always splits the row, even in code: GitHub and GitLab want it escaped. */
function cell(value: string): string {
  return value.replace(/(?<!\\)\|/g, '\\|');
}
