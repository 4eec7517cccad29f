/**
 * I/O: opens the source the spec names, an LDIF file or an LDAP server (bound); both behind one `Source`.
 */
import { access, constants } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { CA_FILE_LIMIT, LDIF_FILE_LIMIT, wrongInputFile } from '../bounded-read.js';
import type { Diagnostic } from '../errors.js';
import { UserError } from '../errors.js';
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

/**
 * The files the source would open (the LDIF file, the LDAP server's CA), checked readable without opening
 * anything: `validate` reports a missing one instead of saying "valid". Throws SPEC_READ listing every one.
 */
export async function checkSourceFiles(loaded: LoadedSpec): Promise<void> {
  const { source } = loaded.spec;
  const files: { readonly jsonPath: string; readonly path: string; readonly what: string; readonly limit: number }[] =
    [];
  if (source.ldif !== undefined) {
    files.push({ jsonPath: '/source/ldif', path: source.ldif, what: 'LDIF file', limit: LDIF_FILE_LIMIT });
  }
  const ca = source.ldap?.tls?.ca;
  if (ca !== undefined) {
    files.push({ jsonPath: '/source/ldap/tls/ca', path: ca, what: "LDAP server's CA file", limit: CA_FILE_LIMIT });
  }
  const problems: Diagnostic[] = [];
  let wrongKind = false;
  for (const file of files) {
    const absolute = resolveFrom(loaded.dir, file.path);
    try {
      await access(absolute, constants.R_OK);
      // A device, a FIFO or a directory would be read forever, or block, by the run.
      const wrong = await wrongInputFile(absolute, file.limit);
      if (wrong !== null) {
        wrongKind = true;
        problems.push({
          message: `the ${file.what} ${wrong}`,
          path: file.jsonPath,
          position: loaded.positionOf(file.jsonPath),
        });
      }
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'cannot be read';
      problems.push({
        message: `the ${file.what} ${absolute}: ${reason} (a relative path is relative to the spec's directory)`,
        path: file.jsonPath,
        position: loaded.positionOf(file.jsonPath),
      });
    }
  }
  if (problems.length > 0) {
    const count =
      problems.length === 1
        ? 'a file it names is missing or unusable'
        : `${problems.length} files it names are missing or unusable`;
    throw new UserError(wrongKind ? 'SPEC_INVALID' : 'SPEC_READ', `${loaded.path}: ${count}`, problems);
  }
}
