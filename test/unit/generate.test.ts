/**
 * The synthetic directory generator: deterministic bytes, an LDIF the project's reader parses, entries
 * slapd's schema accepts (MUST attributes, one value per single-valued attribute), realistic structure
 * (class sizes, teachers' classes, parent links both ways, a cité scolaire), the variations real
 * directories have, and churn that changes the share asked while keeping links consistent.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { Builtins, Cli } from 'clipanion';
import { beforeAll, describe, expect, it } from 'vitest';
import { GenerateCommand } from '../../src/cli/commands/generate.js';
import { UserError } from '../../src/errors.js';
import {
  churnDirectory,
  type Directory,
  directoryLdif,
  generateDirectory,
  writeDirectoryLdif,
} from '../../src/generate/generate.js';
import { fold, ldifRecord, needsBase64 } from '../../src/generate/ldif-writer.js';
import { Random } from '../../src/generate/random.js';
import { readModel } from '../../src/generate/read-model.js';
import { type LdapEntry, normalizeDn, values } from '../../src/source/entry.js';
import { parseLdif } from '../../src/source/ldif/parse-ldif.js';
import { type CliRun, workspace } from '../helpers/spec-files.js';

/** sha256 of `generate --seed 42 --people 2000` (2 establishments). Changes only with the generator. */
const SEED_42_2000_SHA256 = 'ba3b24fbd0356ffcd2bb4faf068761969b53d0d145278ca36238b55fa1567615';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const has = (e: LdapEntry, objectClass: string) =>
  values(e, 'objectClass').some((v) => v.toLowerCase() === objectClass.toLowerCase());
const one = (e: LdapEntry, attribute: string) => values(e, attribute)[0] ?? '';

/** The UAI key rule, written again here rather than imported. */
const UAI_KEYS = 'ABCDEFGHJKLMNPRSTUVWXYZ';
const validUai = (uai: string) => /^\d{7}[A-Z]$/.test(uai) && UAI_KEYS[Number(uai.slice(0, 7)) % 23] === uai[7];
const luhn = (digits: string) =>
  [...digits].reverse().reduce((sum, ch, i) => {
    const d = Number(ch) * (i % 2 === 1 ? 2 : 1);
    return sum + (d > 9 ? d - 9 : d);
  }, 0) %
    10 ===
  0;

/** A parsed directory with the lookups the checks need. */
class Parsed {
  readonly entries: LdapEntry[];
  readonly byDn = new Map<string, LdapEntry>();
  constructor(
    readonly text: string,
    file = 'generated.ldif',
  ) {
    this.entries = parseLdif(text, file);
    for (const e of this.entries) this.byDn.set(normalizeDn(e.dn), e);
  }
  of(objectClass: string): LdapEntry[] {
    return this.entries.filter((e) => has(e, objectClass));
  }
  get(dn: string): LdapEntry | undefined {
    return this.byDn.get(normalizeDn(dn));
  }
  /** The UAI a composite value (`<structure DN>$…` or `<UAI>$…`) names, and the fields after it. */
  split(value: string): { uai: string; form: 'dn' | 'uai' | 'uai-lower'; rest: string[] } {
    const [head = '', ...rest] = value.split('$');
    if (head.startsWith('ENTStructureSIREN='))
      return { uai: one(this.get(head) as LdapEntry, 'ENTStructureUAI'), form: 'dn', rest };
    return { uai: head.toUpperCase(), form: head === head.toUpperCase() ? 'uai' : 'uai-lower', rest };
  }
}

