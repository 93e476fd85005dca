-- Replace one sales file's facts with its validated rows from raw_sales, in one transaction.
-- Parameters: source_file, loaded_at, has_duplicates (set after insert_facts, see below).
--
-- What the file's previous load touched (customers, days) is queued for the incremental assets
-- before it is deleted, so dim_customer and the daily aggregates forget it. Facts are inserted
-- with ON CONFLICT DO NOTHING: a transaction id already loaded from another file keeps its first
-- load and this file's row goes to the quarantine as duplicate_transaction (repeats within the
-- file were already rejected by the validator). Unknown products become inferred members;
-- customers new to the warehouse are added complete (all their facts are in this file), and the
-- customers that existed are queued for dim_customer. Days the file covers are added to
-- dim_date. So no fact is ever an orphan, even between this step and the dimension assets.

-- step: memory
-- Sorts and hashes over a whole file fit in memory instead of spilling to disk.
SET LOCAL work_mem = '256MB';

-- step: lock
SELECT pg_advisory_xact_lock(hashtext('warehouse.fact_sales'));

-- step: queue_previous_customers
INSERT INTO warehouse.refresh_queue (consumer, item_key)
SELECT DISTINCT 'dim_customer', customer_id
FROM warehouse.fact_sales WHERE source_file = %(source_file)s
ON CONFLICT DO NOTHING;

-- step: queue_previous_days
INSERT INTO warehouse.refresh_queue (consumer, item_key)
SELECT c.consumer, d.date_key::text
FROM (SELECT DISTINCT date_key FROM warehouse.fact_sales WHERE source_file = %(source_file)s) d
CROSS JOIN (VALUES ('agg_sales_daily'), ('agg_customers_daily')) AS c (consumer)
ON CONFLICT DO NOTHING;

-- step: delete_previous_facts
DELETE FROM warehouse.fact_sales WHERE source_file = %(source_file)s;

-- step: delete_previous_rejects
DELETE FROM warehouse.rejected_sales WHERE source_file = %(source_file)s;

-- step: delete_previous_customer_latest
DELETE FROM warehouse.customer_latest WHERE source_file = %(source_file)s;

-- step: insert_facts
INSERT INTO warehouse.fact_sales (
    transaction_id, date_key, customer_id, product_id, transaction_ts, quantity, unit_price,
    total_amount, payment_method, source_file, source_line, loaded_at
)
SELECT transaction_id, date_key, customer_id, product_id, transaction_ts, quantity, unit_price,
       total_amount, payment_method, source_file, line_number, %(loaded_at)s
FROM warehouse.raw_sales
WHERE source_file = %(source_file)s AND reasons IS NULL
ON CONFLICT (transaction_id) DO NOTHING;

-- step: quarantine_rejected
INSERT INTO warehouse.rejected_sales (source_file, line_number, transaction_id, reasons, raw_record, rejected_at)
SELECT source_file, line_number, transaction_id, reasons, raw_record, %(loaded_at)s
FROM warehouse.raw_sales
WHERE source_file = %(source_file)s AND reasons IS NOT NULL;

-- step: quarantine_duplicates
-- Runs only when insert_facts inserted fewer rows than were valid. The raw text of a valid row is
-- not kept, so its raw_record holds the validated values and where the id was loaded first.
INSERT INTO warehouse.rejected_sales (source_file, line_number, transaction_id, reasons, raw_record, rejected_at)
SELECT r.source_file, r.line_number, r.transaction_id, ARRAY['duplicate_transaction'],
       jsonb_build_object(
           'transaction_id', r.transaction_id, 'transaction_date', r.transaction_ts,
           'customer_id', r.customer_id, 'customer_name', r.customer_name, 'city', r.city,
           'country', r.country, 'product_id', r.product_id, 'quantity', r.quantity,
           'unit_price', r.unit_price, 'total_amount', r.total_amount,
           'payment_method', r.payment_method, 'first_loaded_from', f.source_file,
           'first_loaded_line', f.source_line),
       %(loaded_at)s
FROM warehouse.raw_sales r
JOIN warehouse.fact_sales f ON f.transaction_id = r.transaction_id
WHERE r.source_file = %(source_file)s AND r.reasons IS NULL AND f.source_file <> r.source_file;

