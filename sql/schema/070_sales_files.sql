-- sales_files: the ledger of sales files, one row per file (partition) last loaded.
-- rows_read counts data lines (not the header); the reconciliation check proves
-- rows_read = rows loaded + rows quarantined + structural noise skipped (blank lines, repeated
-- headers) against the fact and quarantine tables.
CREATE TABLE IF NOT EXISTS warehouse.sales_files (
    source_file      text PRIMARY KEY,
    fingerprint      text NOT NULL,
    layout           text NOT NULL,
    size_bytes       bigint NOT NULL,
    rows_read        bigint NOT NULL,
    rows_valid       bigint NOT NULL,
    rows_rejected    bigint NOT NULL,
    rows_skipped     bigint NOT NULL,
    skipped_detail   jsonb NOT NULL DEFAULT '{}',
    extra_columns    text[] NOT NULL DEFAULT '{}',
    rows_loaded      bigint,           -- set by fact_sales
    rows_duplicate   bigint,           -- set by fact_sales: valid rows already loaded elsewhere
    staged_at        timestamptz NOT NULL DEFAULT now(),
    loaded_at        timestamptz
);
-- True when the file's layout derives unit_price from the line total (see
-- contract.validate_sales): the amount checks then allow half a cent per unit.
ALTER TABLE warehouse.sales_files ADD COLUMN IF NOT EXISTS unit_price_derived boolean NOT NULL DEFAULT false;
