/**
 * Saved plans (`plan --out FILE`, `apply FILE`): the exact changes, what they were computed from, and an
 * integrity digest of the whole. `apply FILE` applies those changes and nothing else, once it has checked that
 * nothing they depend on moved: the state (lineage, serial), Moodle's rows (a digest per entity), the spec and
 * the tool version. The directory read is recorded too, for the reader; a plan reviewed in a merge request is
 * applied as reviewed even if the directory moved on since (the next plan catches up), as Terraform does.
 *
 * Signed plans: when a key is configured (`L2M_PLAN_KEY`, or `L2M_PLAN_KEY_FILE` naming a file that holds it),
 * `plan --out` adds an HMAC-SHA-256 of the body (`signature`), and `apply FILE` refuses a plan that is unsigned
 * or signed with another key (PLAN_SIGNATURE). The integrity digest alone is unkeyed: it catches damage, not
 * an edit by someone who can recompute it. README, "Signed plans", has the threat model.
 *
 * The file holds directory data (names, e-mails: mode 0600, like the state) and never a secret: changes carry
 * Moodle values only, and the source and target are described without credentials.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readBoundedRegularFile } from '../bounded-read.js';
import { writeFileAtomically } from '../atomic-file.js';
import { UserError } from '../errors.js';
import type { Change, EntityType } from '../model/change.js';
import type { DesiredObject } from '../model/desired.js';
import type { Plan, PlanGuards, PlanHeader } from '../model/plan.js';
import type { SkippedEntry } from '../model/skipped.js';

/** 2: the guards' verdict and the allowance the plan was made with (`plan.guards`). */
export const PLAN_FILE_FORMAT_VERSION = 2;

/** What a plan was computed from; a saved plan applies only while these still hold. */
export interface PlanFingerprints {
  readonly tool_version: string;
  readonly spec_hash: string;
  readonly state: { readonly lineage: string; readonly serial: number };
  /** Digest of the Moodle rows read, per entity (see EntityReading.digest). */
  readonly moodle: Readonly<Partial<Record<EntityType, string>>>;
  /** Digest of the directory entries read (informational: not a reason to refuse). */
  readonly source: string;
}

export interface PlanFileBody {
  readonly format_version: number;
  readonly created_at: string;
  readonly header: PlanHeader;
  readonly fingerprints: PlanFingerprints;
  readonly plan: {
    readonly changes: readonly Change[];
    readonly skipped: readonly SkippedEntry[];
    readonly warnings: readonly string[];
    readonly desired_counts: Plan['desiredCounts'];
    readonly purge_needed: boolean;
    /** A scoped run's establishments (`--establishment`). */
    readonly scope?: readonly string[];
    /**
     * The guards' verdict when the plan was made, with the allowance it was made (and reviewed) with: a refused
     * plan is saved too, marked so; `apply FILE` checks the guards again with this allowance.
     */
    readonly guards: PlanGuards;
  };
  /** The desired objects, per entity: the state recorded after the apply is made of them. */
  readonly desired: Readonly<Partial<Record<EntityType, readonly DesiredObject[]>>>;
}

export interface PlanFile extends PlanFileBody {
  /** sha256 of the canonical JSON of everything but `integrity` and `signature`. */
  readonly integrity: string;
  /** `hmac-sha256:<hex>` of the same JSON with the plan key, when one was configured for `plan --out`. */
  readonly signature?: string;
}

const integrityOf = (body: PlanFileBody): string =>
  `sha256:${createHash('sha256').update(JSON.stringify(body)).digest('hex')}`;

/** A plan-signing key and where it came from (for messages: never the key itself). */
export interface PlanKey {
  readonly key: Buffer;
  readonly origin: string;
}

/** The shortest key accepted: 32 bytes, as `openssl rand -hex 32` gives twice over. */
export const PLAN_KEY_MIN_BYTES = 32;

const signatureOf = (body: PlanFileBody, key: PlanKey): string =>
  `hmac-sha256:${createHmac('sha256', key.key).update(JSON.stringify(body)).digest('hex')}`;

const keyProblem = (message: string): UserError => new UserError('PLAN_SIGNATURE', message);

/**
 * The plan key configured in `env`: `L2M_PLAN_KEY` (the key) or `L2M_PLAN_KEY_FILE` (a regular file holding it,
 * a final newline ignored); null when neither is set. Both at once, or a key shorter than 32 bytes, is an
 * error: a weak or ambiguous key would sign plans that anyone could forge.
 */
