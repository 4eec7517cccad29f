import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { formatDiagnostic, UserError } from '../../src/errors.js';
import { checkSpec } from '../../src/index.js';
import { applyDefaults } from '../../src/spec/defaults.js';
import { loadSpec, parseSpecText } from '../../src/spec/load.js';
import type { SpecInput } from '../../src/spec/schema.js';
import { MINIMAL_SPEC } from '../helpers/minimal-spec.js';

/** MINIMAL_SPEC with an ldap source instead of ldif; `ldap` is inserted as the lines of source. */
function withLdap(...lines: string[]): string {
  return MINIMAL_SPEC.replace('  ldif: people.ldif\n', `  ldap:\n${lines.map((l) => `    ${l}\n`).join('')}`);
}

async function failure(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof UserError)) throw new Error(`expected a UserError, got ${String(error)}`);
  return error;
}

const scratch = mkdtempSync(join(tmpdir(), 'ldap2moodle-spec-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('parseSpecText: valid specs', () => {
  it('applies every default to a minimal spec', async () => {
    const loaded = await parseSpecText(MINIMAL_SPEC, join(scratch, 'site.yaml'), { env: {} });
    expect(loaded.spec).toStrictEqual({
      version: 1,
      citesScolaires: false,
      source: { ldif: 'people.ldif' },
      moodle: {
        driver: 'mariadb',
        database: 'moodle',
        host: '127.0.0.1',
        prefix: 'mdl_',
        lockTimeout: 10,
      },
      users: {
        search: { base: 'ou=people,dc=example,dc=org', scope: 'sub', filter: '(objectClass=*)' },
        auth: 'cas',
        fields: { username: '{uid|lower}', firstname: '{givenName}', lastname: '{sn}' },
        match: 'username',
        onRemoved: 'suspend',
        adopt: 'never',
        onInvalidEntry: 'skip',
      },
      onDataError: 'skip',
    });
    expect(loaded.path).toBe(join(scratch, 'site.yaml'));
    expect(loaded.dir).toBe(scratch);
    expect(loaded.hash).toBe(createHash('sha256').update(MINIMAL_SPEC).digest('hex'));
    expect(loaded.secrets).toEqual([]);
  });

  it('gives the position of written values, none for defaulted ones', async () => {
    const loaded = await parseSpecText(MINIMAL_SPEC, 'site.yaml', { env: {} });
    expect(loaded.positionOf('/users/fields/username')).toEqual({ file: 'site.yaml', line: 12, column: 15 });
    expect(loaded.positionOf('/moodle')).toEqual({ file: 'site.yaml', line: 5, column: 3 });
    expect(loaded.positionOf('/moodle/port')).toBeUndefined();
    expect(loaded.positionOf('/nothing/here')).toBeUndefined();
  });

  it('fills defaults inside present optional objects only', async () => {
    const without = await parseSpecText(withLdap('url: ldap://x', 'baseDN: dc=x'), 's.yaml', { env: {} });
    expect(without.spec.source.ldap).toStrictEqual({
      url: 'ldap://x',
      baseDN: 'dc=x',
      pageSize: 500,
      timeout: 30000,
    });
    expect(without.spec.state).toBeUndefined();
    const withTls = await parseSpecText(withLdap('url: ldap://x', 'baseDN: dc=x', 'tls: {}'), 's.yaml', {
      env: {},
    });
    expect(withTls.spec.source.ldap?.tls).toStrictEqual({ verify: true, startTLS: false });
  });

  it('applyDefaults returns a new object and leaves its input alone', () => {
    const input: SpecInput = {
      version: 1,
      source: { ldif: 'a.ldif' },
      moodle: { driver: 'mysql', database: 'm', port: 3307 },
      users: {
        search: { base: 'dc=x' },
        auth: 'cas',
        fields: { username: 'u', firstname: 'f', lastname: 'l' },
      },
    };
    const before = structuredClone(input);
    const spec = applyDefaults(input);
    expect(input).toStrictEqual(before);
    expect(spec.moodle.port).toBe(3307);
    expect(spec.users.search).not.toBe(input.users.search);
  });

  it('reads JSON with positions at the right places', async () => {
    const fields = '"username": "{uid}", "firstname": "{cn}", "lastname": "{sn}", "emial": "{mail}"';
    const usersLine = `  "users": { "search": { "base": "dc=x" }, "auth": "cas", "fields": { ${fields} } }`;
    const json = [
      '{',
      '  "version": 1,',
      '  "source": { "ldif": "people.ldif" },',
      '  "moodle": {',
      '\t"driver": "oracle",',
      '\t"database": "moodle",',
      '\t"port": "3306"',
      '  },',
      usersLine,
      '}',
      '',
    ].join('\n');
    const column = (text: string) => usersLine.indexOf(text) + 1;
    const error = await failure(parseSpecText(json, 'site.json', { env: {} }));
    expect(error.diagnostics.map(formatDiagnostic)).toEqual([
      'site.json:5:12: must be one of: mariadb, mysql, postgres, embedded (at /moodle/driver)',
      'site.json:7:10: expected a whole number, got a string; remove the quotes (at /moodle/port)',
      `site.json:9:${column('"emial"')}: unknown key "emial"; did you mean "email"? (allowed: username, idnumber, firstname, lastname, email, middlename, alternatename, institution, department, city, country) (at /users/fields/emial)`,
    ]);
    const fixed = json.replace('oracle', 'mysql').replace('"3306"', '3306').replace('emial', 'email');
    const valid = await parseSpecText(fixed, 'site.json', { env: {} });
    expect(valid.positionOf('/users/fields/email')).toEqual({
      file: 'site.json',
      line: 9,
      column: column('"{mail}"'),
    });
    expect(valid.positionOf('/moodle/port')).toEqual({ file: 'site.json', line: 7, column: 10 });
    expect(valid.spec.moodle.driver).toBe('mysql');
  });

  it('quotes JSON suggestions the JSON way and rejects YAML-only scalars in .json', async () => {
    const json = JSON.stringify(parseYaml(MINIMAL_SPEC), null, 2).replace('"{sn}"', '061300');
    const error = await failure(parseSpecText(json, 'site.json', { env: {} }));
    expect(error.diagnostics.map((d) => d.message)).toEqual(['invalid JSON: Unresolved plain scalar "061300"']);
    const number = await failure(parseSpecText(json.replace('061300', '61300'), 'site.json', { env: {} }));
    expect(number.diagnostics.map((d) => d.message)).toEqual(['expected a string; quote the value: "61300"']);
  });
});

