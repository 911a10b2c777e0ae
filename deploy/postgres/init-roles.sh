#!/usr/bin/env bash
# Mounted into /docker-entrypoint-initdb.d of the postgres:16 container (docker-compose.yml).
# Runs once, when the data volume is empty, as the superuser the image creates.
#
# Does what the local stack does in stack/src/devstack/database.py: one login role per service
# (least privilege, SPEC section 5), the application database owned by rs_migrator, CREATE on
# schema public revoked from PUBLIC and CONNECT granted to the service roles. Table-level grants
# belong to the Alembic migrations (the `migrate` job), which grant to these fixed role names.
#
# Passwords come from the container's environment (set from .env by compose). They are passed to
# psql as variables and quoted by psql (:'var'), never spliced into SQL by the shell.
# Changing a password in .env later does not re-run this script: use ALTER ROLE, or recreate the
# postgres volume (docker compose down -v).
set -euo pipefail

: "${RS_MIGRATOR_PASSWORD:?RS_MIGRATOR_PASSWORD must be set}"
: "${RS_WRITER_PASSWORD:?RS_WRITER_PASSWORD must be set}"
: "${RS_HEALTH_PASSWORD:?RS_HEALTH_PASSWORD must be set}"
: "${RS_API_PASSWORD:?RS_API_PASSWORD must be set}"
: "${RS_ORACLE_LOGGER_PASSWORD:?RS_ORACLE_LOGGER_PASSWORD must be set}"
DATABASE=reservesync  # fixed: the services' DATABASE_URLs and the migrations name it

psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}")

"${psql[@]}" --dbname postgres \
    -v migrator_pw="$RS_MIGRATOR_PASSWORD" \
    -v writer_pw="$RS_WRITER_PASSWORD" \
    -v health_pw="$RS_HEALTH_PASSWORD" \
    -v api_pw="$RS_API_PASSWORD" \
    -v oracle_logger_pw="$RS_ORACLE_LOGGER_PASSWORD" \
    -v db="$DATABASE" <<-'EOSQL'
	-- rs_migrator: owns the schema and runs Alembic migrations
	CREATE ROLE rs_migrator LOGIN PASSWORD :'migrator_pw';
	-- rs_writer: the db-writer; inserts and updates rows, no DDL
	CREATE ROLE rs_writer LOGIN BYPASSRLS PASSWORD :'writer_pw';
	-- rs_health: the health service; reads counters and offsets
	CREATE ROLE rs_health LOGIN PASSWORD :'health_pw';
	-- rs_api: the realtime API; reads through row-level security
	CREATE ROLE rs_api LOGIN PASSWORD :'api_pw';
	-- rs_oracle_logger: the oracle-logger; its idempotency and used-signature tables only
	CREATE ROLE rs_oracle_logger LOGIN PASSWORD :'oracle_logger_pw';
	CREATE DATABASE :"db" OWNER rs_migrator;
EOSQL

"${psql[@]}" --dbname "$DATABASE" -v db="$DATABASE" <<-'EOSQL'
	REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
	GRANT CONNECT ON DATABASE :"db" TO rs_writer, rs_health, rs_api, rs_oracle_logger;
	ALTER SCHEMA public OWNER TO rs_migrator;
	REVOKE CREATE ON SCHEMA public FROM PUBLIC;
EOSQL

echo "init-roles: roles rs_migrator, rs_writer, rs_health, rs_api, rs_oracle_logger and database $DATABASE ready"