export async function planKeyFrom(env: Readonly<Record<string, string | undefined>>): Promise<PlanKey | null> {
  const inline = env.L2M_PLAN_KEY;
  const file = env.L2M_PLAN_KEY_FILE;
  if (inline !== undefined && inline !== '' && file !== undefined && file !== '') {
    throw keyProblem('both L2M_PLAN_KEY and L2M_PLAN_KEY_FILE are set: set one');
  }
  let key: PlanKey;
  if (inline !== undefined && inline !== '') {
    key = { key: Buffer.from(inline, 'utf8'), origin: 'L2M_PLAN_KEY' };
  } else if (file !== undefined && file !== '') {
    let bytes: Buffer;
    try {
      bytes = await readBoundedRegularFile(file, 64 * 1024);
    } catch (error) {
      throw keyProblem(`cannot read the plan key file ${file} (L2M_PLAN_KEY_FILE): ${(error as Error).message}`);
    }
    const end = bytes.at(-1) === 0x0a ? (bytes.at(-2) === 0x0d ? bytes.length - 2 : bytes.length - 1) : bytes.length;
    key = { key: bytes.subarray(0, end), origin: `L2M_PLAN_KEY_FILE (${file})` };
  } else {
    return null;
  }
  if (key.key.length < PLAN_KEY_MIN_BYTES) {
    throw keyProblem(
      `the plan key from ${key.origin} is ${key.key.length} bytes long; use at least ${PLAN_KEY_MIN_BYTES} random bytes (e.g. \`openssl rand -hex 32\`)`,
    );
  }
  return key;
}

/** What `apply FILE` says when no plan key is configured. */
export const UNSIGNED_PLAN_WARNING =
  'no plan key is configured (L2M_PLAN_KEY or L2M_PLAN_KEY_FILE): the saved plan was applied without a ' +
  'signature check, so whoever could write the plan file could have changed it (README, "Signed plans")';

/** `file` signed with `key` (the signature covers what the integrity digest covers). */
export function signPlanFile(file: PlanFile, key: PlanKey): PlanFile {
  const { integrity, signature: _old, ...body } = file;
  return { ...body, integrity, signature: signatureOf(body, key) };
}

/**
 * Checks a read plan's signature against `key`: unsigned, or signed with another key, is PLAN_SIGNATURE.
 * The comparison takes the same time wherever the first difference is.
 */
export function verifyPlanSignature(path: string, file: PlanFile, key: PlanKey): void {
  const { integrity: _integrity, signature, ...body } = file;
  if (signature === undefined) {
    throw keyProblem(
      `${path} is not signed, and a plan key is configured (${key.origin}): it was not made by \`plan --out\` with this key. Nothing was written.`,
    );
  }
  const expected = Buffer.from(signatureOf(body, key), 'utf8');
  const given = Buffer.from(String(signature), 'utf8');
  const same = given.length === expected.length && timingSafeEqual(given, expected);
  if (!same) {
    throw keyProblem(
      `the signature of ${path} does not match its content with the plan key of ${key.origin}: it was edited after \`plan --out\`, or signed with another key. Nothing was written.`,
    );
  }
}

export function planFileOf(
  plan: Plan,
  header: PlanHeader,
  fingerprints: PlanFingerprints,
  desired: ReadonlyMap<EntityType, readonly DesiredObject[]>,
  now: Date = new Date(),
): PlanFile {
  const body: PlanFileBody = {
    format_version: PLAN_FILE_FORMAT_VERSION,
    created_at: now.toISOString(),
    header,
    fingerprints,
    plan: {
      changes: plan.changes,
      skipped: plan.skipped,
      warnings: plan.warnings,
      desired_counts: plan.desiredCounts,
      purge_needed: plan.purgeNeeded,
      ...(plan.scope === undefined ? {} : { scope: plan.scope }),
      guards: plan.guards ?? { sourceEntries: 0, allowance: {}, violations: [] },
    },
    desired: Object.fromEntries(desired),
  };
  return { ...body, integrity: integrityOf(body) };
}

/** The plan a saved file holds, in the shape renderers and the apply read. */
export function planOfFile(file: PlanFile): Plan {
  return {
    changes: file.plan.changes,
    skipped: file.plan.skipped,
    warnings: file.plan.warnings,
    desiredCounts: file.plan.desired_counts,
    purgeNeeded: file.plan.purge_needed,
    ...(file.plan.scope === undefined ? {} : { scope: file.plan.scope }),
    guards: file.plan.guards,
  };
}

/** Writes a saved plan, signed when `key` is given. */
export async function writePlanFile(path: string, file: PlanFile, key: PlanKey | null = null): Promise<void> {
  const written = key === null ? file : signPlanFile(file, key);
  try {
    await writeFileAtomically(path, `${JSON.stringify(written)}\n`);
  } catch (error) {
    throw new UserError(
      'PLAN_WRITE',
      `cannot write the plan file ${path}: ${(error as Error).message}; no plan file was written`,
      [],
      { cause: error },
    );
  }
}

const invalid = (path: string, why: string, cause?: unknown): UserError =>
  new UserError(
    'PLAN_INVALID',
    `${path} is not a usable saved plan: ${why}. Nothing was written; make a new one with \`plan --out\`.`,
    [],
    cause === undefined ? undefined : { cause },
  );

