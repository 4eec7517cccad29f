/**
 * The pieces of HTML the monitoring page is made of (src/report/page.ts, page-charts.ts): escaped text, tables whose
 * cells carry their numbers in `data-*` attributes (for screen readers, print and tests), outcome badges.
 */
import { printableLines } from '../printable.js';
import type { CountAction } from './monitoring.js';
import type { RunOutcome } from './run-report-schema.js';

/** Outcomes in the order of the legend, with colours that read as what they mean (and differ in lightness). */
export const OUTCOME_COLOURS: Readonly<Record<RunOutcome, string>> = {
  applied: '#1a7f37',
  'no-changes': '#8c959f',
  planned: '#0969da',
  'post-apply-failed': '#bf8700',
  declined: '#8250df',
  refused: '#d1242f',
  failed: '#6e1116',
};

/** Outcomes after which the changes are in Moodle. */
export const WRITTEN: ReadonlySet<RunOutcome> = new Set(['applied', 'post-apply-failed']);

export function table(headers: readonly string[], rows: readonly string[], name: string): string {
  const head = headers.map((h) => `<th scope="col">${esc(h)}</th>`).join('');
  return `<div class="table"><table data-table="${name}"><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table></div>`;
}

/** A number in a cell, its raw value in `data-value` and the attributes that say what it counts. */
export function cell(value: number, attributes: Readonly<Record<string, string>>, shown = number(value)): string {
  const attrs = Object.entries(attributes)
    .map(([k, v]) => ` data-${k}="${esc(v)}"`)
    .join('');
  return `<td class="num"${attrs} data-value="${value}">${shown}</td>`;
}

export function countCell(counts: Partial<Record<CountAction, number>>, action: CountAction): string {
  const n = counts[action];
  return n === undefined ? `<td class="none" data-action="${action}">—</td>` : cell(n, { action });
}

export function outcomeBadge(outcome: RunOutcome): string {
  return `<span class="badge" data-outcome="${outcome}" style="--c:${OUTCOME_COLOURS[outcome]}">${esc(outcome)}</span>`;
}

export const roundedToMinutes = (ms: number): number => Math.round(ms / 60_000) * 60_000;
export const number = (n: number): string => n.toLocaleString('en-US');
export const seconds = (ms: number): string => (ms / 1000).toFixed(ms < 10_000 ? 2 : 1);
export const plural = (n: number, noun: string): string => `${number(n)} ${noun}${n === 1 ? '' : 's'}`;

export function time(iso: string): string {
  return `<time datetime="${esc(iso)}">${esc(new Date(iso).toISOString().slice(0, 16).replace('T', ' '))} UTC</time>`;
}

/** A DN that wraps at its commas, between RDNs, rather than inside a name. */
export function dnHtml(dn: string): string {
  return esc(dn).replace(/,/g, ',<wbr>');
}

/** HTML text: markup escaped, and control characters shown (a page can be saved and `cat` to a terminal). */
export function esc(text: string): string {
  return printableLines(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