/** MUST attributes per object class: the SDET schema file, plus the core classes the fixture uses. */
function mustAttributes(): Map<string, { must: string[]; sup: string | undefined }> {
  const schema = readFileSync('test/fixtures/ldap/schema/sdet.schema', 'utf8');
  const classes = new Map<string, { must: string[]; sup: string | undefined }>([
    ['top', { must: ['objectclass'], sup: undefined }],
    ['person', { must: ['sn', 'cn'], sup: 'top' }],
    ['organizationalperson', { must: [], sup: 'person' }],
    ['inetorgperson', { must: [], sup: 'organizationalperson' }],
    ['groupofnames', { must: ['member', 'cn'], sup: 'top' }],
    ['organizationalunit', { must: ['ou'], sup: 'top' }],
    ['dcobject', { must: ['dc'], sup: 'top' }],
    ['organization', { must: ['o'], sup: 'top' }],
  ]);
  for (const match of schema.matchAll(/objectclass \( [\d.]+ NAME '([^']+)'([\s\S]*?)\)\s*\n\n/g)) {
    const body = match[2] as string;
    const must = /MUST \(([^)]*)\)|MUST (\w+)/.exec(body);
    const list = (must?.[1] ?? must?.[2] ?? '').split('$').map((a) => a.trim().toLowerCase());
    classes.set((match[1] as string).toLowerCase(), {
      must: list.filter((a) => a !== ''),
      sup: /SUP (\w+)/.exec(body)?.[1]?.toLowerCase(),
    });
  }
  return classes;
}

/** Names of the single-valued attributes of the SDET schema. */
function singleValued(): Set<string> {
  const schema = readFileSync('test/fixtures/ldap/schema/sdet.schema', 'utf8');
  const names = new Set<string>();
  for (const match of schema.matchAll(/attributetype \( [\d.]+ NAME '([^']+)'([\s\S]*?)\)\s*\n\n/g)) {
    if ((match[2] as string).includes('SINGLE-VALUE')) names.add((match[1] as string).toLowerCase());
  }
  return names;
}

describe('generateDirectory: determinism', () => {
  it('the same seed and size give the same bytes; the recorded sha256 of seed 42 / 2,000 people holds', () => {
    const first = directoryLdif(generateDirectory({ seed: 42, people: 2000 }));
    const second = directoryLdif(generateDirectory({ seed: '42', people: 2000 }));
    expect(sha256(first)).toBe(sha256(second));
    expect(sha256(first)).toBe(SEED_42_2000_SHA256);
  });

  it('another seed or another size gives another directory', () => {
    const base = sha256(directoryLdif(generateDirectory({ seed: 42, people: 500 })));
    expect(sha256(directoryLdif(generateDirectory({ seed: 43, people: 500 })))).not.toBe(base);
    expect(sha256(directoryLdif(generateDirectory({ seed: 42, people: 501 })))).not.toBe(base);
  });

  it('streams the same bytes it returns', async () => {
    const dir = generateDirectory({ seed: 5, people: 3000 });
    let streamed = '';
    const sink = new Writable({
      highWaterMark: 1024, // small: the writer must wait for drain events
      write(chunk: Buffer, _encoding, callback) {
        streamed += chunk.toString('utf8');
        setImmediate(callback);
      },
    });
    const bytes = await writeDirectoryLdif(dir, sink, { comment: ['made by a test'] });
    const whole = directoryLdif(dir, { comment: ['made by a test'] });
    expect(streamed).toBe(whole);
    expect(bytes).toBe(Buffer.byteLength(whole));
    expect(whole.startsWith('# made by a test\nversion: 1\n\ndn: dc=ent,dc=example\n')).toBe(true);
  });

  it('the PRNG gives the same numbers everywhere (sfc32 seeded by cyrb128)', () => {
    const r = new Random(42);
    expect([r.next(), r.next(), r.next()]).toEqual(((s) => [s.next(), s.next(), s.next()])(new Random('42')));
    const ints = Array.from({ length: 2000 }, () => r.int(25, 35));
    expect(Math.min(...ints)).toBe(25);
    expect(Math.max(...ints)).toBe(35);
    expect(new Random('a').fork('x').next()).toBe(new Random('a/x').next());
  });
});

