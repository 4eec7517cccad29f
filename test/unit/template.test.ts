import { describe, expect, it } from 'vitest';
import { buildStructureIndex } from '../../src/rules/sdet/structures.js';
import type { EvalContext, TemplateProblem } from '../../src/rules/template.js';
import { compileTemplate, TEMPLATE_FILTERS, TemplateSyntaxError } from '../../src/rules/template.js';
import type { Transcoding } from '../../src/rules/transcoding.js';
import { buildTranscoding } from '../../src/rules/transcoding.js';
import type { LdapEntry } from '../../src/source/entry.js';

const entry: LdapEntry = {
  dn: 'uid=F4500111,ou=people,dc=ent,dc=example',
  attributes: {
    uid: ['F4500111'],
    givenname: ['Éloïse'],
    sn: ['MARTIN-DUBOIS'],
    mail: ['a@ent.example', 'b@ent.example'],
    entpersonjointure: ['AC-ORLEANS-TOURS$7100001'],
    enteleveclasses: ['ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example$6EME1'],
    padded: ['  x  '],
    spaced: [' \t', '  Noé \t  Marie ', 'BARRÉ '],
  },
};
const run = (t: string): readonly string[] => compileTemplate(t).evaluate(entry);

describe('templates', () => {
  it('looks attributes up in any case and keeps every value of a lone placeholder', () => {
    expect(run('{UID}')).toEqual(['F4500111']);
    expect(run('{mail}')).toEqual(['a@ent.example', 'b@ent.example']);
  });

  it('builds text from the first value of each placeholder', () => {
    expect(run('{givenName} {sn}')).toEqual(['Éloïse MARTIN-DUBOIS']);
    expect(run('{mail} / {uid}')).toEqual(['a@ent.example / F4500111']);
  });

  it('gives no value when a placeholder of a text template has none', () => {
    expect(run('{nickname} {sn}')).toEqual([]);
    expect(run('{nickname|default("?")} {sn}')).toEqual(['? MARTIN-DUBOIS']);
  });

  it('applies case, trim, ascii and position filters', () => {
    expect(run('{uid|lower}')).toEqual(['f4500111']);
    expect(run('{sn|upper|lower}')).toEqual(['martin-dubois']);
    expect(run('{padded|trim}')).toEqual(['x']);
    // squish: trimmed, each inner run of white space one space, blank values dropped (before `first`).
    expect(run('{spaced|squish}')).toEqual(['Noé Marie', 'BARRÉ']);
    expect(run('{spaced|squish|first}')).toEqual(['Noé Marie']);
    expect(run('{spaced|trim}')).toEqual(['Noé \t  Marie', 'BARRÉ']);
    expect(run('{givenName|ascii|lower}')).toEqual(['eloise']);
    expect(run('{mail|first}')).toEqual(['a@ent.example']);
    expect(run('{mail|last}')).toEqual(['b@ent.example']);
    expect(run('{mail|nth(2)}')).toEqual(['b@ent.example']);
    expect(run('{mail|nth(-2)}')).toEqual(['a@ent.example']);
    expect(run('{mail|nth(3)}')).toEqual([]);
    expect(run('{mail|join(", ")}')).toEqual(['a@ent.example, b@ent.example']);
  });

  it('extracts parts with split and regular expressions with named groups', () => {
    expect(run('{ENTPersonJointure|split("$", 2)}')).toEqual(['7100001']);
    expect(run('{ENTEleveClasses|split("$", -1)}')).toEqual(['6EME1']);
    expect(run('{ENTPersonJointure|match("^[^$]+\\$(?<key>.+)$", "key")}')).toEqual(['7100001']);
    expect(run('{ENTPersonJointure|match("^(AC-[A-Z-]+)")}')).toEqual(['AC-ORLEANS-TOURS']);
    expect(run('{ENTPersonJointure|match("^nomatch")}')).toEqual([]);
    // A numbered group, as a number or as a digit string (no group name can start with a digit).
    expect(run('{ENTPersonJointure|match("^([^$]+)\\$(.+)$", 2)}')).toEqual(['7100001']);
    expect(run('{ENTPersonJointure|match("^([^$]+)\\$(.+)$", "2")}')).toEqual(['7100001']);
    expect(run('{sn|replace("-", " ")}')).toEqual(['MARTIN DUBOIS']);
    expect(run('{mail|match("^(?<local>[^@]+)@", "local")|join("+")}')).toEqual(['a+b']);
  });

  it('keeps literal braces and NFC-normalises results', () => {
    expect(run('{{{uid}}}')).toEqual(['{F4500111}']);
    const decomposed: LdapEntry = { dn: 'x', attributes: { sn: ['E\u0301tienne'] } };
    expect(compileTemplate('{sn}').evaluate(decomposed)).toEqual(['\u00c9tienne']);
  });

  it('lists the attributes it reads, lower-cased', () => {
    expect(compileTemplate('{givenName} {SN|lower} {sn}').attributes).toEqual(['givenname', 'sn']);
  });

  it.each([
    ['{uid', 'expected "|" or "}" in placeholder', 4],
    ['uid}', 'unmatched "}"', 3],
    ['{}', 'expected an attribute name', 1],
    ['{uid|shout}', 'unknown filter "shout"', 5],
    ['{uid|nth}', 'filter "nth" takes 1 argument(s), got 0', 5],
    ['{uid|nth("a")}', 'argument 1 must be a non-zero integer', 5],
    ['{uid|join(1)}', 'argument 1 must be a quoted string', 5],
    ['{uid|match("(")}', 'invalid regular expression', 5],
    ['{uid|default("x)}', 'unterminated string', 13],
  ])('refuses %s with its position', (source, message, offset) => {
    let caught: unknown;
    try {
      compileTemplate(source);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TemplateSyntaxError);
    expect((caught as TemplateSyntaxError).message).toContain(message);
    expect((caught as TemplateSyntaxError).offset).toBe(offset);
  });
});