describe('parseSpecText: mapping keys must be text', () => {
  it('reports every number, boolean or null key with its position, all at once', async () => {
    const text = `${MINIMAL_SPEC}transcodings:
  uaiNames:
    values:
      061300: Lycée Mistral
      '0450001A': Collège
      12: Douze
      true: Vrai
      ~: Rien
`;
    const error = await failure(parseSpecText(text, 'keys.yaml', { env: {} }));
    expect(error.code).toBe('SPEC_INVALID');
    expect(error.message).toBe('keys.yaml: 4 problems in the spec');
    expect(error.diagnostics.map(formatDiagnostic)).toEqual([
      'keys.yaml:18:7: key 061300 must be a string: write it in quotes ("061300") so that leading zeros are kept',
      'keys.yaml:20:7: key 12 must be a string: write it in quotes ("12") so that it stays text (YAML reads it as a number)',
      'keys.yaml:21:7: key true must be a string: write it in quotes ("true") so that it stays text (YAML reads it as a boolean)',
      'keys.yaml:22:7: key ~ must be a string: write it in quotes ("~") so that it stays text (YAML reads it as null)',
    ]);
    const quoted = text
      .replace('061300:', "'061300':")
      .replace('12:', '"12":')
      .replace('true:', 'yes:')
      .replace('~:', "'~':");
    const loaded = await parseSpecText(quoted, 'keys.yaml', { env: {} });
    expect(loaded.spec.transcodings?.uaiNames?.values).toEqual({
      '061300': 'Lycée Mistral',
      '0450001A': 'Collège',
      '12': 'Douze',
      yes: 'Vrai',
      '~': 'Rien',
    });
  });

  it('leaves JSON keys alone (they are always strings)', async () => {
    const data = {
      ...(parseYaml(MINIMAL_SPEC) as object),
      transcodings: { t: { values: { '061300': 'x', true: 'y' } } },
    };
    const loaded = await parseSpecText(JSON.stringify(data, null, 2), 'site.json', { env: {} });
    expect(loaded.spec.transcodings?.t?.values).toEqual({ '061300': 'x', true: 'y' });
  });
});

