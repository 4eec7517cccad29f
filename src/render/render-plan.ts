/**
 * One place that chooses the view of a plan (Terraform's views.NewPlan): human for the terminal, JSON for
 * scripts, Markdown for merge-request comments; JSON and Markdown redacted unless asked otherwise.
 */
import type { Plan, PlanHeader } from '../model/plan.js';
import { TOOL_VERSION } from '../version.js';
import { HumanPlanView } from './human.js';
import { JsonPlanView } from './json.js';
import { MarkdownPlanView } from './markdown.js';
import { redactPlan } from './redact.js';
import type { PlanView } from './view.js';

export const PLAN_FORMATS = ['human', 'json', 'markdown'] as const;
export type PlanFormat = (typeof PLAN_FORMATS)[number];

export interface PlanOutputRequest {
  readonly format: PlanFormat;
  readonly limit: number | undefined;
  /** Markdown only: the longest output (MARKDOWN_DEFAULT_MAX_CHARS when undefined). */
  readonly maxChars?: number | undefined;
  readonly noRedact: boolean;
  readonly full: boolean;
  readonly color: boolean;
  /** The salt of the pseudonyms (`L2M_REDACT_SALT`); the default one when absent. */
  readonly salt?: string;
  /** Human only: the plan's warnings in it (default), or left to the caller's log (false). */
  readonly warnings?: boolean;
  /** Human only (`--quiet`): the counts table and the summary line, not the changes one by one. */
  readonly summaryOnly?: boolean;
}

/**
 * The plan as the options ask. Personal data leaves the terminal only on request: json and markdown (files,
 * CI logs, comments) are redacted unless `--no-redact`; the human view is for the operator and never is.
 */
export function renderPlan(plan: Plan, header: PlanHeader, request: PlanOutputRequest): string {
  const { format } = request;
  const redact = format !== 'human' && !request.noRedact;
  const shown = redact ? redactPlan(plan, request.salt) : plan;
  const limit = request.limit === undefined ? {} : { limit: request.limit };
  const view: PlanView =
    format === 'json'
      ? new JsonPlanView(TOOL_VERSION)
      : format === 'markdown'
        ? new MarkdownPlanView({
            full: request.full,
            redacted: redact,
            ...limit,
            ...(request.maxChars === undefined ? {} : { maxChars: request.maxChars }),
          })
        : new HumanPlanView({
            color: request.color,
            full: request.full,
            ...limit,
            ...(request.warnings === undefined ? {} : { warnings: request.warnings }),
            ...(request.summaryOnly === undefined ? {} : { summaryOnly: request.summaryOnly }),
          });
  return view.render(shown, header);
}
