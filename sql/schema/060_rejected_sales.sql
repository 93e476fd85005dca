-- rejected_sales: quarantine of sales rows that break the contract, with every reason code the
-- row has, its source file, its 1-based line number in that file and the raw record as JSON.
-- Replaced per file together with the file's facts, so a re-run never duplicates.
CREATE TABLE IF NOT EXISTS warehouse.rejected_sales (
    source_file    text NOT NULL,
    line_number    bigint NOT NULL,
    transaction_id text,
    reasons        text[] NOT NULL,
    raw_record     jsonb NOT NULL,
    rejected_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_file, line_number)
);
