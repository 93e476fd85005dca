-- fact_sales as the ledger records it, for the asset page: rows loaded and quarantined over every
-- file (summed from the ledger, so it costs nothing at ten million facts).
SELECT coalesce(sum(rows_loaded), 0) AS rows,
       coalesce(sum(rows_rejected + rows_duplicate), 0) AS quarantined,
       count(*) AS files
FROM warehouse.sales_files
WHERE loaded_at IS NOT NULL
