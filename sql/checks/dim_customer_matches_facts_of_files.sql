-- dim_customer_matches_facts over a run's files (parameter source_files), in two links whose cost
-- follows the files, not the history of their customers:
-- 1. each file's rows of customer_file_stats say what the file's facts say, per customer: sales,
--    returns and their amounts, quantity, distinct order_ids of the sales, first and last sale;
--    a customer with facts in the file and no row, or a row and no facts, is off;
-- 2. each of the files' customers has a dim_customer row equal to the fold of all their per-file
--    rows (a handful each, one per file they appear in, read through the key).
-- Link 1 held for every other file when that file was loaded, so the two together say what
-- re-deriving the customers' totals from all their facts would say. Facts that a promotion moved
-- into another file of the warehouse are re-derived by the whole-warehouse check (`warehouse
-- check`, the nightly checks schedule). The counters are the whole check's: a file whose rows are
-- off counts for its customers under the matching mismatch.
-- Orders are counted without sorting the files' facts: a sale line whose order_id is its own
-- transaction id (a line that is an order of its own, as every line of a file without an order
-- column) counts one; the lines that name another order_id count their distinct order ids, less
-- those that are also the id of such a line of the same customer and file (one order, counted
-- once). Amounts are summed as whole cents.
WITH file_facts AS (
    SELECT customer_id, source_file,
           count(*) FILTER (WHERE is_sale AND own_order) AS own_orders,
           count(*) FILTER (WHERE is_sale AND NOT own_order) AS named_lines,
           coalesce(sum(quantity) FILTER (WHERE is_sale), 0) AS quantity,
           coalesce(sum(cents) FILTER (WHERE is_sale), 0) * 0.01 AS gross,
           coalesce(sum(cents) FILTER (WHERE is_return), 0) * 0.01 AS returned,
           count(*) FILTER (WHERE is_return) AS returns,
           min(transaction_ts) FILTER (WHERE is_sale) AS first_sale_ts,
           max(transaction_ts) FILTER (WHERE is_sale) AS last_sale_ts
    FROM (
        -- Each fact's type compared and amount turned into cents once, not once per sum that
        -- filters on it (OFFSET 0 keeps the subquery from being flattened into the sums).
        SELECT f.customer_id, f.source_file, f.transaction_type = 'sale' AS is_sale,
               f.transaction_type = 'return' AS is_return, f.order_id = f.transaction_id AS own_order,
               f.quantity, (f.total_amount * 100)::bigint AS cents, f.transaction_ts
        FROM warehouse.fact_sales f
        WHERE f.source_file = ANY(%(source_files)s::text[])
        OFFSET 0
    ) f
    GROUP BY customer_id, source_file
),
named_orders AS (
    SELECT n.customer_id, n.source_file, count(*) AS orders
    FROM (
        SELECT DISTINCT f.customer_id, f.source_file, f.order_id
        FROM warehouse.fact_sales f
        WHERE f.source_file = ANY(%(source_files)s::text[])
          AND f.transaction_type = 'sale' AND f.order_id <> f.transaction_id
          -- Evaluated once: files whose sales all are orders of their own (every file without an
          -- order column) are not read a second time to find none.
          AND EXISTS (SELECT 1 FROM file_facts x WHERE x.named_lines > 0)
    ) n
    WHERE NOT EXISTS (
        SELECT 1 FROM warehouse.fact_sales o
        WHERE o.transaction_id = n.order_id AND o.order_id = o.transaction_id AND o.transaction_type = 'sale'
          AND o.customer_id = n.customer_id AND o.source_file = n.source_file)
    GROUP BY n.customer_id, n.source_file
),
file_rows AS (
    SELECT * FROM warehouse.customer_file_stats s WHERE s.source_file = ANY(%(source_files)s::text[])
),
per_file AS (
    SELECT coalesce(s.customer_id, x.customer_id) AS customer_id,
           x.customer_id IS NOT NULL AS has_facts, s.customer_id IS NOT NULL AS has_row,
           x.customer_id IS NULL OR s.customer_id IS NULL AS unmatched,
           (s.total_amount, s.return_amount, s.return_count) IS DISTINCT FROM (x.gross, x.returned, x.returns)
               AS amounts_off,
           (s.order_count, s.total_quantity) IS DISTINCT FROM (x.own_orders + coalesce(o.orders, 0), x.quantity)
               AS orders_off,
           (s.first_sale_ts, s.last_sale_ts) IS DISTINCT FROM (x.first_sale_ts, x.last_sale_ts) AS dates_off
    FROM file_rows s
    FULL JOIN file_facts x ON x.customer_id = s.customer_id AND x.source_file = s.source_file
    LEFT JOIN named_orders o ON o.customer_id = x.customer_id AND o.source_file = x.source_file
),
customers AS (
    SELECT customer_id, bool_or(unmatched OR amounts_off) AS amounts_off, bool_or(orders_off) AS orders_off,
           bool_or(dates_off) AS dates_off, bool_or(has_facts) AS has_facts,
           count(*) FILTER (WHERE has_row) AS run_rows
    FROM per_file
    GROUP BY customer_id
),
compared AS (
    SELECT c.customer_id,
           d.customer_id IS NULL AS missing_in_dim,
           -- No facts in the run's files, and no other file's row to say there are some elsewhere.
           d.customer_id IS NOT NULL AND NOT c.has_facts AND a.files = c.run_rows AS without_facts,
           c.amounts_off
               OR (d.lifetime_value, d.gross_sales, d.returns_amount, d.return_count)
                  IS DISTINCT FROM (a.gross - a.returned, a.gross, a.returned, a.returns) AS ltv_mismatch,
           c.orders_off OR (d.total_orders, d.total_quantity) IS DISTINCT FROM (a.orders, a.quantity)
               AS orders_mismatch,
           c.dates_off OR (d.first_purchase_date, d.last_purchase_date) IS DISTINCT FROM (a.first_day, a.last_day)
               AS dates_mismatch,
           d.first_purchase_date > d.last_purchase_date AS first_after_last
    FROM customers c
    CROSS JOIN LATERAL (
        SELECT count(*) AS files, sum(s.order_count) AS orders, sum(s.total_quantity) AS quantity,
               sum(s.total_amount) AS gross, sum(s.return_amount) AS returned, sum(s.return_count) AS returns,
               (min(s.first_sale_ts) AT TIME ZONE 'UTC')::date AS first_day,
               (max(s.last_sale_ts) AT TIME ZONE 'UTC')::date AS last_day
        FROM warehouse.customer_file_stats s
        WHERE s.customer_id = c.customer_id
    ) a
    LEFT JOIN warehouse.dim_customer d ON d.customer_id = c.customer_id
)
SELECT count(*) AS customers_checked,
       count(*) FILTER (WHERE ltv_mismatch) AS lifetime_value_mismatch,
       count(*) FILTER (WHERE orders_mismatch) AS total_orders_mismatch,
       count(*) FILTER (WHERE dates_mismatch) AS purchase_dates_mismatch,
       count(*) FILTER (WHERE first_after_last) AS first_after_last,
       count(*) FILTER (WHERE without_facts) AS customers_without_facts,
       count(*) FILTER (WHERE missing_in_dim) AS customers_missing_in_dim,
       (array_agg(customer_id ORDER BY customer_id) FILTER (
            WHERE ltv_mismatch OR orders_mismatch OR dates_mismatch OR first_after_last
               OR without_facts OR missing_in_dim))[1:20] AS examples
FROM compared;
