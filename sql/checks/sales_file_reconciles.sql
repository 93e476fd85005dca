-- Nothing lost: for each loaded sales file, the data lines read from it equal the rows loaded
-- into fact_sales plus the rows quarantined in rejected_sales plus the structural noise skipped
-- (blank lines, repeated headers). Parameter source_file: one file, or NULL for every file.
SELECT s.source_file,
       s.rows_read,
       (SELECT count(*) FROM warehouse.fact_sales f WHERE f.source_file = s.source_file) AS rows_loaded,
       (SELECT count(*) FROM warehouse.rejected_sales r WHERE r.source_file = s.source_file) AS rows_quarantined,
       s.rows_skipped
FROM warehouse.sales_files s
WHERE s.loaded_at IS NOT NULL
  AND (%(source_file)s::text IS NULL OR s.source_file = %(source_file)s::text)
ORDER BY s.source_file;