describe('generateDirectory: 2,000 people over 3 establishments (a cité scolaire)', () => {
  let dir: Directory;
  let d: Parsed;
  beforeAll(() => {
    dir = generateDirectory({ seed: 42, people: 2000, establishments: 3 });
    d = new Parsed(directoryLdif(dir));
  });

  it('parses with the project reader, with the expected counts per object class', () => {
    const count = (kind: string) => dir.people.filter((p) => p.kind === kind).length;
    const docs = dir.people.filter((p) => p.kind === 'staff' && p.functions[0]?.code === 'DOC').length;
    expect(d.of('ENTPerson')).toHaveLength(2000);
    expect(d.of('ENTEleve')).toHaveLength(count('student'));
    expect(d.of('ENTAuxPersRelEleve')).toHaveLength(count('parent'));
    expect(d.of('ENTAuxEnseignant')).toHaveLength(count('teacher') + docs);
    expect(d.of('ENTAuxNonEnsEtab')).toHaveLength(count('staff') - docs);
    expect(d.of('ENTEtablissement')).toHaveLength(3);
    expect(d.of('ENTClasse')).toHaveLength(dir.establishments.reduce((n, e) => n + e.classes.length, 0));
    expect(d.of('ENTGroupe')).toHaveLength(dir.establishments.reduce((n, e) => n + e.groups.length, 0));
    // About 1,700 people per establishment: ~40% students, most of the rest parents.
    expect(count('student')).toBeGreaterThan(700);
    expect(count('parent')).toBeGreaterThan(count('student'));
    expect(count('teacher')).toBeGreaterThan(30);
  });

  it('every entry has the MUST attributes of its object classes, objectClass first, single values once', () => {
    const classes = mustAttributes();
    const single = singleValued();
    const problems: string[] = [];
    for (const e of d.entries) {
      const first = Object.keys(e.attributes)[0];
      if (first !== 'objectclass') problems.push(`${e.dn}: first attribute is ${first}`);
      for (const oc of values(e, 'objectClass')) {
        for (let c = classes.get(oc.toLowerCase()); c !== undefined; c = c.sup ? classes.get(c.sup) : undefined) {
          for (const a of c.must) if (values(e, a).length === 0) problems.push(`${e.dn}: ${oc} needs ${a}`);
        }
        if (!classes.has(oc.toLowerCase())) problems.push(`${e.dn}: unknown class ${oc}`);
      }
      for (const [name, list] of Object.entries(e.attributes)) {
        if (single.has(name) && list.length > 1) problems.push(`${e.dn}: ${name} is single-valued`);
        if (new Set(list.map((v) => v.toLowerCase())).size !== list.length) problems.push(`${e.dn}: ${name} repeats`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('UAIs have valid key letters, SIRETs are Luhn-valid, the LP points at its lycée', () => {
    const structures = d.of('ENTEtablissement');
    for (const s of structures) {
      expect(validUai(one(s, 'ENTStructureUAI')), one(s, 'ENTStructureUAI')).toBe(true);
      expect(one(s, 'ENTStructureSIREN')).toMatch(/^\d{14}$/);
      expect(luhn(one(s, 'ENTStructureSIREN')), one(s, 'ENTStructureSIREN')).toBe(true);
    }
    const lp = structures.find((s) => one(s, 'ENTStructureTypeStruct') === 'LYCEE PROFESSIONNEL') as LdapEntry;
    const lycee = d.get(one(lp, 'ENTEtablissementStructRattachFctl')) as LdapEntry;
    expect(one(lycee, 'ENTStructureTypeStruct')).toBe('LYCEE D ENSEIGNEMENT GENERAL ET TECHNOLOGIQUE');
    expect(normalizeDn(lycee.dn)).not.toBe(normalizeDn(lp.dn));
    // Lycée and LP share staff: someone holds a function in both.
    const [lpUai, lyceeUai] = [one(lp, 'ENTStructureUAI'), one(lycee, 'ENTStructureUAI')];
    const shared = d.of('ENTPerson').filter((p) => {
      const uais = new Set(values(p, 'ENTPersonFonctions').map((v) => d.split(v).uai));
      return uais.has(lpUai) && uais.has(lyceeUai) && !values(p, 'ENTPersonFonctions')[0]?.includes('$ENS$');
    });
    expect(shared.map((p) => values(p, 'ENTPersonFonctions').map((v) => d.split(v).rest[0])[0]).sort()).toEqual([
      'ADF',
      'DIR',
      'DOC',
    ]);
  });

  it('every student has one class (an ENTEleve MUST) of 25–35 students, but at most one smaller class per establishment', () => {
    const sizes = new Map<string, number>();
    for (const s of d.of('ENTEleve')) {
      expect(values(s, 'ENTEleveClasses')).toHaveLength(1);
      const { uai, rest } = d.split(one(s, 'ENTEleveClasses'));
      expect(uai).toBe(one(s, 'ESCOUAIRattachement'));
      sizes.set(`${uai}$${rest[0]}`, (sizes.get(`${uai}$${rest[0]}`) ?? 0) + 1);
    }
    const outside = [...sizes].filter(([, n]) => n < 25 || n > 35);
    expect([...sizes.values()].every((n) => n <= 35)).toBe(true);
    expect(new Set(outside.map(([key]) => key.split('$')[0])).size).toBe(outside.length);
    expect(sizes.size).toBe(d.of('ENTClasse').length);
    // The class entries list the same students.
    for (const c of d.of('ENTClasse')) {
      const [uai, code] = one(c, 'description').split('$');
      expect(values(c, 'member').length, one(c, 'cn')).toBe(sizes.get(`${uai}$${code}`));
    }
  });

  it('parent links agree both ways, join keys included; 1–2 parents per student', () => {
    const problems: string[] = [];
    for (const s of d.of('ENTEleve')) {
      const parents = values(s, 'ENTEleveParents');
      if (parents.length < 1 || parents.length > 2) problems.push(`${s.dn}: ${parents.length} parents`);
      const keys = values(s, 'ENTElevePersRelEleve').map((v) => v.split('$')[0]);
      for (const dn of parents) {
        const p = d.get(dn);
        if (p === undefined || !has(p, 'ENTAuxPersRelEleve')) problems.push(`${s.dn}: parent ${dn} missing`);
        else if (!values(p, 'ENTAuxPersRelEleveEleve').some((c) => normalizeDn(c) === normalizeDn(s.dn)))
          problems.push(`${dn} does not list ${s.dn}`);
        else if (!keys.includes(one(p, 'ENTPersonJointure').split('$')[1]))
          problems.push(`${s.dn}: no join key of ${dn}`);
      }
    }
    for (const p of d.of('ENTAuxPersRelEleve')) {
      for (const dn of values(p, 'ENTAuxPersRelEleveEleve')) {
        const s = d.get(dn);
        if (s === undefined || !values(s, 'ENTEleveParents').some((x) => normalizeDn(x) === normalizeDn(p.dn)))
          problems.push(`${dn} does not list its parent ${p.dn}`);
      }
    }
    expect(problems).toEqual([]);
    // Siblings exist, and blended families span two establishments.
    const childCounts = d.of('ENTAuxPersRelEleve').map((p) => values(p, 'ENTAuxPersRelEleveEleve').length);
    expect(childCounts.some((n) => n >= 2)).toBe(true);
    expect(d.of('ENTAuxPersRelEleve').some((p) => values(p, 'ESCOUAI').length === 2)).toBe(true);
  });

  it('teachers teach 3–6 classes in at most 2 establishments; some in 2; every class has a principal', () => {
    const teachers = d
      .of('ENTAuxEnseignant')
      .filter((t) => has(t, 'ENTAuxEnseignant') && one(t, 'ESCOPersonProfils') === 'ENS');
    let inTwo = 0;
    for (const t of teachers) {
      const classes = values(t, 'ENTAuxEnsClasses');
      expect(classes.length, t.dn).toBeGreaterThanOrEqual(3);
      expect(classes.length, t.dn).toBeLessThanOrEqual(6);
      const uais = new Set(classes.map((v) => d.split(v).uai));
      expect(uais.size).toBeLessThanOrEqual(2);
      if (uais.size === 2) inTwo++;
      for (const m of values(t, 'ENTAuxEnsClassesMatieres')) expect(d.split(m).rest).toHaveLength(2);
    }
    expect(inTwo).toBeGreaterThan(0);
    const principals = teachers.flatMap((t) => values(t, 'ENTAuxEnsClassesPrincipal').map((v) => d.split(v)));
    expect(new Set(principals.map((p) => `${p.uai}$${p.rest[0]}`)).size).toBe(d.of('ENTClasse').length);
    expect(d.of('ENTAuxNonEnsEtab').flatMap((s) => values(s, 'ESCOPersonProfils'))).toEqual(
      expect.arrayContaining(['DIR', 'ADF', 'EDU']),
    );
  });

  it('no two people share a DN, uid, login or join key', () => {
    const people = d.of('ENTPerson');
    for (const attribute of ['uid', 'ENTPersonLogin', 'ENTPersonJointure']) {
      const list = people.map((p) => one(p, attribute).toLowerCase());
      expect(new Set(list).size, attribute).toBe(people.length);
    }
    expect(new Set(d.entries.map((e) => normalizeDn(e.dn))).size).toBe(d.entries.length);
  });

  it('has the variations of real directories', () => {
    const classValues = d.of('ENTEleve').map((s) => d.split(one(s, 'ENTEleveClasses')).form);
    expect(new Set(classValues)).toEqual(new Set(['dn', 'uai', 'uai-lower']));
    expect(d.text).toMatch(/^ENTEleveClasses: \d{7}[a-z]\$/m); // lower-case key letter, e.g. 0450004d$6EME1
    expect(d.text).toMatch(/^ENTPersonFonctions: ENTStructureSIREN=/m);
    expect(d.of('ENTEleve').some((s) => values(s, 'ENTPersonProfils').includes('National_1'))).toBe(true);
    expect(d.of('ENTEleve').some((s) => !values(s, 'ENTPersonProfils').includes('National_1'))).toBe(true);
    expect(d.of('ENTAuxEnseignant').some((s) => values(s, 'ENTPersonProfils').includes('National_3'))).toBe(true);
    const mails = d.of('ENTPerson').map((p) => values(p, 'mail').length);
    expect(mails).toContain(0);
    expect(mails).toContain(2);
    expect(d.of('ENTPerson').every((p) => values(p, 'isMemberOf').length > 0)).toBe(true);
    expect(d.of('ENTEleve').some((s) => one(s, 'ESCOUAICourant') !== one(s, 'ESCOUAIRattachement'))).toBe(true);
    expect(d.of('ENTStructure').flatMap((s) => values(s, 'ENTStructureClasses'))).toContainEqual(
      expect.stringMatching(/^2PRO MELEC\$/),
    );
    // Accented names are base64; long lines are folded at 76 columns.
    expect(d.of('ENTPerson').some((p) => /[À-ÿ]/.test(one(p, 'sn') + one(p, 'givenName')))).toBe(true);
    expect(d.text).toMatch(/^sn:: /m);
    expect(d.text).toMatch(/\n [^\n]/);
    expect(d.text.split('\n').every((line) => line.length <= 76)).toBe(true);
    expect(Buffer.byteLength(d.text)).toBe(d.text.length); // all ASCII
  });

  it('reads back into the same model: the LDIF of what was read is the same bytes', () => {
    expect(directoryLdif(readModel(d.entries))).toBe(d.text);
  });
});

describe('ldif-writer', () => {
  it('base64-encodes exactly the values that are not safe strings', () => {
    for (const v of ['plain', 'a:b', 'a<b', 'x y', "D'ALMEIDA", '$', '']) expect(needsBase64(v), v).toBe(false);
    for (const v of [' lead', ':lead', '<lead', 'trail ', 'Éloïse', 'a\nb', 'a\rb', 'nul\u0000']) {
      expect(needsBase64(v), JSON.stringify(v)).toBe(true);
    }
  });

  it('folds at 76 columns and the project reader reads every value back', () => {
    expect(fold('x'.repeat(76))).toBe('x'.repeat(76));
    expect(
      fold('x'.repeat(200))
        .split('\n')
        .map((l) => l.length),
    ).toEqual([76, 76, 50]); // 76 + (1 + 75) + (1 + 49) characters
    const tricky = [' lead', ':colon', '<angle', 'trail ', 'Éloïse NOËL', 'é'.repeat(80), `a${'b'.repeat(300)}`, ''];
    const text = ldifRecord(
      'uid=x,dc=ent,dc=example',
      tricky.map((v) => ['description', v] as const),
    );
    expect(text.split('\n').every((line) => line.length <= 76)).toBe(true);
    expect(values(parseLdif(text, 't.ldif')[0] as LdapEntry, 'description')).toEqual(tricky);
  });
});

describe('churnDirectory', () => {
  let dir: Directory;
  let text: string;
  beforeAll(() => {
    dir = generateDirectory({ seed: 42, people: 2000, establishments: 3 });
    text = directoryLdif(dir);
  });

  /** People entries (DN → serialised attributes) of a directory text. */
  const people = (ldif: string) =>
    new Map(
      parseLdif(ldif, 'x.ldif')
        .filter((e) => has(e, 'ENTPerson'))
        .map((e) => [normalizeDn(e.dn), JSON.stringify(e.attributes)]),
    );

  for (const share of [0.05, 0.2]) {
    it(`changes about ${share * 100}% of the people, every kind of change, as the summary says`, () => {
      const { directory, summary } = churnDirectory(text, { seed: 7, share });
      const next = directoryLdif(directory);
      const [before, after] = [people(text), people(next)];
      let changed = 0;
      for (const [dn, attrs] of before) if (after.get(dn) !== attrs) changed++;
      for (const dn of after.keys()) if (!before.has(dn)) changed++;
      expect(changed).toBe(summary.peopleChanged);
      expect(changed / before.size).toBeGreaterThanOrEqual(share * 0.7);
      expect(changed / before.size).toBeLessThanOrEqual(share * 1.3);
      expect(summary.peopleBefore).toBe(2000);
      expect(summary.peopleAfter).toBe(after.size);
      expect(summary.peopleAfter).toBe(
        2000 - summary.studentsLeft - summary.parentsLeft + summary.studentsArrived + summary.parentsArrived,
      );
      for (const kind of ['classMoves', 'studentsLeft', 'studentsArrived', 'renames', 'mailChanges'] as const) {
        expect(summary[kind], kind).toBeGreaterThan(0);
      }
      expect(summary.teacherClassesGained + summary.teacherClassesLost).toBeGreaterThan(0);
    });
  }

  it('keeps links consistent, classes within 35, and stays loadable (MUST attributes kept)', () => {
    const d = new Parsed(directoryLdif(churnDirectory(text, { seed: 7, share: 0.3 }).directory));
    for (const s of d.of('ENTEleve')) {
      expect(values(s, 'ENTEleveClasses')).toHaveLength(1);
      for (const dn of values(s, 'ENTEleveParents')) {
        const p = d.get(dn) as LdapEntry;
        expect(p, dn).toBeDefined();
        expect(values(p, 'ENTAuxPersRelEleveEleve').map(normalizeDn)).toContain(normalizeDn(s.dn));
      }
    }
    for (const p of d.of('ENTAuxPersRelEleve')) {
      expect(values(p, 'ENTAuxPersRelEleveEleve').length).toBeGreaterThan(0);
      for (const dn of values(p, 'ENTAuxPersRelEleveEleve')) expect(d.get(dn), dn).toBeDefined();
    }
    for (const c of d.of('ENTClasse')) expect(values(c, 'member').length).toBeLessThanOrEqual(35);
  });

  it('is deterministic, depends on its seed, and leaves a model input untouched', () => {
    const before = directoryLdif(dir);
    const a = directoryLdif(churnDirectory(dir, { seed: 7, share: 0.05 }).directory);
    expect(directoryLdif(dir)).toBe(before);
    expect(directoryLdif(churnDirectory(parseLdif(text, 'x.ldif'), { seed: 7, share: 0.05 }).directory)).toBe(a);
    expect(directoryLdif(churnDirectory(text, { seed: 8, share: 0.05 }).directory)).not.toBe(a);
  });

  it('refuses a directory it did not write, naming the entry', () => {
    const small = readFileSync('test/fixtures/ldap/small.ldif', 'utf8');
    expect(() => churnDirectory(small, { seed: 1, share: 0.1, source: 'small.ldif' })).toThrow(UserError);
    try {
      churnDirectory(small, { seed: 1, share: 0.1, source: 'small.ldif' });
    } catch (error) {
      expect((error as UserError).code).toBe('ENTRY_INVALID');
      expect((error as UserError).message).toMatch(
        /^small\.ldif is not a directory written by "ldap2moodle generate" \(uid=/,
      );
    }
  });
});

describe('ldap2moodle generate (CLI)', () => {
  class Capture extends Writable {
    text = '';
    override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
      this.text += chunk.toString();
      callback();
    }
  }
  async function run(argv: string[]): Promise<CliRun> {
    const cli = new Cli({ binaryName: 'ldap2moodle' });
    cli.register(GenerateCommand);
    cli.register(Builtins.HelpCommand);
    const [stdout, stderr] = [new Capture(), new Capture()];
    const code = await cli.run(argv, { stdin: process.stdin, stdout, stderr, colorDepth: 1 });
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  it('writes a directory, then its next day, each with a one-line summary on stderr', async () => {
    const ws = await workspace();
    try {
      const first = await run(['generate', '--seed', '42', '--people', '2000', '--out', ws.path('d1.ldif')]);
      expect(first.code).toBe(0);
      expect(first.stderr).toMatch(
        /^generated 2000 people \(2 establishments, \d+ classes, \d+ groups\) with seed 42 → .*d1\.ldif \(\d+\.\d MB\)\n$/,
      );
      const written = readFileSync(ws.path('d1.ldif'), 'utf8');
      expect(written).toMatch(/^# Written by: ldap2moodle generate --seed 42 --people 2000\n/);
      expect(sha256(written.slice(written.indexOf('version: 1')))).toBe(SEED_42_2000_SHA256);
      const next = await run([
        'generate',
        '--churn-from',
        ws.path('d1.ldif'),
        '--seed',
        '7',
        '--share',
        '0.05',
        '--out',
        ws.path('d2.ldif'),
      ]);
      expect(next.code).toBe(0);
      expect(next.stderr).toMatch(/^churned \d+ of 2000 people \([\d.]+%, seed 7\): \d+ class moves, .* → .*d2\.ldif/);
      expect(next.stderr.split('\n')).toHaveLength(2);
      expect(parseLdif(readFileSync(ws.path('d2.ldif'), 'utf8'), 'd2.ldif').length).toBeGreaterThan(2000);
    } finally {
      await ws.remove();
    }
  });

  it('writes to stdout without --out', async () => {
    const result = await run(['generate', '--seed', '3', '--people', '100']);
    expect(result.code).toBe(0);
    expect(parseLdif(result.stdout, 'stdout').filter((e) => has(e, 'ENTPerson'))).toHaveLength(100);
  });

  it('explains wrong options', async () => {
    const cases: [string[], RegExp][] = [
      [['generate'], /^Error: give --people N \(or --churn-from FILE\)\n$/],
      [['generate', '--people', '20'], /too few for 1 establishment/],
      [['generate', '--people', '100', '--share', '0.1'], /--share goes with --churn-from/],
      [['generate', '--churn-from', 'x.ldif', '--people', '10'], /drop --people/],
      [['generate', '--churn-from', 'x.ldif', '--share', '2'], /--share must be more than 0 and at most 1/],
      [['generate', '--churn-from', '/nonexistent/x.ldif'], /^Error \[LDIF_INVALID\]: cannot read LDIF file/],
      [['generate', '--people', '100', '--out', '/nonexistent/dir/x.ldif'], /^Error: cannot write --out/],
    ];
    for (const [argv, expected] of cases) {
      const result = await run(argv);
      expect(result.code, argv.join(' ')).toBe(1);
      expect(result.stderr, argv.join(' ')).toMatch(expected);
      expect(result.stderr).not.toMatch(/Internal error|\n\s+at /);
    }
  });
});
