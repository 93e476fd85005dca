-- Rebuild every table derived from the facts (customer_file_stats, dim_customer, dim_date, the
-- daily and monthly summaries) from fact_sales itself, in one transaction. Loads keep them current by
-- adding and subtracting what each file changes; this is the repair for a warehouse whose facts
-- were changed outside the pipeline (which the nightly whole-warehouse check reports). It reads
-- every fact, so it costs what a full load costs. No parameters.

-- step: memory
SET LOCAL work_mem = '256MB';

-- step: lock
SELECT pg_advisory_xact_lock(hashtext('warehouse.fact_sales'));

-- step: clear
TRUNCATE warehouse.customer_file_stats, warehouse.agg_sales_daily, warehouse.agg_customers_daily,
    warehouse.agg_customers_monthly, warehouse.agg_cohorts_monthly;

-- step: customer_stats
INSERT INTO warehouse.customer_file_stats (
    customer_id, source_file, first_ts, last_ts, transaction_count, total_quantity, total_amount,
    first_sale_ts, last_sale_ts, order_count, return_count, return_amount, customer_name, city, country
)
SELECT a.customer_id, a.source_file, a.first_ts, a.last_ts, a.transactions, a.quantity, a.amount,
       a.first_sale_ts, a.last_sale_ts, a.orders, a.returns, a.returned, l.customer_name, l.city, l.country
FROM (
    SELECT customer_id, source_file, min(transaction_ts) AS first_ts, max(transaction_ts) AS last_ts,
           count(*) AS transactions,
           coalesce(sum(quantity) FILTER (WHERE transaction_type = 'sale'), 0) AS quantity,
           coalesce(sum(total_amount) FILTER (WHERE transaction_type = 'sale'), 0) AS amount,
           min(transaction_ts) FILTER (WHERE transaction_type = 'sale') AS first_sale_ts,
           max(transaction_ts) FILTER (WHERE transaction_type = 'sale') AS last_sale_ts,
           count(*) FILTER (WHERE opens_order) AS orders,
           count(*) FILTER (WHERE transaction_type = 'return') AS returns,
           coalesce(sum(total_amount) FILTER (WHERE transaction_type = 'return'), 0) AS returned
    FROM warehouse.fact_sales
    GROUP BY customer_id, source_file
) a
LEFT JOIN LATERAL (
    -- Attributes are not in fact_sales: they are kept from the customer's previous stats row
    -- of the same file when there was one.
    SELECT c.customer_name, c.city, c.country FROM warehouse.dim_customer c WHERE c.customer_id = a.customer_id
) l ON true;

-- step: customers
INSERT INTO warehouse.dim_customer AS d (
    customer_id, customer_name, city, country, first_purchase_date, last_purchase_date,
    total_orders, total_quantity, lifetime_value, gross_sales, returns_amount, return_count,
    attributes_ts, attributes_file, updated_at
)
SELECT a.customer_id, l.customer_name, l.city, l.country, a.first_day, a.last_day, a.orders,
       a.quantity, a.amount - a.returned, a.amount, a.returned, a.returns, l.last_ts, l.source_file, now()
FROM (
    SELECT customer_id, min(first_sale_ts AT TIME ZONE 'UTC')::date AS first_day,
           max(last_sale_ts AT TIME ZONE 'UTC')::date AS last_day,
           sum(order_count) AS orders, sum(total_quantity) AS quantity, sum(total_amount) AS amount,
           sum(return_count) AS returns, sum(return_amount) AS returned
    FROM warehouse.customer_file_stats
    GROUP BY customer_id
) a
JOIN (
    SELECT DISTINCT ON (customer_id) customer_id, customer_name, city, country, last_ts, source_file
    FROM warehouse.customer_file_stats
    ORDER BY customer_id, last_ts DESC, source_file DESC
) l ON l.customer_id = a.customer_id
ON CONFLICT (customer_id) DO UPDATE SET
    customer_name = EXCLUDED.customer_name,
    city = EXCLUDED.city,
    country = EXCLUDED.country,
    first_purchase_date = EXCLUDED.first_purchase_date,
    last_purchase_date = EXCLUDED.last_purchase_date,
    total_orders = EXCLUDED.total_orders,
    total_quantity = EXCLUDED.total_quantity,
    lifetime_value = EXCLUDED.lifetime_value,
    gross_sales = EXCLUDED.gross_sales,
    returns_amount = EXCLUDED.returns_amount,
    return_count = EXCLUDED.return_count,
    attributes_ts = EXCLUDED.attributes_ts,
    attributes_file = EXCLUDED.attributes_file,
    updated_at = EXCLUDED.updated_at
