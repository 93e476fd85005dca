-- Schemas of the warehouse, and the ledger of applied schema files.
-- `warehouse` holds the star schema, the summary tables, the ledger and the quarantine;
-- `analytics` holds the views and analytics objects that readers are allowed to see
-- (see sql/roles.sql).
CREATE SCHEMA IF NOT EXISTS warehouse;
CREATE SCHEMA IF NOT EXISTS analytics;

CREATE TABLE IF NOT EXISTS warehouse.schema_history (
    file       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