describe('parseSpecText: secrets', () => {
  const password = 'S3cr3t-p@ss';
  const ldapSpec = withLdap('url: ldap://x', 'baseDN: dc=x', 'bindDN: cn=admin,dc=x', 'password: ${env:LDAP_PW}');

  it('resolves ${env:NAME}, keeps $${ literal, and lists the secrets', async () => {
    const text = ldapSpec.replace("'{sn}'", () => "'$${sn} {sn}'");
    const loaded = await parseSpecText(text, 's.yaml', { env: { LDAP_PW: password } });
    expect(loaded.spec.source.ldap?.password).toBe(password);
    expect(loaded.spec.users.fields.lastname).toBe('${sn} {sn}');
    expect(loaded.secrets).toEqual([password]);
  });

  it('names every unset variable with its position, all at once', async () => {
    const text = ldapSpec.replace('database: moodle', 'database: moodle\n  password: ${env:DB_PW}');
    const error = await failure(parseSpecText(text, 's.yaml', { env: { DB_PW: '' } }));
    expect(error.code).toBe('SECRET_UNSET');
    expect(error.message).toContain('${env:LDAP_PW} at s.yaml:7:15');
    expect(error.diagnostics.map(formatDiagnostic)).toEqual([
      's.yaml:7:15: environment variable LDAP_PW is not set (at /source/ldap/password)',
      's.yaml:11:13: environment variable DB_PW is empty (at /moodle/password)',
    ]);
  });

  it('resolves ${file:…} relative to the spec directory, trimming the trailing newline', async () => {
    writeFileSync(join(scratch, 'ldap.pw'), `${password}\n`);
    const text = ldapSpec.replace('${env:LDAP_PW}', '${file:ldap.pw}');
    const loaded = await parseSpecText(text, join(scratch, 'site.yaml'), { env: {} });
    expect(loaded.spec.source.ldap?.password).toBe(password);
    expect(loaded.secrets).toEqual([password]);
    const missing = await failure(
      parseSpecText(text.replace('ldap.pw', 'nope.pw'), 'x.yaml', { env: {}, dir: scratch }),
    );
    expect(missing.code).toBe('SECRET_UNSET');
    expect(missing.diagnostics[0]?.message).toBe(`cannot read secret file ${join(scratch, 'nope.pw')} (ENOENT)`);
    expect(missing.diagnostics[0]?.position).toEqual({ file: 'x.yaml', line: 7, column: 15 });
  });

  it('never puts a secret value in an error', async () => {
    const env = { LDAP_PW: password };
    const invalid = await failure(parseSpecText(ldapSpec.replace('baseDN: dc=x', 'baseDN: ""'), 's.yaml', { env }));
    const unset = await failure(parseSpecText(`${ldapSpec}  department: \${env:NOPE}\n`, 's.yaml', { env }));
    const literal = await failure(
      parseSpecText(ldapSpec.replace('${env:LDAP_PW}', `${password}\${x}`).replace('cas', 'C'), 's.yaml', {
        env,
      }),
    );
    const number = await failure(parseSpecText(ldapSpec.replace('${env:LDAP_PW}', '123456'), 's.yaml', { env }));
    expect(number.diagnostics.map((d) => d.message)).toEqual(['expected a string; put the value in quotes']);
    for (const error of [invalid, unset, literal, number]) {
      const shown = [error.message, ...error.diagnostics.map(formatDiagnostic)].join('\n');
      expect(shown).not.toContain(password);
      expect(shown).not.toContain('123456');
    }
    expect(literal.diagnostics.map((d) => d.message)).toContain(
      'unknown ${…} reference (a template placeholder is written {attribute}, without $); ' +
        'write ${env:NAME} or ${file:PATH} (PATH relative to the spec), or $${ for a literal ${',
    );
  });
});