WHERE (d.customer_name, d.city, d.country, d.first_purchase_date, d.last_purchase_date, d.total_orders,
       d.total_quantity, d.lifetime_value, d.gross_sales, d.returns_amount, d.return_count,
       d.attributes_ts, d.attributes_file)
      IS DISTINCT FROM
      (EXCLUDED.customer_name, EXCLUDED.city, EXCLUDED.country, EXCLUDED.first_purchase_date,
       EXCLUDED.last_purchase_date, EXCLUDED.total_orders, EXCLUDED.total_quantity, EXCLUDED.lifetime_value,
       EXCLUDED.gross_sales, EXCLUDED.returns_amount, EXCLUDED.return_count,
       EXCLUDED.attributes_ts, EXCLUDED.attributes_file);
DELETE FROM warehouse.dim_customer d
WHERE NOT EXISTS (SELECT 1 FROM warehouse.customer_file_stats s WHERE s.customer_id = d.customer_id);

-- step: sales_daily
INSERT INTO warehouse.agg_sales_daily (
    date_key, product_id, payment_method, transaction_count, total_quantity, total_revenue, sum_unit_price,
    order_count, return_count, return_quantity, return_amount, discount_amount
)
SELECT date_key, product_id, payment_method,
       count(*) FILTER (WHERE transaction_type = 'sale'),
       coalesce(sum(quantity) FILTER (WHERE transaction_type = 'sale'), 0),
       coalesce(sum(total_amount) FILTER (WHERE transaction_type = 'sale'), 0),
       coalesce(sum(unit_price) FILTER (WHERE transaction_type = 'sale'), 0),
       count(*) FILTER (WHERE opens_order),
       count(*) FILTER (WHERE transaction_type = 'return'),
       coalesce(sum(quantity) FILTER (WHERE transaction_type = 'return'), 0),
       coalesce(sum(total_amount) FILTER (WHERE transaction_type = 'return'), 0),
       coalesce(sum(discount_amount) FILTER (WHERE transaction_type = 'sale'), 0)
FROM warehouse.fact_sales
GROUP BY date_key, product_id, payment_method;

-- step: customers_monthly
INSERT INTO warehouse.agg_customers_monthly (customer_id, month, sale_count, return_count, net_amount)
SELECT customer_id, date_trunc('month', transaction_ts AT TIME ZONE 'UTC')::date,
       count(*) FILTER (WHERE transaction_type = 'sale'),
       count(*) FILTER (WHERE transaction_type = 'return'),
       sum(CASE WHEN transaction_type = 'return' THEN -total_amount ELSE total_amount END)
FROM warehouse.fact_sales
GROUP BY 1, 2;

-- step: cohorts_monthly
INSERT INTO warehouse.agg_cohorts_monthly (cohort_month, month, members, customers, net_amount, buyer_net)
SELECT date_trunc('month', c.first_purchase_date)::date, m.month, count(*),
       count(*) FILTER (WHERE m.sale_count > 0), sum(m.net_amount),
       coalesce(sum(m.net_amount) FILTER (WHERE m.sale_count > 0), 0)
FROM warehouse.agg_customers_monthly m
JOIN warehouse.dim_customer c ON c.customer_id = m.customer_id
WHERE c.first_purchase_date IS NOT NULL
GROUP BY 1, 2;

-- step: customers_daily
INSERT INTO warehouse.agg_customers_daily (date_key, unique_customers)
SELECT date_key, count(DISTINCT customer_id) FROM warehouse.fact_sales GROUP BY date_key;

-- step: days
INSERT INTO warehouse.dim_date
SELECT (warehouse.dim_date_row(g::date)).*
FROM (SELECT min(date_key) AS lo, max(date_key) AS hi FROM warehouse.fact_sales) b,
     generate_series(to_date(b.lo::text, 'YYYYMMDD'), to_date(b.hi::text, 'YYYYMMDD'), interval '1 day') AS g
WHERE b.lo IS NOT NULL
ON CONFLICT (date_key) DO NOTHING;
