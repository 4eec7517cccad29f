/**
 * The template filters, in words and with an example each, for docs/spec-reference.md (scripts/write-schema.js).
 * Data only. test/unit/spec-schema-file.test.ts checks that every filter of the template engine is here and
 * evaluates each example that needs no directory context (`entry` given), so an example cannot drift.
 */
export interface FilterDoc {
  /** As written in a template, with its arguments. */
  readonly usage: string;
  readonly does: string;
  /** A template using it. */
  readonly template: string;
  /** The entry's attributes the example reads (lower-case names); absent when it needs the directory. */
  readonly entry?: Readonly<Record<string, readonly string[]>>;
  /** What the template gives, value by value. */
  readonly gives: readonly string[];
}

export const TEMPLATE_FILTER_DOCS: Readonly<Record<string, FilterDoc>> = {
  lower: {
    usage: 'lower',
    does: 'lower-case',
    template: '{uid|lower}',
    entry: { uid: ['F4500111'] },
    gives: ['f4500111'],
  },
  upper: { usage: 'upper', does: 'upper-case', template: '{sn|upper}', entry: { sn: ['Barré'] }, gives: ['BARRÉ'] },
  trim: {
    usage: 'trim',
    does: 'spaces removed at both ends (a value left empty is dropped)',
    template: '{mail|trim}',
    entry: { mail: [' a@ent.example '] },
    gives: ['a@ent.example'],
  },
  squish: {
    usage: 'squish',
    does: 'trimmed, and each run of white space made one space',
    template: '{givenName|squish}',
    entry: { givenname: ['  Noé   Marie '] },
    gives: ['Noé Marie'],
  },
  ascii: {
    usage: 'ascii',
    does: 'accents removed',
    template: '{givenName|ascii}',
    entry: { givenname: ['Éloïse'] },
    gives: ['Eloise'],
  },
  first: {
    usage: 'first',
    does: 'the first value only',
    template: '{mail|first}',
    entry: { mail: ['a@ent.example', 'b@ent.example'] },
    gives: ['a@ent.example'],
  },
  last: {
    usage: 'last',
    does: 'the last value only',
    template: '{mail|last}',
    entry: { mail: ['a@ent.example', 'b@ent.example'] },
    gives: ['b@ent.example'],
  },
  nth: {
    usage: 'nth(N)',
    does: 'the N-th value (from 1; negative counts from the end)',
    template: '{mail|nth(2)}',
    entry: { mail: ['a@ent.example', 'b@ent.example', 'c@ent.example'] },
    gives: ['b@ent.example'],
  },
  join: {
    usage: 'join("sep")',
    does: 'all the values joined into one',
    template: '{ENTPersonProfils|join(",")}',
    entry: { entpersonprofils: ['National_ENS', 'National_DOC'] },
    gives: ['National_ENS,National_DOC'],
  },
  split: {
    usage: 'split("sep", N)',
    does: 'the N-th part of each value (negative from the end)',
    template: '{ENTPersonJointure|split("$", -1)}',
    entry: { entpersonjointure: ['AC-ORLEANS-TOURS$7100001'] },
    gives: ['7100001'],
  },
  part: {
    usage: 'part(N)',
    does: 'the N-th `$`-separated part of each value (SDET composite values): `split("$", N)`',
    template: '{ENTEleveClasses|part(2)}',
    entry: { enteleveclasses: ['0450001A$3EME1'] },
    gives: ['3EME1'],
  },
  match: {
    usage: 'match("regex", "group")',
    does: 'the named (or numbered) group of each value the regex matches; the others are dropped',
    template: '{ENTPersonJointure|match("^[^$]+\\$(?<key>.+)$", "key")}',
    entry: { entpersonjointure: ['AC-ORLEANS-TOURS$7100001'] },
    gives: ['7100001'],
  },
  replace: {
    usage: 'replace("regex", "with")',
    does: 'every match replaced (`$<name>` and `$1` refer to groups)',
    template: '{cn|replace(" +", "-")}',
    entry: { cn: ['Vie scolaire'] },
    gives: ['Vie-scolaire'],
  },
  default: {
    usage: 'default("value")',
    does: 'this value when there is none',
    template: '{mail|first|default("")}',
    entry: {},
    gives: [''],
  },
  unique: {
    usage: 'unique',
    does: 'repeated values dropped (first kept)',
    template: '{ESCOUAI|unique}',
    entry: { escouai: ['0450001A', '0450002B', '0450001A'] },
    gives: ['0450001A', '0450002B'],
  },
  sort: {
    usage: 'sort',
    does: 'values in code-point order',
    template: '{ESCOUAI|sort}',
    entry: { escouai: ['0450002B', '0450001A'] },
    gives: ['0450001A', '0450002B'],
  },
  map: {
    usage: 'map("table")',
    does: 'each value through a table of `transcodings` (an unknown value as its `onUnknown` says)',
    template: '{$level|map("levels")}',
    gives: ['Troisième (with `levels: { values: { 3EME: Troisième } }`)'],
  },
  mapPart: {
    usage: 'mapPart(N, "table")',
    does: 'the N-th `$`-separated part of each value through a table, the other parts kept',
    template: '{ENTAuxEnsClassesMatieres|mapPart(3, "subjectNames")}',
    gives: [
      '`0450001A$3EME1$Mathématiques` for `0450001A$3EME1$061300` (with `subjectNames: { values: { "061300": Mathématiques } }`)',
    ],
  },
  structure: {
    usage: 'structure',
    does: "a structure reference before the first `$` (a structure DN, a UAI or a structure id) made the establishment's UAI; unknown structures are reported and dropped",
    template: '{ENTEleveClasses|structure}',
    gives: ['`0450001A$3EME1` for `ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example$3EME1`'],
  },
  inScope: {
    usage: 'inScope',
    does: 'only the values whose establishment (before the first `$`) this Moodle serves (`establishments`)',
    template: '{ESCOUAI|inScope}',
    gives: ['`0450001A` for `0450001A`, `0450002B` when only 0450001A is served'],
  },
  person: {
    usage: 'person("profile")',
    does: "a person's DN (any escaping or case) or join key made the DN of that person's entry, who must have the profile; a person not in the directory or without it is reported",
    template: '{ENTEleveParents|person("parent")}',
    gives: ["the parent's entry DN, `uid=f4500301,ou=people,dc=ent,dc=example`"],
  },
};