describe('loadSpec', () => {
  it('loads a file, hashing its bytes', async () => {
    const file = join(scratch, 'college.yaml');
    writeFileSync(file, MINIMAL_SPEC);
    const loaded = await loadSpec(file, { env: {} });
    expect(loaded.hash).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
    expect(loaded.positionOf('/version')).toEqual({ file, line: 1, column: 10 });
  });

  it('reports an unreadable file as SPEC_READ', async () => {
    const error = await failure(loadSpec(join(scratch, 'missing.yaml')));
    expect(error.code).toBe('SPEC_READ');
    expect(error.message).toContain('missing.yaml');
    expect(error.message).toContain('no such file');
    expect((await failure(loadSpec(scratch))).message).toContain(`${scratch} is a directory, not a regular file`);
  });

  it('counts the problems in the message', async () => {
    const error = await failure(parseSpecText(MINIMAL_SPEC.replace('cas', 'CAS'), 'one.yaml', { env: {} }));
    expect(error.code).toBe('SPEC_INVALID');
    expect(error.message).toBe('one.yaml: 1 problem in the spec');
  });
});

describe('loadSpec: transcoding CSV files', () => {
  const LEVELS = 'from,to\n6EME,Sixième\n5EME,Cinquième\n';
  /** MINIMAL_SPEC with `transcodings`, each line indented under it. */
  const withTranscodings = (...lines: string[]): string =>
    `${MINIMAL_SPEC}transcodings:\n${lines.map((l) => `  ${l}\n`).join('')}`;
  /** A fresh directory in scratch holding `files`. */
  const site = (name: string, files: Readonly<Record<string, string>>): string => {
    const dir = join(scratch, name);
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(join(dir, file, '..'), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
    return dir;
  };

  it('reads them when the spec is loaded, relative to its directory, and the rules use their text', async () => {
    const dir = site('csv-read', {
      'levels.csv': LEVELS,
      'ldap2moodle.yaml': withTranscodings('levels: { csv: levels.csv }', 'again: { csv: ./levels.csv }'),
    });
    const loaded = await loadSpec(join(dir, 'ldap2moodle.yaml'), { env: {} });
    expect(loaded.transcodingFiles).toEqual(
      new Map([
        ['levels', { path: join(dir, 'levels.csv'), text: LEVELS }],
        ['again', { path: join(dir, 'levels.csv'), text: LEVELS }],
      ]),
    );
    expect(checkSpec(loaded).transcodings.get('levels')?.lookup('5EME')).toBe('Cinquième');
  });

  it("resolves a path a base gives against the spec's directory too, not the base's", async () => {
    const dir = site('csv-base', {
      'levels.csv': LEVELS,
      'shared/base.yaml': 'transcodings: { levels: { csv: levels.csv } }\n',
      'shared/levels.csv': 'from,to\n6EME,not this one\n',
      'ldap2moodle.yaml': `extends: shared/base.yaml\n${MINIMAL_SPEC}`,
    });
    const loaded = await loadSpec(join(dir, 'ldap2moodle.yaml'), { env: {} });
    expect(loaded.transcodingFiles.get('levels')).toEqual({ path: join(dir, 'levels.csv'), text: LEVELS });
  });

  it('reports every unreadable file at once, at its csv: key when the spec writes it (SPEC_INVALID: one is a directory)', async () => {
    const dir = site('csv-missing', {
      'levels.csv': LEVELS,
      'shared/base.yaml': 'transcodings: { fromBase: { csv: base.csv } }\n',
      'ldap2moodle.yaml': `extends: shared/base.yaml\n${withTranscodings(
        'subjects:',
        '  onUnknown: keep',
        '  csv: subjects.csv',
        'levels: { csv: levels.csv }',
        'folder: { values: { a: b }, csv: shared }',
      )}`,
    });
    const spec = join(dir, 'ldap2moodle.yaml');
    const error = await failure(loadSpec(spec, { env: {} }));
    expect(error.code).toBe('SPEC_INVALID');
    expect(error.message).toBe(
      `${spec}: cannot read 3 transcoding files ${join(dir, 'base.csv')}, ${join(dir, 'subjects.csv')}, ${join(dir, 'shared')}. ` +
        `A relative csv path is relative to the spec's directory (${dir}).`,
    );
    expect(error.diagnostics.map(formatDiagnostic)).toEqual([
      `${spec}:19:5: cannot read the transcoding file ${join(dir, 'subjects.csv')}: no such file (at /transcodings/subjects/csv)`,
      `${spec}:21:31: cannot read the transcoding file ${join(dir, 'shared')}: ${join(dir, 'shared')} is a directory, not a regular file (at /transcodings/folder/csv)`,
      // Written in the base, not in the spec file: the path says which table, no position.
      `cannot read the transcoding file ${join(dir, 'base.csv')}: no such file (at /transcodings/fromBase/csv)`,
    ]);
  });

  it('leaves CSV syntax to the rules, which name the file and the line (validate reports it)', async () => {
    const dir = site('csv-syntax', {
      'levels.csv': 'from,to\n6EME,"Sixième\n5EME,Cinquième\n',
      'ldap2moodle.yaml': withTranscodings('levels: { csv: levels.csv }'),
    });
    const spec = join(dir, 'ldap2moodle.yaml');
    const loaded = await loadSpec(spec, { env: {} });
    let caught: unknown;
    try {
      checkSpec(loaded);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UserError);
    expect((caught as UserError).code).toBe('SPEC_INVALID');
    expect((caught as UserError).diagnostics.map(formatDiagnostic)).toEqual([
      `${spec}:16:11: ${join(dir, 'levels.csv')} line 2: unterminated quote: a quoted cell needs its closing " (at /transcodings/levels)`,
    ]);
  });

  it('hashes their bytes with the spec: a changed levels.csv is a changed spec', async () => {
    const text = withTranscodings('levels: { csv: levels.csv }');
    const dir = site('csv-hash', { 'levels.csv': LEVELS, 'ldap2moodle.yaml': text });
    const spec = join(dir, 'ldap2moodle.yaml');
    const first = (await loadSpec(spec, { env: {} })).hash;
    expect(first).not.toBe(createHash('sha256').update(text).digest('hex'));
    expect((await loadSpec(spec, { env: {} })).hash).toBe(first);
    writeFileSync(join(dir, 'levels.csv'), LEVELS.replace('Sixième', '6e'));
    const changed = (await loadSpec(spec, { env: {} })).hash;
    expect(changed).not.toBe(first);
    writeFileSync(join(dir, 'levels.csv'), LEVELS);
    expect((await loadSpec(spec, { env: {} })).hash).toBe(first);
  });
});

// Each <name>.yaml has a <name>.txt with its diagnostics; UPDATE_GOLDEN=1 rewrites them (review the diff!).
describe('golden spec errors', () => {
  const dir = fileURLToPath(new URL('../golden/spec-errors/', import.meta.url));
  const inputs = readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f));

  it('has inputs', () => expect(inputs.length).toBeGreaterThanOrEqual(9));

  it.each(inputs)('%s', async (name) => {
    const error = await failure(parseSpecText(readFileSync(join(dir, name), 'utf8'), name, { env: {}, dir }));
    expect(error.code).toBe('SPEC_INVALID');
    const n = error.diagnostics.length;
    expect(error.message).toBe(`${name}: ${n === 1 ? '1 problem' : `${n} problems`} in the spec`);
    const actual = `${error.diagnostics.map(formatDiagnostic).join('\n')}\n`;
    const expectedFile = join(dir, name.replace(/\.[^.]+$/, '.txt'));
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(expectedFile, actual);
    expect(actual).toBe(readFileSync(expectedFile, 'utf8'));
  });
});

