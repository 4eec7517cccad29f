/**
 * LdapSource against real slapd instances (test/fixtures/ldap/start-slapd.sh): the size-limited service
 * account `cn=admin` (limit 500, like real ENT servers), paging, and every failure mode mapped to its code.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Client, SizeLimitExceededError } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import type { LdapEntry } from '../../src/source/entry.js';
import { searchError } from '../../src/source/ldap/ldap-errors.js';
import { LdapSource, type LdapSourceOptions } from '../../src/source/ldap/ldap-source.js';
import type { SearchRequest } from '../../src/source/source.js';
import { generatePeopleLdif, PEOPLE_BASE_DN } from '../helpers/gen-people.js';
import { type SlapdInstance, startSlapd } from '../helpers/slapd.js';

const SMALL_LDIF = new URL('../fixtures/ldap/small.ldif', import.meta.url).pathname;
const PEOPLE = 1200;
const PERSONS: SearchRequest = {
  base: PEOPLE_BASE_DN,
  scope: 'sub',
  filter: '(objectClass=ENTPerson)',
  attributes: ['uid', 'ENTPersonJointure', 'mail'],
};
// A subtree holding a referral object: slapd answers subtree searches there with a continuation reference.
const REFERRAL_LDIF = `
dn: ou=partners,dc=ent,dc=example
objectClass: organizationalUnit
ou: partners

dn: ou=elsewhere,ou=partners,dc=ent,dc=example
objectClass: referral
objectClass: extensibleObject
ou: elsewhere
ref: ldap://ldap.other.example/ou=people,dc=other,dc=example
`;

let small: SlapdInstance;
let big: SlapdInstance;
let capped: SlapdInstance;
let bigLdif: string;

function options(server: SlapdInstance, extra: Partial<LdapSourceOptions> = {}): LdapSourceOptions {
  return { url: server.url, bindDN: server.bindDN, password: server.password, ...extra };
}

async function collect(source: LdapSource, request: SearchRequest): Promise<LdapEntry[]> {
  const entries: LdapEntry[] = [];
  for await (const entry of source.search(request)) entries.push(entry);
  return entries;
}

/** Runs `work` with a source and always closes it. */
async function withSource<T>(opts: LdapSourceOptions, work: (source: LdapSource) => Promise<T>): Promise<T> {
  const source = await LdapSource.connect(opts);
  try {
    return await work(source);
  } finally {
    await source.close();
  }
}

