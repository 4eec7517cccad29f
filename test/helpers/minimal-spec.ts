/** The smallest valid spec (an LDIF source, a MariaDB Moodle, users), for the spec loader's unit tests to build on. */
export const MINIMAL_SPEC = `version: 1
source:
  ldif: people.ldif
moodle:
  driver: mariadb
  database: moodle
users:
  search:
    base: ou=people,dc=example,dc=org
  auth: cas
  fields:
    username: '{uid|lower}'
    firstname: '{givenName}'
    lastname: '{sn}'
`;
