-- The sales files the ledger records as loaded, with what they were loaded from.
-- Parameter keys: the files to look up, or NULL for all.
SELECT source_file, fingerprint, layout_version, size_bytes, mtime_ns, loaded_at
FROM warehouse.sales_files
WHERE loaded_at IS NOT NULL
  AND (%(keys)s::text[] IS NULL OR source_file = ANY(%(keys)s::text[]))