-- step: inferred_products
INSERT INTO warehouse.dim_product (product_id, product_name, is_inferred, first_loaded_at, updated_at)
SELECT r.product_id, coalesce(max(r.product_name), 'Unknown product ' || r.product_id), true,
       %(loaded_at)s, %(loaded_at)s
FROM warehouse.raw_sales r
WHERE r.source_file = %(source_file)s AND r.reasons IS NULL
  AND NOT EXISTS (SELECT 1 FROM warehouse.dim_product p WHERE p.product_id = r.product_id)
  AND (NOT %(has_duplicates)s OR NOT EXISTS (
        SELECT 1 FROM warehouse.rejected_sales q
        WHERE q.source_file = r.source_file AND q.line_number = r.line_number))
GROUP BY r.product_id
ON CONFLICT (product_id) DO NOTHING;

-- step: customer_latest
INSERT INTO warehouse.customer_latest (customer_id, source_file, transaction_ts, customer_name, city, country)
SELECT DISTINCT ON (r.customer_id)
       r.customer_id, r.source_file, r.transaction_ts, r.customer_name, r.city, r.country
FROM warehouse.raw_sales r
WHERE r.source_file = %(source_file)s AND r.reasons IS NULL
  AND (NOT %(has_duplicates)s OR NOT EXISTS (
        SELECT 1 FROM warehouse.rejected_sales q
        WHERE q.source_file = r.source_file AND q.line_number = r.line_number))
ORDER BY r.customer_id, r.transaction_ts DESC, r.line_number DESC;

-- step: queue_existing_customers
INSERT INTO warehouse.refresh_queue (consumer, item_key)
SELECT 'dim_customer', l.customer_id
FROM warehouse.customer_latest l
JOIN warehouse.dim_customer d ON d.customer_id = l.customer_id
WHERE l.source_file = %(source_file)s
ON CONFLICT DO NOTHING;

-- step: new_customers
INSERT INTO warehouse.dim_customer (
    customer_id, customer_name, city, country, first_purchase_date, last_purchase_date,
    total_orders, total_quantity, lifetime_value, updated_at
)
SELECT a.customer_id, l.customer_name, l.city, l.country, a.first_purchase_date,
       a.last_purchase_date, a.total_orders, a.total_quantity, a.lifetime_value, %(loaded_at)s
FROM (
    SELECT customer_id,
           min(transaction_ts AT TIME ZONE 'UTC')::date AS first_purchase_date,
           max(transaction_ts AT TIME ZONE 'UTC')::date AS last_purchase_date,
           count(*) AS total_orders,
           sum(quantity) AS total_quantity,
           sum(total_amount) AS lifetime_value
    FROM warehouse.fact_sales
    WHERE source_file = %(source_file)s
    GROUP BY customer_id
) a
JOIN warehouse.customer_latest l ON l.customer_id = a.customer_id AND l.source_file = %(source_file)s
ON CONFLICT (customer_id) DO NOTHING;

-- step: days
CREATE TEMP TABLE file_days ON COMMIT DROP AS
SELECT DISTINCT date_key FROM warehouse.fact_sales WHERE source_file = %(source_file)s;

-- step: add_days
INSERT INTO warehouse.dim_date
SELECT (warehouse.dim_date_row(to_date(date_key::text, 'YYYYMMDD'))).*
FROM file_days
ON CONFLICT (date_key) DO NOTHING;

-- step: queue_days
INSERT INTO warehouse.refresh_queue (consumer, item_key)
SELECT c.consumer, d.date_key::text
FROM file_days d
CROSS JOIN (VALUES ('agg_sales_daily'), ('agg_customers_daily')) AS c (consumer)
ON CONFLICT DO NOTHING;

-- step: ledger
UPDATE warehouse.sales_files
SET rows_loaded = (SELECT count(*) FROM warehouse.fact_sales WHERE source_file = %(source_file)s),
    rows_duplicate = (SELECT count(*) FROM warehouse.rejected_sales
                      WHERE source_file = %(source_file)s AND reasons = ARRAY['duplicate_transaction']
                        AND raw_record ? 'first_loaded_from'),
    loaded_at = %(loaded_at)s
WHERE source_file = %(source_file)s
RETURNING rows_loaded;
