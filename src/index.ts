/**
 * ldap2moodle's library API: what the CLI is a thin shell over (it imports nothing else), and what tests and
 * other tools call. Grouped as the pipeline runs: spec → source → rules → Moodle → plan → render → apply → state.
 */

// Apply and state.
export type { CommitInput, CommitOptions } from './apply/commit.js';
export { commitPlan } from './apply/commit.js';
export type { PostApplyResult } from './apply/post-apply.js';
export { formatPostApplyReport, postApplySucceeded } from './apply/post-apply.js';
export type { DemoResult } from './demo.js';
export { runDemo } from './demo.js';
export type { EntityFacts } from './entities/catalog.js';
export { CATALOG, ENTITY_ORDER, factsOf } from './entities/catalog.js';
// Moodle.
export type { MoodleSnapshot } from './entities/read-moodle.js';
export { readMoodle } from './entities/read-moodle.js';
// Errors, shared types and the entity catalogue.
export type { Diagnostic, ErrorCode, SourcePosition } from './errors.js';
export { EXIT, EXIT_CODES_HELP, formatDiagnostic, InternalError, UserError } from './errors.js';
export { printable, printableLines } from './printable.js';
// Synthetic directories (tests, benchmarks, `generate`).
export type { ChurnOptions, ChurnSummary, Directory, GenerateOptions } from './generate/generate.js';
export {
  churnDirectory,
  directoryLdif,
  generateDirectory,
  MIN_PEOPLE_PER_ESTABLISHMENT,
  PEOPLE_PER_ESTABLISHMENT,
  writeDirectoryLdif,
} from './generate/generate.js';
export type { ActionFacts, Change, ChangeAction, EntityType, Fields, FieldValue, ObjectRef } from './model/change.js';
export { ACTION_ORDER, ACTIONS, addressOf, writes } from './model/change.js';
export type { DesiredObject } from './model/desired.js';
export type { GuardAllowance, GuardViolation, Plan, PlanGuards, PlanHeader, RemovalLimit } from './model/plan.js';
export { isRefused } from './model/plan.js';
export type { SkippedEntry } from './model/skipped.js';
export type { State, StateObject } from './model/state.js';
export { DurationError, formatDuration, parseDuration } from './duration.js';
export type { LockNotice, LockPolicy } from './lock-wait.js';
export type { ForceUnlockResult } from './moodle/apply-lock.js';
export { forceUnlock } from './moodle/apply-lock.js';
export type { LockOptions } from './moodle/connect.js';
export { lockPolicyOf, openMoodle, openSpecMoodle } from './moodle/connect.js';
export type { MoodleDatabase, Queryable } from './moodle/database.js';
export { readSite } from './moodle/site.js';
// What a run tells about itself (logs, progress, run reports).
export type { RunEvent, RunObserver, SqlKind, Stage } from './observe/events.js';
export { allOf, NO_OBSERVER, STAGE_LABELS, STAGES } from './observe/events.js';
export type { LogFields, LogFormat, LogLevel, LogVerbosity, RunLogOptions, StageFigures } from './observe/log.js';
export { formatCount, formatMs, LOG_FORMATS, RunLog, searchLine, sqlLine, stageLine } from './observe/log.js';
// The whole job.
export type { ApplyOptions, ApplyResult } from './pipeline/apply.js';
export { applyPlanFile, applySpec } from './pipeline/apply.js';
export type { PlanOptions, PlanResult } from './pipeline/plan.js';
export {
  checkSpec,
  PlanRefusedError,
  planFromInputs,
  planSpec,
  readAndPlan,
  readEntries,
  userConstraints,
  withSpecResources,
} from './pipeline/plan.js';
export type { RemovalCount } from './plan/guards.js';
export {
  allowanceOptions,
  checkGuards,
  GUARD_NAMES,
  parseAllowRemovals,
  removalCounts,
  removalLimits,
} from './plan/guards.js';
export type { PlanSummary } from './plan/plan.js';
export { computePlan, summarize } from './plan/plan.js';
// Plan (pure), saved plans.
export type { PlanFile, PlanFingerprints } from './plan/plan-file.js';
export type { PlanKey } from './plan/plan-file.js';
export {
  PLAN_KEY_MIN_BYTES,
  UNSIGNED_PLAN_WARNING,
  planFileOf,
  planKeyFrom,
  planOfFile,
  readPlanFile,
  signPlanFile,
  staleReasons,
  verifyPlanSignature,
  writePlanFile,
} from './plan/plan-file.js';
// Render.
export { HumanPlanView, summaryLine } from './render/human.js';
export { JsonPlanView } from './render/json.js';
export { MARKDOWN_DEFAULT_MAX_CHARS, MarkdownPlanView } from './render/markdown.js';
export { DEFAULT_REDACT_SALT, pseudonym, redactPlan, redactSaltFrom } from './render/redact.js';
export type { PlanFormat, PlanOutputRequest } from './render/render-plan.js';
export { PLAN_FORMATS, renderPlan } from './render/render-plan.js';
export type { PlanView } from './render/view.js';
// Run reports, metrics and the monitoring page.
export { monitoringMarkdown } from './report/markdown-report.js';
export type { MetricsInputs } from './report/metrics.js';
export { lastSuccessIn, METRICS, renderMetrics, writeMetricsFile } from './report/metrics.js';
export {
  newestRunReport,
  runReportName,
  runReportNames,
  runReportPath,
  writeRunReport,
} from './report/report-files.js';
export type { RunEnd, RunIdentity } from './report/run-recorder.js';
export { entityName, RunRecorder, SUCCESS_OUTCOMES } from './report/run-recorder.js';
export type { LastRun, Monitoring, MonitoringOptions } from './report/monitoring.js';
export { MONITORING_FORMAT_VERSION, monitoring } from './report/monitoring.js';
export type { PageOptions } from './report/page.js';
export { renderPage } from './report/page.js';
export type { ReadReports, ReadReportsOptions } from './report/read-reports.js';
export { readReports, runReportProblem } from './report/read-reports.js';
export type { RunOutcome, RunReport } from './report/run-report-schema.js';
export { runReportSchema } from './report/run-report-schema.js';
export type { SavedRun, SaveRunOptions } from './report/save-run.js';
export { saveRun, specName } from './report/save-run.js';
export { writeReportOutput } from './report/write-output.js';
// Rules (pure).
export type { CompiledRules, DesiredState, DirectoryEntries } from './rules/rules.js';
export { compileRules, desiredState } from './rules/rules.js';
export { compileTemplate } from './rules/template.js';
export { compileUserRules, desiredUsers } from './rules/users.js';
// Source.
export type { LdapEntry } from './source/entry.js';
export { readLdifFile } from './source/ldif/parse-ldif.js';
export { checkSourceFiles, openSource } from './source/open-source.js';
export type { SearchRequest, Source } from './source/source.js';
// Spec.
export type { LoadedSpec } from './spec/load.js';
export { loadSpec } from './spec/load.js';
export type { Spec, SpecInput } from './spec/schema.js';
export { readState } from './state/read-state.js';
export { reportsDir, reportsKept, statePath } from './state/state-path.js';
export { pendingPath } from './state/write-state.js';

export { TOOL_VERSION } from './version.js';