/** The UserError a promise rejects with (fails the test if it resolves or throws something else). */
async function userError(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as UserError;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

beforeAll(async () => {
  bigLdif = join(tmpdir(), `ldap2moodle-people-${process.pid}-${Date.now()}.ldif`);
  await writeFile(bigLdif, generatePeopleLdif(PEOPLE) + REFERRAL_LDIF);
  [small, big, capped] = await Promise.all([
    startSlapd(SMALL_LDIF),
    startSlapd(bigLdif, { LDAP_BULK: '1' }),
    startSlapd(bigLdif, { LDAP_BULK: '1', LDAP_MAX_PAGESIZE: '100' }),
  ]);
});

afterAll(async () => {
  await Promise.all([small?.stop(), big?.stop(), capped?.stop()]);
  if (bigLdif !== undefined) await rm(bigLdif, { force: true });
});

describe('LdapSource on small.ldif', () => {
  it('returns the 41 people, attribute names lower-cased, values as string arrays', async () => {
    const entries = await withSource(options(small), (source) =>
      collect(source, { ...PERSONS, attributes: ['uid', 'givenName', 'MAIL', 'ENTPersonProfils'] }),
    );
    expect(entries).toHaveLength(41);
    for (const entry of entries) {
      expect(entry.dn).toMatch(/^uid=[^,]+,ou=people,dc=ent,dc=example$/);
      for (const [name, values] of Object.entries(entry.attributes)) {
        expect(name).toBe(name.toLowerCase());
        expect(Array.isArray(values)).toBe(true);
        expect(values.length).toBeGreaterThan(0);
        for (const value of values) expect(typeof value).toBe('string');
      }
      expect(entry.attributes.uid).toHaveLength(1);
    }
    const eloise = entries.find((e) => e.attributes.uid?.[0] === 'F4500111');
    expect(eloise?.attributes.givenname).toEqual(['Éloïse']);
    expect(eloise?.attributes.entpersonprofils).toEqual(['National_ELV', 'National_1']);
    // A person without mail has no `mail` key (not an empty array); one with two mails has both.
    const lucas = entries.find((e) => e.attributes.uid?.[0] === 'F4500166');
    expect(lucas).toBeDefined();
    expect(lucas?.attributes).not.toHaveProperty('mail');
    expect(entries.find((e) => e.attributes.uid?.[0] === 'F45001ee')?.attributes.mail).toHaveLength(2);
  });

  it('describes itself by its URL, never showing the password', async () => {
    await withSource(options(small), async (source) => {
      expect(source.description).toBe(small.url);
      expect(inspect(source, { depth: 5, showHidden: true })).not.toContain(small.password);
      expect(JSON.stringify(source)).not.toContain(small.password);
    });
  });

  it('binds anonymously when no bind DN is given', async () => {
    const entries = await withSource({ url: small.url }, (source) => collect(source, PERSONS));
    expect(entries).toHaveLength(41);
  });

  it('can be stopped early and then searched again on the same connection', async () => {
    await withSource(options(small, { pageSize: 5 }), async (source) => {
      let seen = 0;
      for await (const _entry of source.search(PERSONS)) {
        seen += 1;
        if (seen === 7) break;
      }
      expect(seen).toBe(7);
      expect(await collect(source, PERSONS)).toHaveLength(41);
    });
  });
});

describe('LdapSource paging through a size-limited account', () => {
  it('the server does cut a non-paged search at 500 entries for cn=admin', async () => {
    const client = new Client({ url: big.url, timeout: 30_000 });
    try {
      await client.bind(big.bindDN, big.password);
      const plain = client.search(PEOPLE_BASE_DN, {
        scope: 'sub',
        filter: PERSONS.filter,
        attributes: ['uid'],
      });
      await expect(plain).rejects.toMatchObject({ code: 4 });
      // And why `sizeLimit` is never sent: ldapts then returns the truncated 500 as a success.
      const truncated = await client.search(PEOPLE_BASE_DN, {
        scope: 'sub',
        filter: PERSONS.filter,
        attributes: ['uid'],
        sizeLimit: 5000,
      });
      expect(truncated.searchEntries).toHaveLength(500);
    } finally {
      await client.unbind();
    }
  });

  for (const pageSize of [200, undefined]) {
    it(`returns all ${PEOPLE} people with pageSize ${pageSize ?? 'default (500)'}`, async () => {
      const started = performance.now();
      const entries = await withSource(options(big, pageSize === undefined ? {} : { pageSize }), (source) =>
        collect(source, PERSONS),
      );
      const ms = performance.now() - started;
      console.info(`LdapSource: ${entries.length} entries, pageSize ${pageSize ?? 500}: ${ms.toFixed(0)} ms`);
      expect(entries).toHaveLength(PEOPLE);
      const uids = new Set(entries.map((e) => e.attributes.uid?.[0]));
      expect(uids.size).toBe(PEOPLE);
      const joins = new Set(entries.map((e) => e.attributes.entpersonjointure?.[0]));
      expect(joins.has('AC-TEST$1')).toBe(true);
      expect(joins.has(`AC-TEST$${PEOPLE}`)).toBe(true);
    });
  }

  it('works within a server page-size cap; above it, halves the page size until the server accepts it, and says so', async () => {
    expect(await withSource(options(capped, { pageSize: 100 }), (s) => collect(s, PERSONS))).toHaveLength(PEOPLE);
    await withSource(options(capped), async (source) => {
      // 500 → 250 → 125 → 62: the first size under the server's cap of 100.
      const entries = await collect(source, PERSONS);
      expect(entries).toHaveLength(PEOPLE);
      expect(new Set(entries.map((e) => e.dn)).size).toBe(PEOPLE);
      expect(source.warnings()).toEqual([
        `the LDAP server ${capped.url} refuses pages of 500 entries (adminLimitExceeded): the directory was read with pages of 62; set source.ldap.pageSize to 62 to spare the retries`,
      ]);
      // The size that worked is kept for the next searches (and the ldapsearch line shows it).
      expect(source.commandLine(PERSONS)).toContain('pr=62/noprompt');
      expect(await collect(source, PERSONS)).toHaveLength(PEOPLE);
      expect(source.warnings()).toHaveLength(1);
    });
    // Within the cap, nothing to say.
    await withSource(options(capped, { pageSize: 100 }), async (source) => {
      await collect(source, PERSONS);
      expect(source.warnings()).toEqual([]);
    });
  });
});

describe('LdapSource failures', () => {
  it('wrong password → LDAP_BIND, the password nowhere in the message', async () => {
    const password = 'Wr0ng-Passw0rd!';
    const error = await userError(LdapSource.connect(options(small, { password })));
    expect(error.code).toBe('LDAP_BIND');
    expect(error.message).toMatch(/^bind as cn=admin,dc=ent,dc=example refused: invalid credentials/);
    expect(error.message).not.toContain(password);
    expect(inspect(error, { depth: 10 })).not.toContain(password);
  });

  it('a bind DN without password → LDAP_BIND before anything is sent', async () => {
    const error = await userError(LdapSource.connect(options(small, { password: '' })));
    expect(error.code).toBe('LDAP_BIND');
    expect(error.message).toContain('no password');
  });

  it('nothing listening on the port → LDAP_CONNECT', async () => {
    const probe = createServer();
    const port = await listen(probe);
    await new Promise((resolve) => probe.close(resolve));
    const error = await userError(LdapSource.connect({ url: `ldap://127.0.0.1:${port}/` }));
    expect(error.code).toBe('LDAP_CONNECT');
    expect(error.message).toContain(`ldap://127.0.0.1:${port}/`);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('a server that accepts but never answers → LDAP_CONNECT after the timeout', async () => {
    const silent = createServer(() => undefined);
    const port = await listen(silent);
    try {
      const started = performance.now();
      const error = await userError(
        LdapSource.connect({
          url: `ldap://127.0.0.1:${port}/`,
          bindDN: 'cn=x',
          password: 'y',
          timeoutMs: 500,
        }),
      );
      expect(error.code).toBe('LDAP_CONNECT');
      expect(error.message).toContain('no answer within 500 ms');
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      silent.close();
    }
  });

  it('TLS problems → LDAP_CONNECT (ldaps:// on a plain port, StartTLS refused, unreadable CA)', async () => {
    const ldaps = small.url.replace(/^ldap:/, 'ldaps:');
    const plainPort = await userError(LdapSource.connect({ ...options(small), url: ldaps, timeoutMs: 5000 }));
    expect(plainPort.code).toBe('LDAP_CONNECT');
    expect(plainPort.message).toContain('TLS');
    const startTLS = await userError(LdapSource.connect(options(small, { tls: { startTLS: true } })));
    expect(startTLS.code).toBe('LDAP_CONNECT');
    expect(startTLS.message).toContain('StartTLS');
    const ca = await userError(
      LdapSource.connect({ ...options(small), url: ldaps, tls: { ca: '/nonexistent/ca.pem' } }),
    );
    expect(ca.code).toBe('LDAP_CONNECT');
    expect(ca.message).toContain('/nonexistent/ca.pem');
    const plainWithCa = await userError(LdapSource.connect(options(small, { tls: { ca: '/nonexistent/ca.pem' } })));
    expect(plainWithCa.message).toContain('not encrypted');
  });

  it('a base DN that does not exist → LDAP_SEARCH naming it', async () => {
    const request = { ...PERSONS, base: 'ou=nobody,dc=ent,dc=example' };
    const error = await userError(withSource(options(small), (s) => collect(s, request)));
    expect(error.code).toBe('LDAP_SEARCH');
    expect(error.message).toContain('ou=nobody,dc=ent,dc=example');
    expect(error.message).toContain('noSuchObject (32)');
  });

  it('a referral in the subtree → LDAP_SEARCH (referrals are not chased)', async () => {
    const request = { ...PERSONS, base: 'ou=partners,dc=ent,dc=example' };
    const error = await userError(withSource(options(big), (s) => collect(s, request)));
    expect(error.code).toBe('LDAP_SEARCH');
    expect(error.message).toContain('ldap://ldap.other.example/');
    expect(error.message).toContain('does not chase referrals');
    // The referral object itself as base: the server answers with result code referral (10).
    const atReferral = { ...PERSONS, base: 'ou=elsewhere,ou=partners,dc=ent,dc=example' };
    const base = await userError(withSource(options(big), (s) => collect(s, atReferral)));
    expect(base.code).toBe('LDAP_SEARCH');
    expect(base.message).toContain('referral (10)');
  });

  it('a paged search the server still stops at its size limit → LDAP_SEARCH, never a short result', () => {
    // The fixture server cannot be told to ignore the paged control (size.prtotal is unlimited), so this
    // checks the mapping of the error ldapts throws for result code 4 when no sizeLimit was sent.
    const error = searchError(small.url, PERSONS, new SizeLimitExceededError(), {
      pageSize: 500,
      timeoutMs: 30_000,
      entriesSoFar: 500,
    });
    expect(error.code).toBe('LDAP_SEARCH');
    expect(error.message).toContain('after 500 entries');
    expect(error.message).toContain('sizeLimitExceeded (4)');
    expect(error.message).toContain('paged results control');
  });

  it('an invalid filter → LDAP_SEARCH', async () => {
    const error = await userError(withSource(options(small), (s) => collect(s, { ...PERSONS, filter: '(uid=x' })));
    expect(error.code).toBe('LDAP_SEARCH');
    expect(error.message).toContain('RFC 4515');
  });

  it('a server that stops answering mid-search → LDAP_SEARCH after the timeout', async () => {
    const pid = Number((await readFile(join(big.dir, 'slapd.pid'), 'utf8')).trim());
    await withSource(options(big, { pageSize: 100, timeoutMs: 1000 }), async (source) => {
      let seen = 0;
      const error = await userError(
        (async () => {
          for await (const _entry of source.search(PERSONS)) {
            seen += 1;
            if (seen === 50) process.kill(pid, 'SIGSTOP');
          }
        })().finally(() => process.kill(pid, 'SIGCONT')),
      );
      expect(error.code).toBe('LDAP_SEARCH');
      expect(error.message).toContain('no page within 1000 ms');
      // The client may already hold the next page when the server stops (it reads ahead under load): the
      // count is that of the pages received, 100 or 200, never a partial page.
      expect(error.message).toMatch(/after [12]00 entries/);
    });
  });
});
