import { readFile } from 'node:fs/promises';
import { Command, Option } from 'clipanion';
import { forceUnlock, lockPolicyOf, openSpecMoodle, statePath } from '../../index.js';
import { SpecCommand } from '../base-command.js';

export class ForceUnlockCommand extends SpecCommand {
  static override paths = [['force-unlock']];
  static override usage = Command.Usage({
    description:
      'Remove the apply lock left on Moodle by an apply that is gone (its id is in the MOODLE_LOCKED message)',
    details:
      'Only the lock whose id is given is removed; any other id is refused, naming the current holder. ' +
      "On MariaDB/MySQL and PostgreSQL the lock is the server's advisory lock, freed when the holder's session ends: " +
      'force-unlock then removes a stale holder record, and for a session still alive it says how to find it and end it ' +
      "(no session can release another's lock). On Galera the lock is a row in config_plugins, which force-unlock deletes. " +
      'The embedded Moodle is locked by its directory lock file only. ' +
      "The state file's lock (<state>.lock) records no id: it is reported, never removed here. " +
      'Without force-unlock, apply and plan take over by themselves, with a warning, a lock whose process is gone ' +
      "from this host or older than the spec's lock.staleAfter (default 6h), except an advisory lock a live session holds.",
    examples: [
      [
        'Remove the lock of an apply whose machine died',
        '$0 force-unlock --spec site.yaml 3f0c9a6e-1b7d-4c55-9a51-2f1e0b7c8d90',
      ],
    ],
  });

  lockId = Option.String({ name: 'LOCK_ID' });

  async run(): Promise<number> {
    const loaded = await this.loadSpec();
    const { stdout } = this.context;
    await this.reportStateLock(statePath(loaded));
    // The embedded Moodle refuses to open while a live process holds its directory: that error says who (one
    // left by a process gone from this host, or older than lock.staleAfter, is taken over with a warning).
    const db = await openSpecMoodle(loaded, lockPolicyOf(loaded, { onLockNotice: this.onLockNotice }));
    try {
      const { removed, nothingRemoved } = await forceUnlock(db, this.lockId);
      for (const what of removed) stdout.write(`Removed ${what}.\n`);
      if (nothingRemoved !== undefined) stdout.write(`${nothingRemoved}\n`);
      return 0;
    } finally {
      await db.close();
    }
  }

  /** The state lock file records no lock id (src/lock-file.ts): shown so that its owner can judge it. */
  private async reportStateLock(path: string): Promise<void> {
    const text = await readFile(`${path}.lock`, 'utf8').catch(() => null);
    if (text === null) return;
    this.context.stderr.write(
      `Note: ${path}.lock exists (${text.trim()}). It records no lock id, so force-unlock leaves it: an apply ` +
        'takes it over by itself, with a warning, when its process is gone from this host or it is older than ' +
        'lock.staleAfter; otherwise delete it by hand once that process is gone.\n',
    );
  }
}