describe('extends: the name of an inherited rule', () => {
  const BASE = `categories:
  rules:
    establishment: { from: structures, idnumber: '{ENTStructureUAI}', name: '{ou}' }
    level: { enabled: false, idnumber: '{$uai}-{$level}', name: '{$level}', parent: '{$uai}' }
`;
  const load = async (categories: string): Promise<string[]> => {
    const dir = join(scratch, `inherited-${createHash('sha256').update(categories).digest('hex').slice(0, 8)}`);
    mkdirSync(join(dir, 'farm'), { recursive: true });
    writeFileSync(join(dir, 'farm', 'base.yaml'), BASE);
    writeFileSync(join(dir, 'ldap2moodle.yaml'), `extends: farm/base.yaml\n${MINIMAL_SPEC}categories:\n${categories}`);
    const error = await failure(loadSpec(join(dir, 'ldap2moodle.yaml'), { env: {} }));
    return error.diagnostics.map((d) => `${d.position?.line}:${d.position?.column} ${d.message}`);
  };

  it('says which rule of the bases a misspelt one is likely to be, once, naming the base file', async () => {
    expect(await load('  rules:\n    levle: { enabled: true }\n')).toEqual([
      '18:5 no rule "levle" in farm/base.yaml; did you mean "level"? (a new rule must give idnumber, name)',
    ]);
  });

  it('still holds a new rule, named like none of the bases, to every required key', async () => {
    expect(await load('  rules:\n    division: { enabled: true, name: x }\n')).toEqual([
      '18:5 missing required key "idnumber"',
    ]);
  });
});

