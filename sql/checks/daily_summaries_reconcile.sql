-- The daily sales summary (agg_sales_daily), which the dashboards read, adds up to the ledger:
-- as many transactions (sales and returns) and as much net revenue (sales minus returns) as the
-- ledger records as loaded over all files; the monthly customer summary (agg_customers_monthly)
-- holds the same count and net revenue; and
-- for the files of a run, the ledger's counts and amounts equal their facts. The summary and the
-- ledger are written by the same load transactions from different statements, so drift in
-- either shows here without reading every fact. Parameter source_files: a run's files, or NULL
-- (then every file's facts are compared with its ledger row).
WITH ledger AS (
    SELECT coalesce(sum(rows_loaded), 0) AS facts, coalesce(sum(amount_loaded), 0) AS revenue
    FROM warehouse.sales_files WHERE loaded_at IS NOT NULL
),
summary AS (
    SELECT coalesce(sum(transaction_count + return_count), 0) AS facts,
           coalesce(sum(total_revenue - return_amount), 0) AS revenue
    FROM warehouse.agg_sales_daily
),
monthly AS (
    SELECT coalesce(sum(sale_count + return_count), 0) AS facts, coalesce(sum(net_amount), 0) AS revenue
    FROM warehouse.agg_customers_monthly
),
files AS (
    SELECT s.source_file, s.rows_loaded, s.amount_loaded
    FROM warehouse.sales_files s
    WHERE s.loaded_at IS NOT NULL
      AND (%(source_files)s::text[] IS NULL OR s.source_file = ANY(%(source_files)s::text[]))
),
file_facts AS (
    -- Counted per file first and then joined with the ledger: joined first, every fact's file
    -- name was hashed again with its ledger row's counts.
    SELECT f.source_file, count(*) AS n,
           coalesce(sum((f.total_amount * 100)::bigint) FILTER (WHERE f.transaction_type <> 'return'), 0)
           - coalesce(sum((f.total_amount * 100)::bigint) FILTER (WHERE f.transaction_type = 'return'), 0) AS net_cents
    FROM warehouse.fact_sales f
    -- The files named as values: through `files` alone the planner would expect the most common
    -- file's share of the facts and read them all (as in sales_file_reconciles).
    WHERE %(source_files)s::text[] IS NULL OR f.source_file = ANY(%(source_files)s::text[])
    GROUP BY f.source_file
),
per_file AS (
    SELECT l.source_file,
           l.rows_loaded IS DISTINCT FROM coalesce(x.n, 0)
           OR l.amount_loaded IS DISTINCT FROM coalesce(x.net_cents, 0) * 0.01 AS off
    FROM files l
    LEFT JOIN file_facts x ON x.source_file = l.source_file
)
SELECT (SELECT count(*) FROM files) AS files_checked,
       (SELECT facts FROM summary) AS summary_transactions,
       (SELECT facts FROM ledger) AS ledger_transactions,
       ((SELECT facts FROM summary) <> (SELECT facts FROM ledger)
        OR (SELECT facts FROM monthly) <> (SELECT facts FROM ledger))::integer AS transactions_mismatch,
       ((SELECT revenue FROM summary) <> (SELECT revenue FROM ledger)
        OR (SELECT revenue FROM monthly) <> (SELECT revenue FROM ledger))::integer AS revenue_mismatch,
       (SELECT count(*) FROM per_file WHERE off) AS files_not_matching_ledger,
       (SELECT array_agg(source_file ORDER BY source_file) FROM (SELECT source_file FROM per_file WHERE off ORDER BY source_file LIMIT 20) e) AS examples;
