/**
 * The human rendering of a plan, Terraform-like: grouped by entity, one block per object, a legend, and the
 * `Plan: …` summary line. Colour only when asked (the CLI decides from the TTY, `--no-color`, `NO_COLOR`).
 */
import type { ChalkInstance } from 'chalk';
import { Chalk } from 'chalk';
import { diffWordsWithSpace } from 'diff';
import { factsOf } from '../entities/catalog.js';
import type { Change, ChangeAction, FieldValue } from '../model/change.js';
import { ACTION_ORDER, ACTIONS, addressOf, writes } from '../model/change.js';
import type { Plan, PlanHeader } from '../model/plan.js';
import { summarize } from '../plan/plan.js';
import { printable } from '../printable.js';
import type { PlanView } from './view.js';
import { ENTITY_TITLES, planCounts, refusalLines } from './view.js';

export interface HumanViewOptions {
  readonly color: boolean;
  /** Show every change instead of the first `limit` per entity. */
  readonly full?: boolean;
  readonly limit?: number;
  /**
   * Print the plan's warnings in the plan (default). The CLI passes false and logs them on stderr instead, so
   * that stdout carries the plan alone and a warning reaches cron's mail even with --quiet.
   */
  readonly warnings?: boolean;
  /** `--quiet`: the header, the counts table and the summary line, without the changes one by one. */
  readonly summaryOnly?: boolean;
}

const TITLES = ENTITY_TITLES;

/** The colour of each action's symbol and verb (symbols and verbs are the model's: ACTIONS). */
const COLORS: Readonly<Record<ChangeAction, (c: ChalkInstance) => ChalkInstance>> = {
  create: (c) => c.green,
  adopt: (c) => c.cyan,
  update: (c) => c.yellow,
  unsuspend: (c) => c.green,
  suspend: (c) => c.red,
  release: (c) => c.magenta,
  delete: (c) => c.red,
  held: (c) => c.yellow.bold,
};

/**
 * Summary wording: "Plan: 3 to create, 1 to update, 2 to suspend." (Terraform's shape), held objects counted
 * too; with nothing to write, says so (and what is held).
 */
export function summaryLine(plan: Plan): string {
  const counts = summarize(plan.changes);
  const parts = ACTION_ORDER.filter((a) => counts[a] > 0).map((a) => `${counts[a]} ${ACTIONS[a].counted}`);
  if (plan.changes.some(writes)) return `Plan: ${parts.join(', ')}.`;
  return parts.length === 0
    ? 'No changes. Moodle matches the spec.'
    : `No changes to apply: ${parts.join(', ')} (left as they are in Moodle; see above).`;
}

// JSON escapes C0 controls; printable adds DEL and C1, which JSON leaves raw.
const show = (v: FieldValue | undefined): string => (v === undefined ? '(none)' : printable(JSON.stringify(v)));

/** Over this many changes, the totals are printed before the changes as well as after them. */
export const SUMMARY_FIRST_OVER = 40;

export class HumanPlanView implements PlanView {
  private readonly c: ChalkInstance;
  private readonly limit: number;
  private readonly warnings: boolean;
  private readonly summaryOnly: boolean;

  constructor(options: HumanViewOptions) {
    this.c = new Chalk({ level: options.color ? 1 : 0 });
    this.limit = options.full === true ? Number.POSITIVE_INFINITY : (options.limit ?? 20);
    this.warnings = options.warnings ?? true;
    this.summaryOnly = options.summaryOnly ?? false;
  }

