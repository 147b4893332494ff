#!/bin/bash
# Run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d):
# one database per service, each owned by its own role of the same name (ztc_engine, ...), so no
# service can read another's tables. Every role gets the password in $SERVICE_DB_PASSWORD.
set -euo pipefail
prefix="${SERVICE_DB_PREFIX:-ztc_}"
for service in engine intake assignment supervision evaluation gateway; do
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
       -v role="${prefix}${service}" -v password="${SERVICE_DB_PASSWORD:?set SERVICE_DB_PASSWORD}" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done