/** The TemplateSyntaxError `compile` throws (fails the test when it does not throw one). */
function syntaxError(compile: () => unknown): TemplateSyntaxError {
  try {
    compile();
  } catch (error) {
    if (error instanceof TemplateSyntaxError) return error;
    throw error;
  }
  throw new Error('expected a TemplateSyntaxError');
}

/** A context whose problems are collected in `problems`. */
function collecting(context: EvalContext = {}): { context: EvalContext; problems: TemplateProblem[] } {
  const problems: TemplateProblem[] = [];
  return { context: { ...context, report: (p) => problems.push(p) }, problems };
}

describe('variables', () => {
  const vars = { uai: ['0450001A', '0450002B'], code: [' 3EME1 '], _x9: ['y'] };

  it('reads {$name} from the context, through filters, and lists it apart from attributes', () => {
    const t = compileTemplate('{$uai|first}-{$code|trim}-{uid|lower}');
    expect(t.evaluate(entry, { vars })).toEqual(['0450001A-3EME1-f4500111']);
    expect(t.attributes).toEqual(['uid']);
    expect(t.variables).toEqual(['uai', 'code']);
    expect(compileTemplate('{$uai}').evaluate(entry, { vars })).toEqual(['0450001A', '0450002B']);
    expect(compileTemplate('{ $_x9 }').evaluate(entry, { vars })).toEqual(['y']);
  });

  it('gives no value for an unset variable, case-sensitively, and never an inherited property', () => {
    expect(compileTemplate('{$UAI}').evaluate(entry, { vars })).toEqual([]);
    expect(compileTemplate('{$constructor}').evaluate(entry, { vars })).toEqual([]);
    expect(compileTemplate('{$uai}').evaluate(entry)).toEqual([]);
    expect(compileTemplate('{$uai} {sn}').evaluate(entry)).toEqual([]);
    expect(compileTemplate('{$uai|default("none")}').evaluate(entry)).toEqual(['none']);
  });

  it.each([
    ['{$}', 'expected a variable name', 2],
    ['{$1a}', 'expected a variable name', 2],
    ['{$a-b}', 'expected "|" or "}" in placeholder', 3],
  ])('refuses %s', (source, message, offset) => {
    const error = syntaxError(() => compileTemplate(source));
    expect(error.message).toContain(message);
    expect(error.offset).toBe(offset);
  });
});

