-- A failed attempt to load a file, recorded beside its last good load (which stays as it was).
-- Parameters: source_file, fingerprint (of the content that failed, if known), failure, failed_at.
INSERT INTO warehouse.sales_files AS s (source_file, failed_at, failed_fingerprint, failure)
VALUES (%(source_file)s, %(failed_at)s, %(fingerprint)s, %(failure)s)
ON CONFLICT (source_file) DO UPDATE SET
    failed_at = EXCLUDED.failed_at,
    failed_fingerprint = EXCLUDED.failed_fingerprint,
    failure = EXCLUDED.failure
