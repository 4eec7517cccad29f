/**
 * ldap2moodle's library API: what the CLI is a thin shell over, and what tests and other tools call.
 */
export type { ApplyOptions, ApplyResult } from './apply/apply.js';
export { applySpec, commitPlan } from './apply/apply.js';
export type { DemoResult } from './demo.js';
export { runDemo } from './demo.js';
export type { Diagnostic, ErrorCode, SourcePosition } from './errors.js';
export { formatDiagnostic, InternalError, UserError } from './errors.js';
export { churnDirectory, directoryLdif, generateDirectory, writeDirectoryLdif } from './generate/generate.js';
export type { Change, ChangeAction, EntityType } from './model/change.js';
export type { Plan, PlanHeader } from './model/plan.js';
export type { State, StateObject } from './model/state.js';
export type { MoodleSnapshot, PlanOptions, PlanResult } from './pipeline.js';
export {
  checkSpec,
  openSource,
  openSpecMoodle,
  planFromInputs,
  planSpec,
  readAndPlan,
  readEntries,
  readMoodle,
  statePath,
  withSpecResources,
} from './pipeline.js';
export type { PlanSummary } from './plan/plan.js';
export { computePlan, summarize } from './plan/plan.js';
export { HumanPlanView, summaryLine } from './render/human.js';
export { JsonPlanView } from './render/json.js';
export type { PlanView } from './render/view.js';
export type { CompiledRules, DesiredState, DirectoryEntries } from './rules/rules.js';
export { compileRules, desiredState } from './rules/rules.js';
export { compileTemplate } from './rules/template.js';
export { compileUserRules, desiredUsers } from './rules/users.js';
export type { LdapEntry } from './source/entry.js';
export type { SearchRequest, Source } from './source/source.js';
export type { LoadedSpec } from './spec/load.js';
export { loadSpec } from './spec/load.js';
export type { Spec, SpecInput } from './spec/schema.js';
export { readState } from './state/read-state.js';
export { TOOL_VERSION } from './version.js';
