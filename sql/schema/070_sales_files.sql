-- sales_files: the ledger of sales files, one row per file (partition), written in the same
-- transaction as the file's facts and quarantine, so it always describes what is loaded.
-- lines_read counts the physical lines after the header; the reconciliation check proves
-- lines_read = lines of the loaded facts + lines of the quarantined rows + noise lines (blank
-- lines, repeated headers) against the fact and quarantine tables. A failed attempt is recorded
-- beside the last good load (failed_*), which it never changes.
CREATE TABLE IF NOT EXISTS warehouse.sales_files (
    source_file        text COLLATE "C" PRIMARY KEY,
    fingerprint        text,             -- sha256 of the bytes loaded
    layout             text,
    layout_version     text,             -- sha256 of the layout file the rows were read with
    unit_price_derived boolean NOT NULL DEFAULT false,
    size_bytes         bigint,
    lines_read         bigint,
    records_read       bigint,
    rows_loaded        bigint,
    amount_loaded      numeric(18, 2),   -- net amount of the loaded facts: sales minus returns
    rows_rejected      bigint,           -- rows that broke the contract
    rows_duplicate     bigint,           -- valid rows whose id another file holds
    noise_lines        bigint,
    noise_detail       jsonb NOT NULL DEFAULT '{}',
    rejected_detail    jsonb NOT NULL DEFAULT '{}',  -- reason -> rows, duplicates included
    extra_columns      text[] NOT NULL DEFAULT '{}',
    loaded_at          timestamptz,
    run_id             text,
    failed_at          timestamptz,
    failed_fingerprint text,
    failure            text
);
