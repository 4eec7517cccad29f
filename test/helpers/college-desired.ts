/**
 * The desired state of the example collège's spec (possibly edited) on the fixture directory, through the pure
 * rules only: the LDIF read in memory, no Moodle.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EntityType } from '../../src/model/change.js';
import type { DesiredObject } from '../../src/model/desired.js';
import { compileRules, type DesiredState, desiredState } from '../../src/rules/rules.js';
import type { LdapEntry } from '../../src/source/entry.js';
import { LdifSource } from '../../src/source/ldif/ldif-source.js';
import { parseSpecText } from '../../src/spec/load.js';
import { COLLEGE_LDIF, COLLEGE_SPEC } from './spec-files.js';

/** Moodle 4.5's user column sizes are irrelevant here: nothing in the fixture comes near them. */
const CONSTRAINTS = { columnMaxLength: new Map<string, number | null>(), extendedUsernameChars: false };

/** `edit` changes the spec's text, `editLdif` the directory's (written to a temporary file). */
export async function collegeDesired(
  edit: (spec: string) => string = (s) => s,
  editLdif?: (ldif: string) => string,
): Promise<DesiredState> {
  const text = edit(await readFile(COLLEGE_SPEC, 'utf8'));
  const loaded = await parseSpecText(text.replace('ldif: directory.ldif', `ldif: ${COLLEGE_LDIF}`), COLLEGE_SPEC);
  const rules = compileRules(loaded);
  let ldif = COLLEGE_LDIF;
  if (editLdif !== undefined) {
    const dir = await mkdtemp(join(tmpdir(), 'l2m-desired-'));
    ldif = join(dir, 'directory.ldif');
    const original = await readFile(COLLEGE_LDIF, 'utf8');
    const edited = editLdif(original);
    if (edited === original) throw new Error('the LDIF edit changed nothing');
    await writeFile(ldif, edited);
  }
  const source = await LdifSource.open(ldif);
  try {
    const read = async (search: typeof rules.searches.people | undefined): Promise<LdapEntry[]> => {
      const out: LdapEntry[] = [];
      if (search !== undefined) for await (const entry of source.search(search)) out.push(entry);
      return out;
    };
    return desiredState(
      { people: await read(rules.searches.people), structures: await read(rules.searches.structures) },
      rules,
      CONSTRAINTS,
    );
  } finally {
    await source.close();
  }
}

export const keysOf = (state: DesiredState, entity: EntityType): string[] =>
  (state.objects.get(entity) ?? []).map((o: DesiredObject) => o.key);
