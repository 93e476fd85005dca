-- Rebuild every table derived from the facts (customer_file_stats, dim_customer, dim_date, the
-- daily summaries) from fact_sales itself, in one transaction. Loads keep them current by
-- adding and subtracting what each file changes; this is the repair for a warehouse whose facts
-- were changed outside the pipeline (which the nightly whole-warehouse check reports). It reads
-- every fact, so it costs what a full load costs. No parameters.

-- step: memory
SET LOCAL work_mem = '256MB';

-- step: lock
SELECT pg_advisory_xact_lock(hashtext('warehouse.fact_sales'));

-- step: clear
TRUNCATE warehouse.customer_file_stats, warehouse.agg_sales_daily, warehouse.agg_customers_daily;

-- step: customer_stats
INSERT INTO warehouse.customer_file_stats (
    customer_id, source_file, first_ts, last_ts, transaction_count, total_quantity, total_amount,
    customer_name, city, country
)
SELECT a.customer_id, a.source_file, a.first_ts, a.last_ts, a.transactions, a.quantity, a.amount,
       l.customer_name, l.city, l.country
FROM (
    SELECT customer_id, source_file, min(transaction_ts) AS first_ts, max(transaction_ts) AS last_ts,
           count(*) AS transactions, sum(quantity) AS quantity, sum(total_amount) AS amount
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
    total_orders, total_quantity, lifetime_value, attributes_ts, attributes_file, updated_at
)
SELECT a.customer_id, l.customer_name, l.city, l.country, a.first_day, a.last_day, a.transactions,
       a.quantity, a.amount, l.last_ts, l.source_file, now()
FROM (
    SELECT customer_id, min(first_ts AT TIME ZONE 'UTC')::date AS first_day, max(last_ts AT TIME ZONE 'UTC')::date AS last_day,
           sum(transaction_count) AS transactions, sum(total_quantity) AS quantity, sum(total_amount) AS amount
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
    attributes_ts = EXCLUDED.attributes_ts,
    attributes_file = EXCLUDED.attributes_file,
    updated_at = EXCLUDED.updated_at
WHERE (d.customer_name, d.city, d.country, d.first_purchase_date, d.last_purchase_date, d.total_orders,
       d.total_quantity, d.lifetime_value, d.attributes_ts, d.attributes_file)
      IS DISTINCT FROM
      (EXCLUDED.customer_name, EXCLUDED.city, EXCLUDED.country, EXCLUDED.first_purchase_date,
       EXCLUDED.last_purchase_date, EXCLUDED.total_orders, EXCLUDED.total_quantity, EXCLUDED.lifetime_value,
       EXCLUDED.attributes_ts, EXCLUDED.attributes_file);
DELETE FROM warehouse.dim_customer d
WHERE NOT EXISTS (SELECT 1 FROM warehouse.customer_file_stats s WHERE s.customer_id = d.customer_id);

-- step: sales_daily
INSERT INTO warehouse.agg_sales_daily (
    date_key, product_id, payment_method, transaction_count, total_quantity, total_revenue, sum_unit_price
)
SELECT date_key, product_id, payment_method, count(*), sum(quantity), sum(total_amount), sum(unit_price)
FROM warehouse.fact_sales
GROUP BY date_key, product_id, payment_method;

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
