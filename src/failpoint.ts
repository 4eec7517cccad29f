/**
 * Crash points for the tests that prove crash safety: when `LDAP2MOODLE_FAILPOINT` names this point, the
 * process kills itself on the spot (SIGKILL: no cleanup, no finally blocks), exactly like a power cut.
 * Inert otherwise.
 */
export async function failpoint(name: string): Promise<void> {
  if (process.env.LDAP2MOODLE_FAILPOINT !== name) return;
  process.kill(process.pid, 'SIGKILL');
  await new Promise<never>(() => undefined);
}
