/**
 * I/O: opens the source the spec names, an LDIF file or an LDAP server (bound); both behind one `Source`.
 */
import { isAbsolute, resolve } from 'node:path';
import type { LoadedSpec } from '../spec/load.js';
import { LdapSource } from './ldap/ldap-source.js';
import { LdifSource } from './ldif/ldif-source.js';
import type { Source } from './source.js';

const resolveFrom = (dir: string, path: string): string => (isAbsolute(path) ? path : resolve(dir, path));

export async function openSource(loaded: LoadedSpec): Promise<Source> {
  const { source } = loaded.spec;
  if (source.ldif !== undefined) return LdifSource.open(resolveFrom(loaded.dir, source.ldif));
  if (source.ldap !== undefined) {
    const { ldap } = source;
    return LdapSource.connect({
      url: ldap.url,
      bindDN: ldap.bindDN,
      password: ldap.password,
      pageSize: ldap.pageSize,
      timeoutMs: ldap.timeout,
      tls: ldap.tls && { ...ldap.tls, ca: ldap.tls.ca && resolveFrom(loaded.dir, ldap.tls.ca) },
    });
  }
  throw new Error('unreachable: the schema requires ldif or ldap');
}