describe('lock.staleAfter', () => {
  it('is a duration: 6h by default in the lock policy, a spec value taken, others refused where they are', async () => {
    const { lockPolicyOf } = await import('../../src/index.js');
    const plain = await parseSpecText(MINIMAL_SPEC, join(scratch, 'site.yaml'), { env: {} });
    expect(lockPolicyOf(plain).staleAfterMs).toBe(6 * 3_600_000);
    const shorter = await parseSpecText(`${MINIMAL_SPEC}lock:\n  staleAfter: 1h30m\n`, join(scratch, 'site.yaml'), {
      env: {},
    });
    expect(lockPolicyOf(shorter, { lockTimeoutMs: 5_000 })).toMatchObject({
      timeoutMs: 5_000,
      staleAfterMs: 5_400_000,
    });

    const words = await failure(
      parseSpecText(`${MINIMAL_SPEC}lock:\n  staleAfter: six hours\n`, join(scratch, 'site.yaml'), { env: {} }),
    );
    expect(words.code).toBe('SPEC_INVALID');
    expect(words.diagnostics.map((d) => d.path)).toEqual(['/lock/staleAfter']);

    const zero = await parseSpecText(`${MINIMAL_SPEC}lock:\n  staleAfter: 0s\n`, join(scratch, 'site.yaml'), {
      env: {},
    });
    let caught: unknown;
    try {
      checkSpec(zero);
    } catch (error) {
      caught = error;
    }
    expect((caught as UserError).code).toBe('SPEC_INVALID');
    expect((caught as UserError).diagnostics.map(formatDiagnostic)).toEqual([
      `${join(scratch, 'site.yaml')}:16:15: lock.staleAfter must be more than 0 (it would take over every lock, live ones too); e.g. 6h (at /lock/staleAfter)`,
    ]);
  });
});
