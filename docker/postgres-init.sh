#!/bin/bash
# Runs once, when the postgres volume is first initialised (docker-entrypoint-initdb.d).
# Creates the application's ORDINARY role and its database. The app must not connect as a
# superuser or a BYPASSRLS role: PostgreSQL row-level security, the second wall between
# brands, does not apply to those.
set -euo pipefail

: "${APP_DB_USER:=retail}"
: "${APP_DB_NAME:=retail}"
: "${APP_DB_PASSWORD:?set APP_DB_PASSWORD for the application role}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-postgres}" \
    -v app_user="$APP_DB_USER" -v app_db="$APP_DB_NAME" -v app_pw="$APP_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS PASSWORD %L', :'app_user', :'app_pw')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS', :'app_user') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'app_db', :'app_user')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_db') \gexec
SQL
