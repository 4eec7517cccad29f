/**
 * A machine-readable rendering of a plan for scripts and CI. Versioned: consumers check `format_version`.
 */
import { addressOf } from '../model/change.js';
import type { Plan, PlanHeader } from '../model/plan.js';
import { isRefused } from '../model/plan.js';
import { formatAllowRemovals } from '../plan/guards.js';
import { summarize } from '../plan/plan.js';
import type { PlanView } from './view.js';

export const PLAN_JSON_FORMAT_VERSION = '0.2';

export class JsonPlanView implements PlanView {
  constructor(private readonly toolVersion: string) {}

  render(plan: Plan, header: PlanHeader): string {
    const document = {
      format_version: PLAN_JSON_FORMAT_VERSION,
      tool_version: this.toolVersion,
      source: header.source,
      target: header.target,
      ...(header.state === undefined ? {} : { state: header.state }),
      summary: summarize(plan.changes),
      changes: plan.changes.map((ch) => ({
        address: ch.address,
        type: ch.entity,
        action: ch.action,
        moodle_id: ch.moodleId,
        dn: ch.dn,
        before: ch.before,
        after: ch.after,
        ...(ch.refs === undefined
          ? {}
          : {
              refs: Object.fromEntries(
                Object.entries(ch.refs).flatMap(([name, ref]) =>
                  ref === undefined ? [] : [[name, addressOf(ref.entity, ref.key)]],
                ),
              ),
            }),
        reason: ch.reason,
      })),
      skipped: plan.skipped,
      warnings: plan.warnings,
      purge_needed: plan.purgeNeeded,
      refused: isRefused(plan),
      ...(plan.guards === undefined
        ? {}
        : {
            guards: {
              allow_removals: formatAllowRemovals(plan.guards.allowance) || null,
              allow_empty_source: plan.guards.allowance.emptySource === true,
              violations: plan.guards.violations,
            },
          }),
    };
    return `${JSON.stringify(document, null, 2)}\n`;
  }
}
