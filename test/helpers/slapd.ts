/**
 * Starts a throwaway slapd for one test file through `test/fixtures/ldap/start-slapd.sh` (which installs
 * slapd when missing and run as root). Each call gets its own free port and its own directory, so vitest
 * workers can run instances side by side.
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const START_SCRIPT = fileURLToPath(new URL('../fixtures/ldap/start-slapd.sh', import.meta.url));
const STOP_SCRIPT = fileURLToPath(new URL('../fixtures/ldap/stop-slapd.sh', import.meta.url));

export interface SlapdInstance {
  /** `ldap://127.0.0.1:<port>/` */
  readonly url: string;
  /** The size-limited service account (`cn=admin,dc=ent,dc=example` unless `LDAP_ADMIN_DN` is set). */
  readonly bindDN: string;
  readonly password: string;
  readonly baseDN: string;
  /** The instance directory (removed by `stop()`). */
  readonly dir: string;
  stop(): Promise<void>;
}

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(args: readonly string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile('bash', [...args], { env, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A TCP port free right now on 127.0.0.1 (the OS picks it; start-slapd.sh re-checks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

/** Parses the `KEY='value'` assignments start-slapd.sh prints last on stdout. */
function parseAssignments(stdout: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const match = /^([A-Z_]+)='(.*)'$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) vars.set(match[1], match[2]);
  }
  return vars;
}

/**
 * Starts slapd loaded with `ldifPath`. `env` adds start-slapd.sh settings (`LDAP_BULK: '1'` for big
 * files, `LDAP_MAX_PAGESIZE`, `LDAP_SIZELIMIT`, …). Retries on another port if the chosen one was taken
 * in the meantime.
 */
export async function startSlapd(ldifPath: string, env: Record<string, string> = {}): Promise<SlapdInstance> {
  let lastFailure = '';
  for (let attempt = 1; attempt <= 3; attempt += 1) {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), 'ldap2moodle-slapd-'));
    const processEnv = { ...process.env, ...env, LDAP_PORT: String(port), LDAP_DIR: dir };
    const result = await run([START_SCRIPT, ldifPath], processEnv);
    const vars = parseAssignments(result.stdout);
    const url = vars.get('LDAP_URL');
    const bindDN = vars.get('LDAP_BIND_DN');
    const baseDN = vars.get('LDAP_BASE_DN');
    const stop = async (): Promise<void> => {
      const stopped = await run([STOP_SCRIPT, '--purge', dir], processEnv);
      if (stopped.code !== 0) throw new Error(`stop-slapd.sh failed for ${dir}:\n${stopped.stderr}`);
    };
    if (result.code === 0 && url !== undefined && bindDN !== undefined && baseDN !== undefined) {
      return { url, bindDN, baseDN, dir, password: env.LDAP_ADMIN_PW ?? 'secret', stop };
    }
    await stop().catch(() => undefined);
    lastFailure = `start-slapd.sh ${ldifPath} (port ${port}) exited ${result.code}:\n${result.stderr}`;
    // Only a port race is worth another try; anything else (bad LDIF, missing slapd) fails at once.
    if (!/already in use|does not answer|failed to start/.test(result.stderr)) break;
  }
  throw new Error(lastFailure);
}
