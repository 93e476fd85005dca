-- Nothing lost: for each loaded sales file, the data lines read from it equal the rows loaded
-- into fact_sales plus the rows quarantined in rejected_sales plus the structural noise skipped
-- (blank lines, repeated headers). Facts from a file the ledger does not know at all count as
-- read 0 times, so they fail too. Parameter source_file: one file, or NULL for every file.
SELECT s.source_file,
       s.rows_read,
       (SELECT count(*) FROM warehouse.fact_sales f WHERE f.source_file = s.source_file) AS rows_loaded,
       (SELECT count(*) FROM warehouse.rejected_sales r WHERE r.source_file = s.source_file) AS rows_quarantined,
       s.rows_skipped
FROM warehouse.sales_files s
WHERE s.loaded_at IS NOT NULL
  AND (%(source_file)s::text IS NULL OR s.source_file = %(source_file)s::text)
UNION ALL
SELECT f.source_file, 0, count(*), 0, 0
FROM warehouse.fact_sales f
WHERE (%(source_file)s::text IS NULL OR f.source_file = %(source_file)s::text)
  AND NOT EXISTS (SELECT 1 FROM warehouse.sales_files s
                  WHERE s.source_file = f.source_file AND s.loaded_at IS NOT NULL)
GROUP BY f.source_file
ORDER BY 1;