describe('named templates', () => {
  const templates = {
    key: '{ENTPersonJointure|split("$", 2)}',
    login: '{uid|lower}',
    prefix: '2026-',
    empty: '',
    nested: '{@prefix}{@login}',
    braces: '{{x}}',
    a: 'A{@b}',
    b: 'B{@c}',
    c: '{@a}',
    self: '{@self}',
    broken: '{uid|nope}',
    outer: 'x{@broken}',
  };
  const run2 = (source: string) => compileTemplate(source, { templates }).evaluate(entry);

  it('inserts the source of a named template, recursively', () => {
    expect(run2('{@key}')).toEqual(['7100001']);
    expect(run2('{@nested}')).toEqual(['2026-f4500111']);
    expect(run2('{ @prefix }{sn}')).toEqual(['2026-MARTIN-DUBOIS']);
    expect(run2('{@empty}{uid}')).toEqual(['F4500111']);
    expect(run2('{@braces}{@login}')).toEqual(['{x}f4500111']);
    expect(compileTemplate('{@nested}/{mail}', { templates }).attributes).toEqual(['uid', 'mail']);
  });

  it('keeps every value when the insertion is a lone placeholder (as if written in place)', () => {
    const multi = { all: '{mail}' };
    expect(compileTemplate('{@all}', { templates: multi }).evaluate(entry)).toEqual(['a@ent.example', 'b@ent.example']);
    expect(compileTemplate('{@empty}{@all}{@empty}', { templates: { ...multi, empty: '' } }).evaluate(entry)).toEqual([
      'a@ent.example',
      'b@ent.example',
    ]);
  });

  it.each([
    ['x{@nope}', 'unknown named template "nope" (known: key, login', 1],
    ['ab{@a}', 'named template "a" includes itself (a → b → c → a)', 2],
    ['{@self}', 'named template "self" includes itself (self → self)', 0],
    ['{@outer}', 'in named template "broken" ("{uid|nope}"): unknown filter "nope"', 0],
    ['{@login|upper}', 'a named template takes no filters', 7],
    ['{@}', 'expected a template name', 2],
    ['{@login', 'expected "}" after a template name', 7],
  ])('refuses %s at the {@', (source, message, offset) => {
    const error = syntaxError(() => compileTemplate(source, { templates }));
    expect(error.message).toContain(message);
    expect(error.offset).toBe(offset);
  });

  it('knows no named template without the option', () => {
    expect(syntaxError(() => compileTemplate('{@key}')).message).toContain('no templates are defined');
    expect(syntaxError(() => compileTemplate('{@toString}')).message).toContain('unknown named template');
  });
});

describe('collection filters', () => {
  const many: LdapEntry = { dn: 'x', attributes: { v: ['b', 'a', 'b', 'B', 'a', '\u{1F600}', '\uFB01'] } };

  it('unique keeps the first of each value, sort orders by code point', () => {
    expect(compileTemplate('{v|unique}').evaluate(many)).toEqual(['b', 'a', 'B', '\u{1F600}', '\uFB01']);
    // UTF-16 order would put the emoji (surrogates D83D…) before U+FB01.
    expect(compileTemplate('{v|unique|sort}').evaluate(many)).toEqual(['B', 'a', 'b', '\uFB01', '\u{1F600}']);
    expect(compileTemplate('{v|sort|first}').evaluate(many)).toEqual(['B']);
  });

  it('part(N) takes a $-separated field like split("$", N)', () => {
    const fonction: LdapEntry = { dn: 'x', attributes: { f: ['0450001A$ENS$ENSEIGNEMENT$L0202$ANGLAIS', 'x'] } };
    expect(compileTemplate('{f|part(2)}').evaluate(fonction)).toEqual(['ENS']);
    expect(compileTemplate('{f|part(-1)}').evaluate(fonction)).toEqual(['ANGLAIS', 'x']);
    expect(compileTemplate('{f|part(1)}').evaluate(fonction)).toEqual(['0450001A', 'x']);
    expect(compileTemplate('{f|part(6)}').evaluate(fonction)).toEqual([]);
    expect(syntaxError(() => compileTemplate('{f|part(0)}')).message).toContain('non-zero integer');
  });

  it('lists the new filters', () => {
    expect(TEMPLATE_FILTERS).toEqual(expect.arrayContaining(['map', 'structure', 'inScope', 'unique', 'sort', 'part']));
  });
});

describe('map', () => {
  const levels: LdapEntry = { dn: 'x', attributes: { level: ['6EME', ' 5eme ', '4EME'] } };
  const table = (onUnknown: Transcoding['onUnknown'], extra: { default?: string } = {}): Transcoding =>
    buildTranscoding('levels', {
      values: { '6EME': 'Sixième', '5EME': 'Cinquième' },
      onUnknown,
      ignoreCase: true,
      ...extra,
    });
  const mapped = (t: Transcoding) => {
    const { context, problems } = collecting({ transcodings: new Map([['levels', t]]) });
    return { values: compileTemplate('{level|map("levels")}').evaluate(levels, context), problems };
  };

  it('transcodes, and an unknown value is an error and dropped by default', () => {
    expect(mapped(table('error'))).toEqual({
      values: ['Sixième', 'Cinquième'],
      problems: [{ severity: 'error', message: '"4EME" is not in transcoding "levels"' }],
    });
  });

  it('skips an unknown value with a warning, or gives the default, or keeps it', () => {
    expect(mapped(table('skip'))).toEqual({
      values: ['Sixième', 'Cinquième'],
      problems: [{ severity: 'warning', message: '"4EME" is not in transcoding "levels"' }],
    });
    expect(mapped(table('default', { default: '?' }))).toEqual({ values: ['Sixième', 'Cinquième', '?'], problems: [] });
    expect(mapped(table('keep'))).toEqual({ values: ['Sixième', 'Cinquième', '4EME'], problems: [] });
  });

  it('refuses an unknown table at compile time when the known ones are given', () => {
    const error = syntaxError(() => compileTemplate('{level|map("nivx")}', { transcodings: new Set(['levels']) }));
    expect(error.message).toBe('unknown transcoding "nivx" (known: levels)');
    expect(error.offset).toBe(7);
    expect(syntaxError(() => compileTemplate('{level|map(1)}')).message).toContain('must be a quoted string');
    expect(compileTemplate('{level|map("levels")}', { transcodings: new Set(['levels']) }).attributes).toEqual([
      'level',
    ]);
  });

  it('reports a table missing at evaluation as an error', () => {
    const { context, problems } = collecting();
    expect(compileTemplate('{level|map("levels")}').evaluate(levels, context)).toEqual([]);
    expect(problems).toEqual([{ severity: 'error', message: 'transcoding "levels" is not defined' }]);
  });
});

