-- rejected_sales: quarantine of sales rows that break the contract, with every reason code the
-- row has, its source file, its first line in that file, the number of lines it spans and the
-- raw record as JSON. Replaced per file together with the file's facts, so a re-run never
-- duplicates.
CREATE TABLE IF NOT EXISTS warehouse.rejected_sales (
    source_file    text COLLATE "C" NOT NULL,
    line_number    bigint NOT NULL,
    line_count     integer NOT NULL DEFAULT 1,
    transaction_id text COLLATE "C",
    reasons        text[] NOT NULL,
    raw_record     jsonb NOT NULL,
    rejected_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_file, line_number)
);
-- Duplicates are found again by id when the copy that won is withdrawn (see the promotion in
-- sql/load/sales_file_merge.sql).
CREATE INDEX IF NOT EXISTS rejected_sales_duplicate_idx ON warehouse.rejected_sales (transaction_id)
    WHERE reasons = ARRAY['duplicate_transaction'];
