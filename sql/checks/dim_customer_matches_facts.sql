-- Each customer's totals and purchase dates in dim_customer equal what fact_sales says:
-- lifetime_value = sales minus returns (gross_sales and returns_amount each as well, and
-- return_count), total_orders = distinct (file, order_id) of the sales, total_quantity = quantity
-- sold, first and last purchase dates = the first and last sale day, first <= last; every customer
-- with facts is in dim_customer and every customer in dim_customer has facts.
-- This is the whole-warehouse query, re-derived from every fact; over a run's files the check asks
-- the same through the files' per-customer sums (dim_customer_matches_facts_of_files.sql).
-- Orders are counted without sorting every fact: a sale line whose order_id is its own
-- transaction id counts one; the lines that name another order_id count their distinct (file,
-- order_id), less those whose order_id is also the id of such a line of the same customer and
-- file (one order, counted once). Amounts are summed as whole cents.
WITH facts AS (
    SELECT customer_id,
           count(*) FILTER (WHERE is_sale AND own_order) AS own_orders,
           coalesce(sum(quantity) FILTER (WHERE is_sale), 0) AS quantity,
           coalesce(sum(cents) FILTER (WHERE is_sale), 0) * 0.01 AS gross,
           coalesce(sum(cents) FILTER (WHERE is_return), 0) * 0.01 AS returned,
           count(*) FILTER (WHERE is_return) AS returns,
           (min(transaction_ts) FILTER (WHERE is_sale) AT TIME ZONE 'UTC')::date AS first_day,
           (max(transaction_ts) FILTER (WHERE is_sale) AT TIME ZONE 'UTC')::date AS last_day
    FROM (
        -- Each fact's type compared and amount turned into cents once (as in the run-scoped
        -- dim_customer_matches_facts_of_files; OFFSET 0 keeps the subquery from being flattened).
        SELECT f.customer_id, f.transaction_type = 'sale' AS is_sale, f.transaction_type = 'return' AS is_return,
               f.order_id = f.transaction_id AS own_order, f.quantity, (f.total_amount * 100)::bigint AS cents,
               f.transaction_ts
        FROM warehouse.fact_sales f
        OFFSET 0
    ) f
    GROUP BY customer_id
),
named_orders AS (
    SELECT n.customer_id, count(*) AS orders
    FROM (
        SELECT DISTINCT f.customer_id, f.source_file, f.order_id
        FROM warehouse.fact_sales f
        WHERE f.transaction_type = 'sale' AND f.order_id <> f.transaction_id
    ) n
    WHERE NOT EXISTS (
        SELECT 1 FROM warehouse.fact_sales o
        WHERE o.transaction_id = n.order_id AND o.order_id = o.transaction_id AND o.transaction_type = 'sale'
          AND o.customer_id = n.customer_id AND o.source_file = n.source_file)
    GROUP BY n.customer_id
),
compared AS (
    SELECT coalesce(d.customer_id, f.customer_id) AS customer_id,
           d.customer_id IS NULL AS missing_in_dim,
           f.customer_id IS NULL AS without_facts,
           (d.lifetime_value IS DISTINCT FROM f.gross - f.returned OR d.gross_sales IS DISTINCT FROM f.gross
            OR d.returns_amount IS DISTINCT FROM f.returned OR d.return_count IS DISTINCT FROM f.returns)
               AS ltv_mismatch,
           (d.total_orders IS DISTINCT FROM f.own_orders + coalesce(o.orders, 0)
            OR d.total_quantity IS DISTINCT FROM f.quantity) AS orders_mismatch,
           (d.first_purchase_date IS DISTINCT FROM f.first_day OR d.last_purchase_date IS DISTINCT FROM f.last_day)
               AS dates_mismatch,
           d.first_purchase_date > d.last_purchase_date AS first_after_last
    FROM warehouse.dim_customer d
    FULL JOIN facts f ON f.customer_id = d.customer_id
    LEFT JOIN named_orders o ON o.customer_id = f.customer_id
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
