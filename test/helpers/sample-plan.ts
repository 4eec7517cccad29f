/**
 * A hand-built plan with every entity, most actions, skipped entries (one quoting a username, one a data
 * problem) and warnings quoting a user: the input of the Markdown goldens and of the redaction tests.
 */
import type { Change } from '../../src/model/change.js';
import type { Plan } from '../../src/model/plan.js';

export function change(over: Partial<Change> & Pick<Change, 'action' | 'key'>): Change {
  const entity = over.entity ?? 'user';
  return {
    entity,
    address: `${entity}[${JSON.stringify(over.key)}]`,
    moodleId: null,
    dn: `uid=${over.key},ou=people,dc=ent,dc=example`,
    before: null,
    after: {},
    sourceDigest: null,
    reason: 'because',
    ...over,
  };
}

/** Every entity and action, a skipped user and a data problem, warnings quoting a user. */
export const samplePlan: Plan = {
  changes: [
    change({
      entity: 'category',
      action: 'create',
      key: '0450001A',
      dn: 'ou=0450001A,ou=structures,dc=ent,dc=example',
      after: { name: 'Collège Le Grand Cèdre', idnumber: '0450001A' },
      reason: 'in the directory, not in Moodle',
    }),
    change({
      action: 'create',
      key: 'f4500111',
      after: {
        auth: 'cas',
        username: 'f4500111',
        firstname: 'Éloïse',
        lastname: 'MARTIN-DUBOIS',
        email: 'eloise.martin-dubois@ent.example',
      },
      reason: 'in the directory, not in Moodle',
    }),
    change({
      action: 'adopt',
      key: 'f4500122',
      moodleId: 12,
      before: { auth: 'manual' },
      after: { auth: 'cas' },
      reason: 'existing unmanaged account taken over (users.adopt: matching)',
    }),
    change({
      action: 'update',
      key: 'f4500133',
      moodleId: 13,
      before: { email: 'old@ent.example', lastname: 'Durand' },
      after: { email: 'new@ent.example', lastname: 'Durand-Petit' },
      reason: 'directory values differ from Moodle',
    }),
    change({
      action: 'suspend',
      key: 'f4500155',
      moodleId: 15,
      dn: null,
      before: { suspended: 0 },
      after: { suspended: 1 },
      reason: 'no longer in the directory (onRemoved: suspend for student)',
    }),
    change({
      entity: 'profile_data',
      action: 'update',
      key: 'ent_classes/f4500133',
      moodleId: 40,
      dn: 'uid=f4500133,ou=people,dc=ent,dc=example',
      before: { data: '6EME1' },
      after: { data: '6EME2' },
      refs: { field: { entity: 'profile_field', key: 'ent_classes' }, user: { entity: 'user', key: 'f4500133' } },
      reason: 'directory value differs from Moodle',
    }),
    change({
      entity: 'cohort',
      action: 'create',
      key: '0450001A-6EME1',
      dn: 'ou=0450001A,ou=structures,dc=ent,dc=example',
      after: { name: '6EME1', idnumber: '0450001A-6EME1', context: 'category 0450001A' },
      refs: { category: { entity: 'category', key: '0450001A' } },
      reason: 'in the directory, not in Moodle',
    }),
    change({
      entity: 'cohort_member',
      action: 'create',
      key: '0450001A-6EME1/f4500111',
      dn: 'uid=f4500111,ou=people,dc=ent,dc=example',
      after: { cohort: '0450001A-6EME1', user: 'f4500111' },
      refs: { cohort: { entity: 'cohort', key: '0450001A-6EME1' }, user: { entity: 'user', key: 'f4500111' } },
      reason: 'in the directory, not in Moodle',
    }),
    change({
      entity: 'cohort_member',
      action: 'delete',
      key: '0450001A-6EME2/f4500133',
      moodleId: 77,
      dn: null,
      before: { cohort: '0450001A-6EME2', user: 'f4500133' },
      reason: 'no longer in the directory',
    }),
  ],
  skipped: [
    {
      entity: 'user',
      dn: 'uid=F4500166,ou=people,dc=ent,dc=example',
      reason: 'lastname is empty (template "{sn}", from sn)',
    },
    {
      entity: 'user',
      dn: 'uid=F4500177,ou=people,dc=ent,dc=example',
      reason:
        'username "jean dupont" has characters Moodle refuses (allowed: a-z 0-9 _ - @ . while extendedusernamechars is off)',
    },
    {
      entity: 'cohort',
      dn: 'uid=f4500111,ou=people,dc=ent,dc=example',
      reason: 'class value "0450001A$6EME9" names a structure | not in the directory',
      kind: 'data',
    },
  ],
  warnings: [
    'the auth plugin "cas" is not enabled in Moodle',
    'user["f4500188"]: Moodle user id 18 was deleted outside ldap2moodle; it will be forgotten',
  ],
  desiredCounts: { category: 1, user: 3, profile_data: 2, cohort: 1, cohort_member: 2 },
  purgeNeeded: true,
};
