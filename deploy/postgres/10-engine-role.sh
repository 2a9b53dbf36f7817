#!/bin/sh
# First start of the PostgreSQL container only (docker-entrypoint-initdb.d): the engine's own
# role and database. The role is no superuser; it owns its database, so the engine's
# migrations (run at start) can create the ledger's tables. The password comes from a secret.
set -eu
password="$(cat /run/secrets/engine_db_password)"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     --set=engine_password="$password" <<'SQL'
CREATE ROLE engine LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'engine_password';
CREATE DATABASE engine OWNER engine;
SQL