/**
 * Reads and verifies a saved plan: JSON, format, integrity (a truncated or hand-edited file is refused), and its
 * signature when `key` is given.
 */
export async function readPlanFile(path: string, key: PlanKey | null = null): Promise<PlanFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UserError('PLAN_INVALID', `cannot read the plan file ${path}: ${(error as Error).message}`, [], {
      cause: error,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalid(path, `it is not JSON (${(error as Error).message}); was it truncated?`, error);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid(path, 'not a plan file');
  const { integrity, signature, ...body } = parsed as Partial<PlanFile>;
  if (typeof body.format_version !== 'number') throw invalid(path, 'it has no format_version');
  if (body.format_version !== PLAN_FILE_FORMAT_VERSION) {
    throw invalid(
      path,
      `its format is version ${body.format_version}, this ldap2moodle reads version ${PLAN_FILE_FORMAT_VERSION}`,
    );
  }
  if (typeof integrity !== 'string' || integrity !== integrityOf(body as PlanFileBody)) {
    throw invalid(path, 'its integrity digest does not match its content (edited by hand, or damaged)');
  }
  const missing = shapeProblem(body);
  if (missing !== null) throw invalid(path, `it lacks ${missing} (not made by this ldap2moodle?)`);
  if (signature !== undefined && typeof signature !== 'string') throw invalid(path, 'its signature is not a string');
  if (key !== null) verifyPlanSignature(path, parsed as PlanFile, key);
  return parsed as PlanFile;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The first part of a plan file's body that is missing or of the wrong kind, or null. */
function shapeProblem(body: Record<string, unknown>): string | null {
  const { header, fingerprints, plan, desired } = body;
  if (typeof body.created_at !== 'string') return 'created_at';
  if (!isObject(header) || typeof header.source !== 'string' || typeof header.target !== 'string') return 'header';
  if (!isObject(fingerprints)) return 'fingerprints';
  const { state } = fingerprints;
  if (typeof fingerprints.tool_version !== 'string' || typeof fingerprints.spec_hash !== 'string') {
    return 'fingerprints.tool_version or spec_hash';
  }
  if (!isObject(state) || typeof state.lineage !== 'string' || typeof state.serial !== 'number') {
    return 'fingerprints.state';
  }
  if (!isObject(fingerprints.moodle) || typeof fingerprints.source !== 'string') return 'fingerprints.moodle';
  if (!isObject(plan)) return 'plan';
  for (const list of ['changes', 'skipped', 'warnings'] as const) if (!Array.isArray(plan[list])) return `plan.${list}`;
  if (!isObject(plan.desired_counts) || typeof plan.purge_needed !== 'boolean') return 'plan.desired_counts';
  const { scope } = plan;
  if (scope !== undefined && !(Array.isArray(scope) && scope.every((u) => typeof u === 'string'))) return 'plan.scope';
  const { guards } = plan;
  if (
    !isObject(guards) ||
    typeof guards.sourceEntries !== 'number' ||
    !isObject(guards.allowance) ||
    !Array.isArray(guards.violations)
  ) {
    return 'plan.guards';
  }
  const bad = (plan.changes as unknown[]).findIndex(
    (c) => !isObject(c) || typeof c.address !== 'string' || typeof c.entity !== 'string' || !isObject(c.after),
  );
  if (bad >= 0) return `a well-formed plan.changes[${bad}]`;
  if (!isObject(desired) || !Object.values(desired).every(Array.isArray)) return 'desired';
  return null;
}

/** What moved since a saved plan was made; empty when it still applies. */
export function staleReasons(saved: PlanFingerprints, now: PlanFingerprints): string[] {
  const reasons: string[] = [];
  if (saved.tool_version !== now.tool_version) {
    reasons.push(`the plan was made by ldap2moodle ${saved.tool_version}, this is ${now.tool_version}`);
  }
  if (saved.spec_hash !== now.spec_hash)
    reasons.push('the spec (or a file it extends, or a CSV file of its transcodings) changed since the plan');
  if (saved.state.lineage !== now.state.lineage || saved.state.serial !== now.state.serial) {
    reasons.push(
      saved.state.lineage === now.state.lineage || saved.state.lineage === ''
        ? `the state moved from serial ${saved.state.serial} to ${now.state.serial} (another apply ran since the plan)`
        : `the state is of another lineage (${now.state.lineage || 'none'}, the plan's is ${saved.state.lineage})`,
    );
  }
  for (const [entity, digest] of Object.entries(saved.moodle) as [EntityType, string][]) {
    if (now.moodle[entity] !== digest) {
      reasons.push(
        `Moodle's ${entity.replace('_', ' ')} rows changed since the plan (edited in Moodle, or by another tool)`,
      );
    }
  }
  return reasons;
}
