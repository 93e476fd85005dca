-- Recompute dim_customer for the customers a load touched (queued in refresh_queue), and only
-- those: totals and purchase dates from fact_sales (through the customer_id index), name, city
-- and country from the customer's latest transaction (customer_latest). SCD1: a customer whose
-- values did not change keeps its updated_at. A customer left without any sale (its file was
-- replaced) is removed. Parameters: full (bool) recomputes every customer that has sales.

-- step: memory
-- Sorts and hashes over a whole file fit in memory instead of spilling to disk.
SET LOCAL work_mem = '256MB';

-- step: lock
SELECT pg_advisory_xact_lock(hashtext('warehouse.dim_customer'));

-- step: take_queue
CREATE TEMP TABLE pending_customers ON COMMIT DROP AS
WITH taken AS (
    DELETE FROM warehouse.refresh_queue WHERE consumer = 'dim_customer' RETURNING item_key
)
SELECT item_key AS customer_id FROM taken
UNION
SELECT DISTINCT customer_id FROM warehouse.fact_sales WHERE %(full)s;

-- step: analyze
ANALYZE pending_customers;

-- step: upsert
INSERT INTO warehouse.dim_customer AS d (
    customer_id, customer_name, city, country, first_purchase_date, last_purchase_date,
    total_orders, total_quantity, lifetime_value, updated_at
)
SELECT a.customer_id, l.customer_name, l.city, l.country, a.first_purchase_date,
       a.last_purchase_date, a.total_orders, a.total_quantity, a.lifetime_value, now()
FROM (
    SELECT f.customer_id,
           min(f.transaction_ts AT TIME ZONE 'UTC')::date AS first_purchase_date,
           max(f.transaction_ts AT TIME ZONE 'UTC')::date AS last_purchase_date,
           count(*) AS total_orders,
           sum(f.quantity) AS total_quantity,
           sum(f.total_amount) AS lifetime_value
    FROM warehouse.fact_sales f
    JOIN pending_customers p ON p.customer_id = f.customer_id
    GROUP BY f.customer_id
) a
LEFT JOIN LATERAL (
    SELECT c.customer_name, c.city, c.country
    FROM warehouse.customer_latest c
    WHERE c.customer_id = a.customer_id
    ORDER BY c.transaction_ts DESC, c.source_file DESC
    LIMIT 1
) l ON true
ON CONFLICT (customer_id) DO UPDATE SET
    customer_name = EXCLUDED.customer_name,
    city = EXCLUDED.city,
    country = EXCLUDED.country,
    first_purchase_date = EXCLUDED.first_purchase_date,
    last_purchase_date = EXCLUDED.last_purchase_date,
    total_orders = EXCLUDED.total_orders,
    total_quantity = EXCLUDED.total_quantity,
    lifetime_value = EXCLUDED.lifetime_value,
    updated_at = EXCLUDED.updated_at
WHERE (d.customer_name, d.city, d.country, d.first_purchase_date, d.last_purchase_date,
       d.total_orders, d.total_quantity, d.lifetime_value)
      IS DISTINCT FROM
      (EXCLUDED.customer_name, EXCLUDED.city, EXCLUDED.country, EXCLUDED.first_purchase_date,
       EXCLUDED.last_purchase_date, EXCLUDED.total_orders, EXCLUDED.total_quantity,
       EXCLUDED.lifetime_value);

-- step: remove_without_sales
DELETE FROM warehouse.dim_customer d
USING pending_customers p
WHERE d.customer_id = p.customer_id
  AND NOT EXISTS (SELECT 1 FROM warehouse.fact_sales f WHERE f.customer_id = d.customer_id);

-- step: pending
SELECT count(*) FROM pending_customers;