describe('structure and inScope', () => {
  const establishment = (uai: string, dn: string, extra: Record<string, string[]> = {}): LdapEntry => ({
    dn,
    attributes: { objectclass: ['ENTStructure', 'ENTEtablissement'], entstructureuai: [uai], ...extra },
  });
  const index = buildStructureIndex([
    establishment('0450001A', 'ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example', {
      entstructuresiren: ['19450001400015'],
    }),
    // An escaped comma and UTF-8 hex escapes in the RDN value ("Collège, Orléans").
    establishment('0450002b', 'ou=Coll\\C3\\A8ge\\, Orl\\C3\\A9ans,ou=structures,dc=ent,dc=example', {
      entstructurejointure: ['AC-ORLEANS-TOURS$45002'],
    }),
  ]);
  const person: LdapEntry = {
    dn: 'uid=x',
    attributes: {
      classes: [
        'ENTStructureSIREN=19450001400015,ou=structures,dc=ent,dc=example$3EME1',
        'ou=Collège\\, Orléans , ou=Structures,dc=ent,dc=example$ 4EME2 $extra',
        'OU=Coll\\c3\\a8ge\\2c Orl\\c3\\a9ans,ou=structures,dc=ent,dc=example$5EME3',
        '0450001a',
        '45002$6EME1',
        'ou=Unknown,ou=structures,dc=ent,dc=example$6EME2',
        '9999999Z',
      ],
    },
  };

  it('replaces DN, UAI and id references by the UAI, keeping the rest of the value', () => {
    const { context, problems } = collecting({ structures: index });
    expect(compileTemplate('{classes|structure}').evaluate(person, context)).toEqual([
      '0450001A$3EME1',
      '0450002B$4EME2 $extra',
      '0450002B$5EME3',
      '0450001A',
      '0450002B$6EME1',
    ]);
    expect(problems).toEqual([
      {
        severity: 'warning',
        message: 'structure "ou=Unknown,ou=structures,dc=ent,dc=example" is not in the directory',
      },
      { severity: 'warning', message: 'structure "9999999Z" is not in the directory' },
    ]);
  });

  it('without the directory, normalises UAIs and drops the rest with a warning', () => {
    const { context, problems } = collecting();
    expect(compileTemplate('{classes|structure}').evaluate(person, context)).toEqual(['0450001A', '9999999Z']);
    expect(problems.map((p) => p.severity)).toEqual(['warning', 'warning', 'warning', 'warning', 'warning']);
    expect(problems[0]?.message).toContain('is not a UAI');
  });

  it('inScope keeps the values of served establishments, all of them without a scope', () => {
    const scope = new Set(['0450002B']);
    const served = compileTemplate('{classes|structure|inScope|part(2)|trim|unique}');
    expect(served.evaluate(person, { structures: index, scope })).toEqual(['4EME2', '5EME3', '6EME1']);
    expect(served.evaluate(person, { structures: index, scope: null })).toEqual(['3EME1', '4EME2', '5EME3', '6EME1']);
    expect(served.evaluate(person, { structures: index })).toHaveLength(4);
    const raw: LdapEntry = { dn: 'x', attributes: { u: [' 0450002b ', '0450002b$x', '0450001A'] } };
    expect(compileTemplate('{u|inScope}').evaluate(raw, { scope })).toEqual([' 0450002b ', '0450002b$x']);
    expect(compileTemplate('{u|inScope}').evaluate(raw, { scope: new Set() })).toEqual([]);
  });
});
