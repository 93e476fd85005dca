-- Recompute agg_sales_daily for the days a load touched (queued), from fact_sales through the
-- date_key index. Parameters: full (bool) rebuilds every day.

-- step: memory
-- Sorts and hashes over a whole file fit in memory instead of spilling to disk.
SET LOCAL work_mem = '256MB';

-- step: lock
SELECT pg_advisory_xact_lock(hashtext('warehouse.agg_sales_daily'));

-- step: take_queue
CREATE TEMP TABLE pending_days ON COMMIT DROP AS
WITH taken AS (
    DELETE FROM warehouse.refresh_queue WHERE consumer = 'agg_sales_daily' RETURNING item_key
)
SELECT item_key::integer AS date_key FROM taken WHERE NOT %(full)s;

-- step: analyze
ANALYZE pending_days;

-- step: clear_all
DELETE FROM warehouse.agg_sales_daily WHERE %(full)s;

-- step: clear_days
DELETE FROM warehouse.agg_sales_daily a USING pending_days p WHERE a.date_key = p.date_key;

-- step: recompute
INSERT INTO warehouse.agg_sales_daily (
    date_key, product_id, payment_method, transaction_count, total_quantity, total_revenue, sum_unit_price
)
SELECT f.date_key, f.product_id, f.payment_method, count(*), sum(f.quantity), sum(f.total_amount),
       sum(f.unit_price)
FROM warehouse.fact_sales f
WHERE %(full)s OR f.date_key IN (SELECT date_key FROM pending_days)
GROUP BY f.date_key, f.product_id, f.payment_method;
