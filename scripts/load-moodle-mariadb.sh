#!/usr/bin/env bash
# Creates a MariaDB database holding a fresh Moodle 4.5 (the project's copy of a real install's dump), unless
# it already exists. Usage: scripts/load-moodle-mariadb.sh DBNAME  (server from MYSQL_HOST/MYSQL_PORT/MYSQL_USER)
set -euo pipefail
db=${1:?usage: $0 DBNAME}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mysql=(mysql -h "${MYSQL_HOST:-127.0.0.1}" -P "${MYSQL_PORT:-3306}" -u "${MYSQL_USER:-root}")
if "${mysql[@]}" -N -e "SELECT 1 FROM information_schema.tables WHERE table_schema='$db' AND table_name='mdl_config'" | grep -q 1; then
  echo "Moodle database $db already exists; keeping it" >&2
  exit 0
fi
"${mysql[@]}" -e "CREATE DATABASE IF NOT EXISTS \`$db\` DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
"${mysql[@]}" "$db" < "$here/test/fixtures/moodle/4.5/mariadb/core.sql"
echo "Loaded a fresh Moodle 4.5 into database $db" >&2
