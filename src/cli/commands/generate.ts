import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { Command, Option, UsageError } from 'clipanion';
import * as t from 'typanion';
import type { ChurnSummary, Directory } from '../../index.js';
import {
  churnDirectory,
  generateDirectory,
  MIN_PEOPLE_PER_ESTABLISHMENT,
  PEOPLE_PER_ESTABLISHMENT,
  readLdifFile,
  writeDirectoryLdif,
} from '../../index.js';
import { BaseCommand } from '../base-command.js';

const positiveInteger = t.cascade(t.isNumber(), [t.isInteger(), t.isAtLeast(1)]);

/**
 * `generate`: a synthetic SDET directory as LDIF (deterministic for a seed), or the next day of one
 * (`--churn-from`). No spec, no Moodle: it extends clipanion's Command, with the same error output as the
 * other commands.
 */
export class GenerateCommand extends BaseCommand {
  static override paths = [['generate']];
  static override usage = Command.Usage({
    description: 'Write a synthetic SDET directory (LDIF), or the next day of one',
    details:
      "Generates N fictional people (students in classes, parents, teachers, staff) over establishments of about 1,700 people, in the value forms of real SDET directories. The same seed and size always give the same bytes. With --churn-from, reads a directory written by this command and writes the next day: about --share of the people changed (class moves, leavers, arrivals, renames, mails, teachers' classes). A one-line summary goes to stderr.",
    examples: [
      ['10,000 people', '$0 generate --seed 42 --people 10000 --out directory.ldif'],
      ['Six establishments', '$0 generate --seed 42 --people 10000 --establishments 6 --out directory.ldif'],
      ['The next day, 5% changed', '$0 generate --churn-from directory.ldif --seed 7 --share 0.05 --out day2.ldif'],
    ],
  });

  seed = Option.String('--seed', '1', { description: 'Seed of the pseudo-random choices (any text)' });
  people = Option.String('--people', { description: 'Number of people to generate', validator: positiveInteger });
  establishments = Option.String('--establishments', {
    description: `Number of establishments (default: people / ${PEOPLE_PER_ESTABLISHMENT}, rounded up)`,
    validator: positiveInteger,
  });
  churnFrom = Option.String('--churn-from', { description: 'A generated LDIF to write the next day of' });
  share = Option.String('--share', {
    description: 'With --churn-from: share of the people to change (default 0.05)',
    validator: t.isNumber(),
  });
  out = Option.String('--out,-o', { description: 'Output file (default: standard output)' });

  async run(): Promise<number> {
    const { directory, summary } = await this.build();
    const bytes = await this.write(directory, this.header());
    const where = this.out === undefined ? 'stdout' : `${this.out} (${(bytes / 1e6).toFixed(1)} MB)`;
    this.context.stderr.write(`${summary} → ${where}\n`);
    return 0;
  }

  private async build(): Promise<{ directory: Directory; summary: string }> {
    if (this.churnFrom !== undefined) {
      if (this.people !== undefined || this.establishments !== undefined) {
        throw new UsageError(
          '--churn-from keeps the people and establishments of its input: drop --people/--establishments',
        );
      }
      const share = this.share ?? 0.05;
      if (!(share > 0 && share <= 1)) throw new UsageError(`--share must be more than 0 and at most 1, got ${share}`);
      const { directory, summary } = churnDirectory(await readLdifFile(this.churnFrom), {
        seed: this.seed,
        share,
        source: this.churnFrom,
      });
      return { directory, summary: churnLine(summary, this.seed) };
    }
    if (this.people === undefined) throw new UsageError('give --people N (or --churn-from FILE)');
    if (this.share !== undefined) throw new UsageError('--share goes with --churn-from');
    const count = this.establishments ?? Math.ceil(this.people / PEOPLE_PER_ESTABLISHMENT);
    if (this.people < count * MIN_PEOPLE_PER_ESTABLISHMENT) {
      throw new UsageError(
        `${this.people} people are too few for ${count} establishment(s): give at least ${count * MIN_PEOPLE_PER_ESTABLISHMENT} (${MIN_PEOPLE_PER_ESTABLISHMENT} each)`,
      );
    }
    const directory = generateDirectory({ seed: this.seed, people: this.people, establishments: count });
    const classes = directory.establishments.reduce((sum, e) => sum + e.classes.length, 0);
    const groups = directory.establishments.reduce((sum, e) => sum + e.groups.length, 0);
    const summary = `generated ${directory.people.length} people (${count} establishment${count === 1 ? '' : 's'}, ${classes} classes, ${groups} groups) with seed ${this.seed}`;
    return { directory, summary };
  }

  private header(): string[] {
    const made = this.churnFrom
      ? `ldap2moodle generate --churn-from ${this.churnFrom} --seed ${this.seed} --share ${this.share ?? 0.05}`
      : `ldap2moodle generate --seed ${this.seed} --people ${this.people}${this.establishments ? ` --establishments ${this.establishments}` : ''}`;
    // The header must stay ASCII and one line per comment: keep only printable ASCII of the arguments.
    return [
      `Written by: ${made.replace(/[^\x20-\x7e]/g, '?')}`,
      'A fictional SDET (ESCO flavour) directory: no real person.',
    ];
  }

  /** To stdout (a closed pipe, as with `| head`, just ends the output), or to a temporary file renamed over --out. */
  private async write(directory: Directory, comment: string[]): Promise<number> {
    if (this.out === undefined) {
      try {
        return await writeDirectoryLdif(directory, this.context.stdout as Writable, { comment });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EPIPE') return 0;
        throw error;
      }
    }
    const temporary = `${this.out}.tmp-${process.pid}`;
    const stream = createWriteStream(temporary);
    try {
      const bytes = await writeDirectoryLdif(directory, stream, { comment });
      await new Promise<void>((resolve, reject) =>
        stream.end((error?: Error | null) => (error ? reject(error) : resolve())),
      );
      await rename(temporary, this.out);
      return bytes;
    } catch (error) {
      stream.destroy();
      await rm(temporary, { force: true });
      const reason = error instanceof Error ? error.message : String(error);
      throw new UsageError(
        `cannot write --out ${this.out}: ${reason}; check that its directory exists and is writable`,
      );
    }
  }
}

function churnLine(s: ChurnSummary, seed: string): string {
  const pct = ((100 * s.peopleChanged) / s.peopleBefore).toFixed(1);
  return (
    `churned ${s.peopleChanged} of ${s.peopleBefore} people (${pct}%, seed ${seed}): ${s.classMoves} class moves, ` +
    `${s.studentsLeft} students left (+${s.parentsLeft} parents), ${s.studentsArrived} arrived (+${s.parentsArrived} parents), ` +
    `${s.renames} renames, ${s.mailChanges} new mails, ${s.teacherClassesGained + s.teacherClassesLost} teacher class changes; ` +
    `${s.peopleAfter} people now`
  );
}