  render(plan: Plan, header: PlanHeader): string {
    const { c } = this;
    const out: string[] = [];
    out.push(
      c.bold(`ldap2moodle plan`) + c.dim(` — source ${printable(header.source)} → Moodle ${printable(header.target)}`),
    );
    if (header.state !== undefined) out.push(c.dim(`state ${printable(header.state)}`));
    out.push('');
    if (this.warnings) {
      for (const warning of plan.warnings) out.push(`${c.yellow.bold('Warning:')} ${printable(warning)}`);
      if (plan.warnings.length > 0) out.push('');
    }

    const table = plan.changes.length > 0 ? this.countsTable(plan) : [];
    if (this.summaryOnly) {
      if (table.length > 0) out.push(...table, '');
      if (plan.skipped.length > 0) {
        out.push(
          `${c.yellow.bold('Skipped directory entries:')} ${plan.skipped.length} (run without --quiet to list them)`,
          '',
        );
      }
      out.push(c.bold(summaryLine(plan)));
      out.push(...this.refusal(plan));
      return `${out.join('\n')}\n`;
    }
    // A long plan would push its totals off the screen: they come first too.
    if (plan.changes.length > SUMMARY_FIRST_OVER) out.push(c.bold(summaryLine(plan)), ...table, '');

    if (plan.changes.length > 0) {
      const used = ACTION_ORDER.filter((a) => plan.changes.some((ch) => ch.action === a));
      out.push('Actions are indicated with the following symbols:');
      for (const a of used) out.push(`  ${COLORS[a](c)(ACTIONS[a].symbol)} ${ACTIONS[a].verb}`);
      out.push('');
    }

    const entities = [...new Set(plan.changes.map((ch) => ch.entity))];
    for (const entity of entities) {
      const changes = plan.changes.filter((ch) => ch.entity === entity);
      const desired = plan.desiredCounts[entity];
      // Entries this entity could not make; data problems (a value left out) are listed below, not counted here.
      const skipped = plan.skipped.filter((s) => s.entity === entity && s.kind === undefined).length;
      const facts = [desired !== undefined ? `${desired} in the directory` : '', skipped ? `${skipped} skipped` : '']
        .filter(Boolean)
        .join(', ');
      out.push(
        c.bold(`${TITLES[entity]}: ${changes.length} change${changes.length === 1 ? '' : 's'}`) +
          (facts ? c.dim(` (${facts})`) : ''),
      );
      for (const change of changes.slice(0, this.limit)) out.push(...this.change(change));
      if (changes.length > this.limit) {
        out.push(
          c.dim(
            `  … and ${changes.length - this.limit} more ${TITLES[entity].toLowerCase()} changes (use --full to see them all)`,
          ),
        );
      }
      out.push('');
    }

    if (plan.skipped.length > 0) {
      out.push(c.yellow.bold(`Skipped directory entries (${plan.skipped.length}):`));
      for (const s of plan.skipped.slice(0, this.limit)) {
        const what = s.entity === 'user' ? '' : `${TITLES[s.entity].toLowerCase()}: `;
        out.push(`  ${c.yellow('-')} ${printable(s.dn)}: ${what}${printable(s.reason)}`);
      }
      if (plan.skipped.length > this.limit)
        out.push(c.dim(`  … and ${plan.skipped.length - this.limit} more (use --full)`));
      out.push('');
    }

    if (plan.purgeNeeded) {
      out.push(
        `${c.cyan.bold('Note:')} this plan writes course categories, courses or groups, which Moodle's caches do not see until they are purged ` +
          '(postApply runs the purge after the commit).',
      );
      out.push('');
    }
    if (table.length > 0) out.push(...table, '');
    out.push(c.bold(summaryLine(plan)));
    out.push(...this.refusal(plan));
    return `${out.join('\n')}\n`;
  }

  /** The refusal's lines, after the summary line (none when the guards let the plan through). */
  private refusal(plan: Plan): string[] {
    const { c } = this;
    const refusal = refusalLines(plan);
    if (refusal === null) return [];
    return [
      '',
      c.red.bold(refusal.heading),
      ...refusal.violations.map((line) => `  ${c.red('-')} ${printable(line)}`),
      refusal.allow,
    ];
  }

  /** Changes per entity and action (the actions the plan uses), and what the directory holds: the Markdown table. */
  private countsTable(plan: Plan): string[] {
    const { actions, rows: counted } = planCounts(plan, false);
    const header = ['', ...actions, 'in the directory'];
    const rows = counted.map((row) => [TITLES[row.entity], ...row.counts.map(String), String(row.desired ?? '')]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: readonly string[]): string =>
      cells
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join('  ')
        .trimEnd();
    return [this.c.dim(line(header)), ...rows.map(line)];
  }

  private change(change: Change): string[] {
    const { c } = this;
    const style = ACTIONS[change.action];
    const paint = COLORS[change.action](c);
    const lines = [
      `  ${paint(style.symbol)} ${c.bold(printable(change.address))} ${paint(style.verb)}${c.dim(` — ${printable(change.reason)}`)}`,
    ];
    const names = Object.keys(change.after);
    const refs = Object.entries(change.refs ?? {}).filter(([name]) => !names.includes(name));
    const width = Math.max(0, ...names.map((n) => n.length), ...refs.map(([n]) => n.length));
    for (const name of names) {
      const after = change.after[name];
      const label = name.padEnd(width);
      if (change.before === null) {
        lines.push(`      ${label} = ${show(after)}`);
        continue;
      }
      lines.push(`      ${label} : ${this.valueChange(change.before[name], after)}`);
    }
    // What the object points at (a cohort's category, a category's parent): by address, it may be new too.
    for (const [name, ref] of refs) {
      if (ref === undefined || factsOf(change.entity).refsInValues) continue;
      lines.push(`      ${name.padEnd(width)} → ${c.dim(printable(addressOf(ref.entity, ref.key)))}`);
    }
    return lines;
  }

  /** `"old" → "new"`; long values get an inline word diff instead, so the change is visible. */
  private valueChange(before: FieldValue | undefined, after: FieldValue | undefined): string {
    const { c } = this;
    const b = show(before);
    const a = show(after);
    if (b.length + a.length <= 80 || typeof before !== 'string' || typeof after !== 'string') {
      return `${c.red(b)} → ${c.green(a)}`;
    }
    const parts = diffWordsWithSpace(before, after).map((p) => {
      if (p.added) return c.green(`{+${printable(p.value)}+}`);
      if (p.removed) return c.red(`[-${printable(p.value)}-]`);
      return printable(p.value);
    });
    return `"${parts.join('')}"`;
  }
}
