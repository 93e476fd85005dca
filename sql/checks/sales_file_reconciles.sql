-- Nothing lost, and one truth per file: for each loaded sales file, the physical lines read from
-- it equal the lines of its rows in fact_sales, plus the lines of its rows in rejected_sales,
-- plus the noise lines skipped (blank lines, repeated headers); lines, not records, so that a
-- record swallowing lines through a stray quote cannot hide them. No fact of the file is older
-- than the load the ledger records (an older one would come from a version the ledger says was
-- replaced). Facts from a file the ledger does not know count as read 0 times, so they fail too;
-- and no row quarantined as a duplicate points at an id that is not a fact.
-- Parameter source_files: the files of a run, or NULL for every file.
WITH files AS (
    SELECT s.source_file, s.lines_read, s.noise_lines, s.loaded_at
    FROM warehouse.sales_files s
    WHERE s.loaded_at IS NOT NULL
      AND (%(source_files)s::text[] IS NULL OR s.source_file = ANY(%(source_files)s::text[]))
),
facts AS (
    -- Every fact of the scope once, counted per file and load time (a file's facts share one,
    -- so this is a few rows), then joined with the ledger: joined first, every fact's file name
    -- was hashed twice more. A file the ledger does not know has no ledger row to join.
    SELECT x.source_file, sum(x.n)::bigint AS n, sum(x.lines)::bigint AS lines,
           coalesce(sum(x.n) FILTER (WHERE x.loaded_at < l.loaded_at), 0)::bigint AS stale,
           l.source_file IS NULL AS unknown
    FROM (
        SELECT f.source_file, f.loaded_at, count(*) AS n, sum(f.source_line_count) AS lines
        FROM warehouse.fact_sales f
        -- The files named as values: through `files`, the planner expects the most common
        -- file's share of the facts (one large file can be most of them) and reads them all.
        WHERE %(source_files)s::text[] IS NULL OR f.source_file = ANY(%(source_files)s::text[])
        GROUP BY f.source_file, f.loaded_at
    ) x
    LEFT JOIN files l ON l.source_file = x.source_file
    GROUP BY x.source_file, l.source_file
),
rejects AS (
    SELECT r.source_file, count(*) AS n, sum(r.line_count) AS lines
    FROM warehouse.rejected_sales r
    JOIN files l ON l.source_file = r.source_file
    GROUP BY r.source_file
),
dangling AS (
    SELECT q.source_file, count(*) AS n
    FROM warehouse.rejected_sales q
    WHERE q.reasons = ARRAY['duplicate_transaction']
      AND (%(source_files)s::text[] IS NULL OR q.source_file = ANY(%(source_files)s::text[]))
      AND NOT EXISTS (SELECT 1 FROM warehouse.fact_sales f WHERE f.transaction_id = q.transaction_id)
    GROUP BY q.source_file
)
SELECT l.source_file,
       l.lines_read,
       coalesce(f.n, 0) AS rows_loaded,
       coalesce(f.lines, 0) AS lines_loaded,
       coalesce(r.n, 0) AS rows_quarantined,
       coalesce(r.lines, 0) AS lines_quarantined,
       l.noise_lines AS lines_skipped,
       coalesce(f.stale, 0) AS stale_facts,
       coalesce(d.n, 0) AS dangling_duplicates
FROM files l
LEFT JOIN facts f ON f.source_file = l.source_file
LEFT JOIN rejects r ON r.source_file = l.source_file
LEFT JOIN dangling d ON d.source_file = l.source_file
UNION ALL
SELECT u.source_file, 0, u.n, u.lines, 0, 0, 0, 0, 0 FROM facts u WHERE u.unknown
ORDER BY 1;
