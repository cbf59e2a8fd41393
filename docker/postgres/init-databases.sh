#!/bin/bash
# Runs once, when the platform PostgreSQL starts on an empty volume (docker-entrypoint-initdb.d):
# one database and one owner per service, with the credentials of .env.
set -euo pipefail

create() {  # name user password
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
       -v name="$1" -v usr="$2" -v pwd="$3" <<'SQL'
CREATE USER :"usr" WITH PASSWORD :'pwd';
CREATE DATABASE :"name" OWNER :"usr";
SQL
}

create "$OM_DATABASE" "$OM_DB_USER" "$OM_DB_PASSWORD"
create "$MLFLOW_DB" "$MLFLOW_DB_USER" "$MLFLOW_DB_PASSWORD"
create "$AIRFLOW_DB" "$AIRFLOW_DB_USER" "$AIRFLOW_DB_PASSWORD"
create "$DAGSTER_DB" "$DAGSTER_DB_USER" "$DAGSTER_DB_PASSWORD"
# the catalog store: mirror and OpenMetadata outbox of every Airflow worker, Dagster run and the relay
create "$CATALOG_DB" "$CATALOG_DB_USER" "$CATALOG_DB_PASSWORD"
