/**
 * `report --format markdown`: the figures of the monitoring page as Markdown tables, for tools that take text
 * (a wiki page, a ticket, a chat message). The same figures as `report --json`, fewer details.
 */
import { formatDuration } from '../duration.js';
import { printable } from '../printable.js';
import type { Monitoring, UsersBy } from './monitoring.js';
import { COUNT_ACTIONS } from './monitoring.js';

/** Held and skipped entries of the last run listed before "… and N more". */
const LISTED = 50;

export function monitoringMarkdown(m: Monitoring): string {
  const out: string[] = [];
  const day = (iso: string): string => `${iso.slice(0, 16).replace('T', ' ')} UTC`;
  out.push('### ldap2moodle — sync report', '');
  out.push(
    `${m.runs.length} run${m.runs.length === 1 ? '' : 's'} since ${day(m.since)}, generated ${day(m.generated_at)}` +
      (m.redacted ? '; personal values pseudonymised.' : '; **not redacted**.'),
    '',
  );
  if (m.runs.length === 0) {
    out.push(`No runs since ${m.since.slice(0, 10)}.`, '');
    return out.join('\n');
  }

  out.push('#### Runs', '');
  out.push(
    ...mdTable(
      ['Run (UTC)', 'Command', 'Outcome', 'Exit', 'Duration', 'Changes', 'Held', 'Skipped'],
      m.runs.map((r) => [
        r.run,
        r.command,
        r.outcome,
        String(r.exit_code),
        formatDuration(r.duration_ms),
        num(r.changes),
        num(r.held),
        num(r.skipped),
      ]),
      [false, false, false, true, true, true, true, true],
    ),
    '',
  );
  out.push(...usersTable('Users per profile', m.users_by_profile, m));
  out.push(...usersTable('Users per establishment', m.users_by_establishment, m));

  const totals = new Map<string, number>();
  for (const h of m.held_skipped)
    totals.set(`${h.kind}\u0000${h.reason}`, (totals.get(`${h.kind}\u0000${h.reason}`) ?? 0) + h.count);
  if (totals.size > 0) {
    out.push('#### Held and skipped entries by reason', '');
    const rows = [...totals]
      .sort(([, a], [, b]) => b - a)
      .map(([key, n]) => {
        const [kind = '', reason = ''] = key.split('\u0000');
        return [kind, reason, num(n)];
      });
    out.push(...mdTable(['Kind', 'Reason', 'Entries'], rows, [false, false, true]), '');
  }

  const last = m.last_run;
  if (last !== null) {
    out.push(`#### Last run: ${last.command}, ${last.outcome} (exit ${last.exit_code})`, '');
    out.push(`Run \`${last.run_id}\`, started ${day(last.started_at)}, took ${formatDuration(last.duration_ms)}.`, '');
    for (const e of last.errors) out.push(`- **Error** \`${e.code}\`: ${inline(e.message)}`);
    for (const g of last.guards) out.push(`- **Guard** \`${g.code}\`: ${inline(g.message)}`);
    if (last.errors.length + last.guards.length > 0) out.push('');
    if (last.counts.length > 0) {
      const actions = COUNT_ACTIONS.filter((a) => last.counts.some((row) => row.counts[a] !== undefined));
      out.push(
        ...mdTable(
          ['Entity', ...actions],
          last.counts.map((row) => [row.entity, ...actions.map((a) => num(row.counts[a]))]),
          [false, ...actions.map(() => true)],
        ),
        '',
      );
    }
    const listed = <T>(title: string, items: readonly T[], line: (item: T) => string): void => {
      if (items.length === 0) return;
      out.push(`**${title} (${items.length})**`, '');
      for (const item of items.slice(0, LISTED)) out.push(`- ${line(item)}`);
      if (items.length > LISTED) out.push(`- … and ${items.length - LISTED} more (\`report --json\` has them all)`);
      out.push('');
    };
    listed(
      'Held',
      last.held,
      (h) => `\`${h.address}\`${h.dn === undefined ? '' : ` (\`${h.dn}\`)`}: ${inline(h.reason)}`,
    );
    listed('Skipped', last.skipped, (s) => `${s.entity} \`${s.dn}\`: ${inline(s.reason)}`);
    listed('Warnings', last.warnings, (w) => inline(w));
    listed(
      'postApply',
      last.post_apply,
      (p) => `\`${p.command}\`: ${p.skipped ?? `exit ${p.exit_code ?? p.signal ?? '?'}`}`,
    );
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function usersTable(title: string, points: readonly UsersBy[], m: Monitoring): string[] {
  if (points.length === 0) return [];
  const keys = [...new Set(points.map((p) => p.key))].sort((a, b) => a.localeCompare(b));
  const runs = m.runs.filter((r) => points.some((p) => p.run_id === r.run_id));
  const rows = runs.map((r) => [
    r.run,
    ...keys.map((k) => {
      const n = points.find((p) => p.run_id === r.run_id && p.key === k)?.users;
      return n === undefined ? '—' : num(n);
    }),
  ]);
  return [`#### ${title}`, '', ...mdTable(['Run (UTC)', ...keys], rows, [false, ...keys.map(() => true)]), ''];
}

function mdTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  right: readonly boolean[],
): string[] {
  const line = (cells: readonly string[]): string => `| ${cells.map(cellText).join(' | ')} |`;
  return [
    line(headers),
    `|${headers.map((_, i) => (right[i] === true ? ' ---: ' : ' --- ')).join('|')}|`,
    ...rows.map(line),
  ];
}

const num = (n: number | undefined): string => (n === undefined ? '—' : n.toLocaleString('en-US'));

/** A table cell: pipes escaped, one line. */
function cellText(text: string): string {
  return printable(text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' '));
}

/** Text in a list item: one line, no HTML. */
function inline(text: string): string {
  return printable(text.replace(/\r?\n/g, ' ')).replace(/[<>]/g, (c) => (c === '<' ? '&lt;' : '&gt;'));
}
