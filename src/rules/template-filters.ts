/**
 * The filters of the template language (`{attr|lower|split("$", 2)}`) and the context they evaluate in: each
 * filter maps or reduces the list of values of a placeholder. Argument kinds are declared here and checked by
 * the parser in template.ts, which also documents the language.
 */
import type { LdapEntry } from '../source/entry.js';
import { normalizeUai } from './sdet/structures.js';
import type { Transcoding } from './transcoding.js';

export type Values = readonly string[];
export type FilterArg = string | number;

export interface CompileOptions {
  /** Named templates for `{@name}`. */
  readonly templates?: Readonly<Record<string, string>>;
  /** Names `map("…")` may use; any name when absent (checked at evaluation then). */
  readonly transcodings?: ReadonlySet<string>;
}

export interface TemplateProblem {
  readonly severity: 'error' | 'warning';
  readonly message: string;
  /** The value names a person who is not in the directory (SkippedEntry.absent). */
  readonly absent?: true;
}

export interface EvalContext {
  /** Variables for `{$name}`. */
  readonly vars?: Readonly<Record<string, readonly string[]>>;
  readonly transcodings?: ReadonlyMap<string, Transcoding>;
  /** Resolves structure references for `structure` (a StructureIndex fits). */
  readonly structures?: { resolve(ref: string): { readonly uai: string } | undefined };
  /** Resolves person references for `person` (a PersonIndex fits). */
  readonly people?: { resolve(ref: string): { readonly dn: string; readonly profiles: readonly string[] } | undefined };
  /** Served UAIs (normalised upper-case) for `inScope`; null/undefined = all. */
  readonly scope?: ReadonlySet<string> | null;
  /** Receives data problems (unknown structures, transcoding misses). */
  readonly report?: (problem: TemplateProblem) => void;
  /** Who other people's entries link to (a `linked.from` condition); absent while people are not indexed yet. */
  readonly links?: LinkIndex;
}

/** The `from` templates of a `linked` condition: evaluated on other people's entries, they give DNs. */
export interface LinkSource {
  readonly templates: readonly { evaluate(entry: LdapEntry, context: EvalContext): Values }[];
}

export interface LinkIndex {
  /** Whether another person's entry gives `dn` (any escaping or case) through one of the source's templates. */
  linkedFrom(source: LinkSource, dn: string): boolean;
}

export interface FilterSpec {
  /** Argument kinds; the ones after `required` are optional. */
  readonly params: readonly ('string' | 'int' | 'string-or-int')[];
  readonly required?: number;
  readonly apply: (input: Values, args: readonly FilterArg[], context: EvalContext) => Values;
}

// Argument kinds are checked when the template is compiled; these only narrow the types.
const str = (arg: FilterArg | undefined): string => String(arg);
const int = (arg: FilterArg | undefined): number => Number(arg);
/** 1-based index, negative from the end, as users count. */
const pick = <T>(list: readonly T[], n: number): T | undefined => (n > 0 ? list[n - 1] : list[list.length + n]);

const compiledRegexps = new Map<string, RegExp>();
const regexp = (source: string, flags: string): RegExp => {
  const cacheKey = `${flags}/${source}`;
  let re = compiledRegexps.get(cacheKey);
  if (re === undefined) {
    re = new RegExp(source, flags);
    compiledRegexps.set(cacheKey, re);
  }
  return re;
};

const splitPick = (v: Values, sep: string, n: number): Values =>
  v.flatMap((s) => {
    const part = pick(s.split(sep), n);
    return part === undefined ? [] : [part];
  });

/** The structure reference of an SDET value ends at the first `$`: DNs hold no `$`, UAIs and ids neither. */
const head = (s: string): string => {
  const dollar = s.indexOf('$');
  return dollar < 0 ? s : s.slice(0, dollar);
};

/**
 * Code-point order (UTF-16 order puts astral characters before U+E000–U+FFFF): surrogates move above the
 * rest of the BMP, which keeps their relative order.
 */
const codePointCompare = (a: string, b: string): number => {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      const lift = (c: number) => (c >= 0xd800 ? (c < 0xe000 ? c + 0x2000 : c - 0x800) : c);
      return lift(x) - lift(y);
    }
  }
  return a.length - b.length;
};

