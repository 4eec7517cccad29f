/**
 * A deterministic LDIF of n SDET people under `ou=people,dc=ent,dc=example`, for paging tests: the
 * suffix entry, `ou=people`, then `uid=P0000001…` (inetOrgPerson + ENTPerson with ENTPerson's MUST
 * attributes ENTPersonLogin and ENTPersonJointure). Plain ASCII so that slapadd (LDAP_BULK=1) loads it.
 */

export const PEOPLE_BASE_DN = 'ou=people,dc=ent,dc=example';

const GIVEN_NAMES = ['Alice', 'Bruno', 'Chloe', 'David', 'Emma', 'Farid', 'Gaelle', 'Hugo', 'Ines', 'Jules'];
const SURNAMES = ['MARTIN', 'BERNARD', 'DUBOIS', 'THOMAS', 'ROBERT', 'RICHARD', 'PETIT', 'DURAND', 'LEROY'];

/** The uid of the i-th generated person (1-based): `P0000001`. */
export function generatedUid(i: number): string {
  return `P${String(i).padStart(7, '0')}`;
}

export function generatePeopleLdif(n: number): string {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`generatePeopleLdif: n must be an integer >= 0, got ${n}`);
  const blocks: string[] = [
    'version: 1',
    ['dn: dc=ent,dc=example', 'objectClass: dcObject', 'objectClass: organization', 'dc: ent', 'o: ent'].join('\n'),
    [`dn: ${PEOPLE_BASE_DN}`, 'objectClass: organizationalUnit', 'ou: people'].join('\n'),
  ];
  for (let i = 1; i <= n; i += 1) {
    const uid = generatedUid(i);
    const givenName = GIVEN_NAMES[i % GIVEN_NAMES.length] as string;
    const sn = `${SURNAMES[i % SURNAMES.length] as string}${i}`;
    const login = `${givenName.toLowerCase()}.${sn.toLowerCase()}`;
    blocks.push(
      [
        `dn: uid=${uid},${PEOPLE_BASE_DN}`,
        'objectClass: inetOrgPerson',
        'objectClass: ENTPerson',
        `uid: ${uid}`,
        `cn: ${sn} ${givenName}`,
        `sn: ${sn}`,
        `givenName: ${givenName}`,
        `mail: ${login}@ent.example`,
        `ENTPersonLogin: ${login}`,
        `ENTPersonJointure: AC-TEST$${i}`,
      ].join('\n'),
    );
  }
  return `${blocks.join('\n\n')}\n`;
}
