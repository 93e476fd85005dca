-- Files whose last attempt failed, with the fingerprint of the content that failed.
-- Parameter keys: the files to look up.
SELECT source_file, failed_fingerprint
FROM warehouse.sales_files
WHERE failed_at IS NOT NULL AND failed_fingerprint IS NOT NULL
  AND (loaded_at IS NULL OR failed_at > loaded_at)
  AND source_file = ANY(%(keys)s::text[])