export const FILTERS: Readonly<Record<string, FilterSpec>> = {
  lower: { params: [], apply: (v) => v.map((s) => s.toLowerCase()) },
  upper: { params: [], apply: (v) => v.map((s) => s.toUpperCase()) },
  trim: { params: [], apply: (v) => v.map((s) => s.trim()).filter((s) => s !== '') },
  /** Trimmed, every inner run of white space one space: `"  Noé   Marie "` → `"Noé Marie"`; blank values dropped. */
  squish: {
    params: [],
    apply: (v) => v.map((s) => s.replace(/\s+/gu, ' ').trim()).filter((s) => s !== ''),
  },
  /** Accents removed: "Éloïse" → "Eloise" (useful for usernames). */
  ascii: { params: [], apply: (v) => v.map((s) => s.normalize('NFD').replace(/\p{M}/gu, '')) },
  first: { params: [], apply: (v) => v.slice(0, 1) },
  last: { params: [], apply: (v) => v.slice(-1) },
  nth: {
    params: ['int'],
    apply: (v, a) => {
      const item = pick(v, int(a[0]));
      return item === undefined ? [] : [item];
    },
  },
  join: { params: ['string'], apply: (v, a) => (v.length === 0 ? [] : [v.join(str(a[0]))]) },
  split: { params: ['string', 'int'], apply: (v, a) => splitPick(v, str(a[0]), int(a[1])) },
  /** The N-th field of an SDET `$`-separated value. */
  part: { params: ['int'], apply: (v, a) => splitPick(v, '$', int(a[0])) },
  match: {
    params: ['string', 'string-or-int'],
    required: 1,
    apply: (v, a) => {
      const re = regexp(str(a[0]), 'u');
      const group = a[1];
      return v.flatMap((s) => {
        const m = re.exec(s);
        if (m === null) return [];
        let out: string | undefined;
        if (group === undefined) out = m[1] ?? m[0];
        else if (typeof group === 'number') out = m[group];
        // A group name cannot start with a digit: "1" can only mean the first group.
        else if (/^\d+$/.test(group)) out = m[Number(group)];
        else out = m.groups?.[group];
        return out === undefined ? [] : [out];
      });
    },
  },
  replace: {
    params: ['string', 'string'],
    apply: (v, a) => {
      const re = regexp(str(a[0]), 'gu');
      const by = str(a[1]);
      return v.map((s) => s.replace(re, by));
    },
  },
  default: { params: ['string'], apply: (v, a) => (v.length > 0 ? v : [String(a[0])]) },
  unique: { params: [], apply: (v) => [...new Set(v)] },
  sort: { params: [], apply: (v) => [...v].sort(codePointCompare) },
  map: {
    params: ['string'],
    apply: (v, a, context) =>
      missingTable(v, str(a[0]), context) ? [] : v.flatMap((s) => transcode(s, str(a[0]), context)),
  },
  mapPart: {
    params: ['int', 'string'],
    // The N-th `$`-part transcoded, the rest kept: `8200001$1$1$1$1$1` → `8200001$parent$1$1$1$1`.
    apply: (v, a, context) =>
      missingTable(v, str(a[1]), context)
        ? []
        : v.flatMap((s) => {
            const parts = s.split('$');
            const n = int(a[0]);
            const index = n > 0 ? n - 1 : parts.length + n;
            const part = parts[index];
            if (part === undefined) return [];
            return transcode(part, str(a[1]), context).map((to) =>
              parts.map((p, i) => (i === index ? to : p)).join('$'),
            );
          }),
  },
  person: {
    params: ['string'],
    required: 0,
    // A person DN or join key → the DN of that person's entry; an unknown person, or one without the profile
    // asked for, is a data problem of the entry that names them.
    apply: (v, a, context) =>
      v.flatMap((s) => {
        const ref = s.trim();
        if (ref === '') return [];
        const person = context.people?.resolve(ref);
        if (person === undefined) {
          context.report?.(
            context.people === undefined
              ? {
                  severity: 'error',
                  message: `person "${ref}" cannot be looked up here (the directory's people are not indexed yet)`,
                }
              : { severity: 'error', message: `person "${ref}" is not in the directory`, absent: true },
          );
          return [];
        }
        const profile = a[0] === undefined ? undefined : str(a[0]);
        if (profile !== undefined && !person.profiles.includes(profile)) {
          const has = person.profiles.length === 0 ? 'no profile' : `profiles ${person.profiles.join(', ')}`;
          context.report?.({ severity: 'error', message: `person "${person.dn}" is not a ${profile} (${has})` });
          return [];
        }
        return [person.dn];
      }),
  },
  structure: {
    params: [],
    apply: (v, _a, context) =>
      v.flatMap((s) => {
        const dollar = s.indexOf('$');
        const ref = (dollar < 0 ? s : s.slice(0, dollar)).trim();
        // The rest is trimmed as sdet/values.ts does: a padded class must not become a second key.
        const rest = dollar < 0 ? undefined : s.slice(dollar + 1).trim();
        let uai: string | undefined;
        if (context.structures !== undefined) uai = context.structures.resolve(ref)?.uai;
        else uai = normalizeUai(ref) ?? undefined;
        if (uai === undefined) {
          // Something that cannot name a structure at all (no DN, UAI or numeric id before a `$`) is a value in
          // no known form, not a missing establishment.
          const nameable = ref.includes('=') || normalizeUai(ref) !== null || /^\d+$/.test(ref);
          const message = !nameable
            ? `value "${s}" is in no known form (expected a structure DN, UAI or id, then $…)`
            : context.structures !== undefined
              ? `structure "${ref}" is not in the directory`
              : `structure "${ref}" is not a UAI, and the directory's structures are not available to resolve it`;
          context.report?.({ severity: 'warning', message });
          return [];
        }
        return [rest === undefined ? uai : `${uai}$${rest}`];
      }),
  },
  inScope: {
    params: [],
    apply: (v, _a, context) => {
      const scope = context.scope;
      if (scope == null) return v;
      return v.filter((s) => scope.has(head(s).trim().toUpperCase()));
    },
  },
};

export const TEMPLATE_FILTERS = Object.keys(FILTERS);

/** Reports (once) a table the spec does not define, when there are values to transcode. */
function missingTable(v: Values, name: string, context: EvalContext): boolean {
  if (context.transcodings?.get(name) !== undefined) return false;
  if (v.length > 0) context.report?.({ severity: 'error', message: `transcoding "${name}" is not defined` });
  return true;
}

/** One value through a transcoding table (known to exist), as its `onUnknown` says for a value it lacks. */
function transcode(s: string, name: string, context: EvalContext): Values {
  const table = context.transcodings?.get(name);
  if (table === undefined) return [];
  const to = table.lookup(s);
  if (to !== undefined) return [to];
  const message = `"${s}" is not in transcoding "${name}"`;
  switch (table.onUnknown) {
    case 'keep':
      return [s];
    case 'default':
      return table.default === undefined ? [] : [table.default];
    case 'skip':
      context.report?.({ severity: 'warning', message });
      return [];
    default:
      context.report?.({ severity: 'error', message });
      return [];
  }
}
