-- Quarantined rows by reason over every loaded file, from the ledger's per-file counts (a row
-- with two reasons counts under both).
SELECT r.key AS reason, sum(r.value::bigint) AS rows
FROM warehouse.sales_files s, jsonb_each_text(s.rejected_detail) r
WHERE s.loaded_at IS NOT NULL
GROUP BY r.key
HAVING sum(r.value::bigint) > 0
ORDER BY rows DESC, reason
