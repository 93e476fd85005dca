-- Merge one staged sales file (temporary table staged_sales) into the warehouse, inside the
-- file's transaction: its facts and quarantine replace the file's previous version, and every
-- table derived from the facts (dim_customer and its per-file stats, dim_date, the daily
-- summaries, inferred products) changes by exactly what this file adds and takes away. So a file
-- is either wholly loaded with everything that depends on it, or not at all, and the cost follows
-- the file, not the size of the warehouse.
-- Parameters: source_file, loaded_at, bulk (whether this is a bulk load, see drop_fact_key). The
-- tables it works in are sales_file_work_tables.sql.
-- The file's facts are the staged rows without reasons (`reasons IS NULL`): rows the reader
-- rejected carry theirs, and a valid row whose id another file holds gets duplicate_transaction
-- below. The staged table is read where it is, never copied into another.
-- A step marked "when old_facts has rows" only undoes or moves what a previous version of the
-- file held; for a new file (none) it is skipped, which is most of a small file's statements.
--
-- Returns are facts like sales (positive amounts, transaction_type = 'return'): every net
-- measure subtracts them. An order is the sale lines of this file that share an order_id and a
-- customer; its first line opens it (opens_order), which is what order counts add up.
--
-- Amounts over many rows are summed as whole cents and turned back into amounts (* 0.01) once per
-- group: the same exact sum, without a numeric accumulator per group (at a million rows, summing
-- numerics cost twice what grouping them did). Every side of a load carries its amounts in cents
-- (total_cents, unit_price_cents, discount_cents): the staged rows from the reader, old_facts and
-- promoted as they are filled. Turning the staged rows' numerics into cents in the sums cost 40 %
-- of the daily summary's aggregate.
--
-- Duplicates: a transaction id already held by another file keeps its first load, and this
-- file's row is quarantined as duplicate_transaction, as is a repeat within the file. When this
-- file used to hold an id and holds it no more, the earliest copy another file quarantined as
-- its duplicate becomes the fact instead (promoted), so withdrawing a row never makes a
-- transaction vanish.

-- step: memory
-- Sorts and hashes over a whole file fit in memory instead of spilling to disk.
SET LOCAL work_mem = '256MB';

-- step: index_memory
-- (only for a bulk load: see BULK_SHARE in db/sales_load.py) The indexes built again after a
-- bulk insert sort every fact: in memory up to this, in runs on disk beyond it.
SET LOCAL maintenance_work_mem = '512MB';

-- step: analyze_staged
-- (skipped for a file of a few rows: see ANALYZE_STAGED_FROM_ROWS in db/sales_load.py)
ANALYZE staged_sales;

-- step: lock
-- Files are read and staged side by side; their merges into the shared tables take turns.
SELECT pg_advisory_xact_lock(hashtext('warehouse.fact_sales'));

-- step: old_facts
INSERT INTO old_facts
SELECT transaction_id, date_key, customer_id, product_id, quantity, unit_price, total_amount, payment_method,
       transaction_ts, transaction_type, opens_order, discount_amount,
       (total_amount * 100)::bigint, (unit_price * 100)::bigint, (discount_amount * 100)::bigint
FROM warehouse.fact_sales
WHERE source_file = %(source_file)s;

-- step: repeated_ids
-- A row repeating the id of an earlier valid row of this file is its duplicate (whatever else it
-- breaks: a valid row is never lost to an earlier broken line with the same id). The rows are
-- sorted by id once (a window, not a hash of every id: a large file's would not fit in memory).
INSERT INTO duplicates (line_number, first_file, first_line, staged_row)
SELECT line_number, NULL, first_line, staged_row
FROM (
    SELECT line_number, ctid AS staged_row,
           min(line_number) FILTER (WHERE reasons IS NULL) OVER (PARTITION BY transaction_id) AS first_line
    FROM staged_sales
    WHERE transaction_id IS NOT NULL
) w
WHERE line_number > first_line;

-- step: held_elsewhere
-- The other valid rows whose id another file already holds as a fact (they become duplicates),
-- found by one primary-key lookup per row: a join the planner would answer by reading every fact
-- instead, which would make a small file's load grow with the warehouse (LATERAL ... LIMIT
-- keeps the lookup per row).
INSERT INTO duplicates (line_number, first_file, first_line, staged_row)
SELECT s.line_number, h.source_file, h.source_line, s.ctid
FROM staged_sales s
CROSS JOIN LATERAL (
    SELECT f.source_file, f.source_line FROM warehouse.fact_sales f
    WHERE f.transaction_id = s.transaction_id AND f.source_file <> %(source_file)s
    LIMIT 1
) h
WHERE s.reasons IS NULL
  AND NOT EXISTS (SELECT 1 FROM duplicates d WHERE d.line_number = s.line_number)
  -- Evaluated once: into an empty table (a first load) there is nothing to look up.
  AND EXISTS (SELECT 1 FROM warehouse.fact_sales);

-- step: mark_duplicates
-- Both kinds are quarantined as duplicate_transaction (by quarantine_rejected, with the reader's
-- rejects). The raw text of a valid row is not kept, so its raw_record holds the validated values
-- and which line it repeats: duplicate_of_line in this file, or first_loaded_from and
-- first_loaded_line in another (from there it can be promoted later). A broken row keeps its raw
-- text and gains the reason. Returns the repeats within this file (all of them, the valid ones,
-- and the lines of those), which the reader could not count.
WITH marked AS (
    UPDATE staged_sales s
    SET reasons = coalesce(s.reasons, '{}') || 'duplicate_transaction'::text,
        opens_order = NULL,
        raw_record = coalesce(
            s.raw_record,
            jsonb_build_object(
                'transaction_id', s.transaction_id, 'transaction_date', s.transaction_ts,
                'customer_id', s.customer_id, 'customer_name', s.customer_name, 'city', s.city,
                'country', s.country, 'product_id', s.product_id, 'product_name', s.product_name,
                'quantity', s.quantity, 'unit_price', s.unit_price, 'total_amount', s.total_amount,
                'payment_method', s.payment_method, 'order_id', s.order_id,
                'transaction_type', s.transaction_type, 'original_transaction_id', s.original_transaction_id,
                'discount_amount', s.discount_amount)
            || CASE WHEN d.first_file IS NULL THEN jsonb_build_object('duplicate_of_line', d.first_line)
                    ELSE jsonb_build_object('first_loaded_from', d.first_file, 'first_loaded_line', d.first_line)
               END)
    FROM duplicates d
    -- By the row's ctid (a lookup per duplicate), not its line number (a read of every row).
    WHERE s.ctid = d.staged_row
    RETURNING d.first_file IS NULL AS in_file, s.reasons = ARRAY['duplicate_transaction'] AS was_valid, s.line_count
)
SELECT count(*) FILTER (WHERE in_file), count(*) FILTER (WHERE in_file AND was_valid),
       coalesce(sum(line_count) FILTER (WHERE in_file AND was_valid), 0)
FROM marked;

-- step: order_openers
-- (only for a file whose rows name their orders, see Summary.orders_named in the reader; in
-- any other file every line is an order of its own, and the reader marks each sale as opening
-- it) The first sale line of each order (its order_id and customer) among the file's facts.
UPDATE staged_sales s
SET opens_order = s.transaction_type = 'sale' AND s.line_number = o.first_line
FROM (
    SELECT order_id, customer_id, min(line_number) FILTER (WHERE transaction_type = 'sale') AS first_line
    FROM staged_sales
    WHERE reasons IS NULL
    GROUP BY order_id, customer_id
) o
WHERE s.reasons IS NULL AND s.order_id = o.order_id AND s.customer_id = o.customer_id;

-- step: promoted_copies when old_facts has rows
INSERT INTO promoted_copies
SELECT DISTINCT ON (q.transaction_id)
       q.source_file, q.line_number, q.line_count, q.transaction_id,
       to_char(((q.raw_record ->> 'transaction_date')::timestamptz) AT TIME ZONE 'UTC', 'YYYYMMDD')::integer AS date_key,
       (q.raw_record ->> 'transaction_date')::timestamptz AS transaction_ts,
       q.raw_record ->> 'customer_id' AS customer_id,
       q.raw_record ->> 'customer_name' AS customer_name,
       q.raw_record ->> 'city' AS city,
       q.raw_record ->> 'country' AS country,
       (q.raw_record ->> 'product_id')::integer AS product_id,
       q.raw_record ->> 'product_name' AS product_name,
       (q.raw_record ->> 'quantity')::integer AS quantity,
       (q.raw_record ->> 'unit_price')::numeric(12, 2) AS unit_price,
       (q.raw_record ->> 'total_amount')::numeric(14, 2) AS total_amount,
       q.raw_record ->> 'payment_method' AS payment_method,
       coalesce(q.raw_record ->> 'order_id', q.transaction_id) AS order_id,
       coalesce(q.raw_record ->> 'transaction_type', 'sale') AS transaction_type,
       q.raw_record ->> 'original_transaction_id' AS original_transaction_id,
       coalesce((q.raw_record ->> 'discount_amount')::numeric(14, 2), 0) AS discount_amount
FROM old_facts o
JOIN warehouse.rejected_sales q
  ON q.transaction_id = o.transaction_id AND q.reasons = ARRAY['duplicate_transaction']
JOIN warehouse.sales_files l ON l.source_file = q.source_file
WHERE q.source_file <> %(source_file)s
  AND q.raw_record ? 'first_loaded_from'
  AND NOT EXISTS (SELECT 1 FROM staged_sales n WHERE n.transaction_id = o.transaction_id AND n.reasons IS NULL)
ORDER BY q.transaction_id, l.loaded_at, q.source_file, q.line_number;

-- step: promoted when old_facts has rows
-- A promoted sale opens its order in the file that held the copy unless a fact of that file
-- already does.
INSERT INTO promoted
SELECT c.*,
       (c.total_amount * 100)::bigint, (c.unit_price * 100)::bigint, (c.discount_amount * 100)::bigint,
       c.transaction_type = 'sale'
           AND row_number() OVER (
                   PARTITION BY c.source_file, c.order_id, c.customer_id, c.transaction_type ORDER BY c.line_number) = 1
           AND NOT EXISTS (SELECT 1 FROM warehouse.fact_sales f
                           WHERE f.source_file = c.source_file AND f.order_id = c.order_id
                             AND f.customer_id = c.customer_id AND f.opens_order)
           AS opens_order
FROM promoted_copies c;

-- step: analyze_changes
-- (skipped for a small file: see ANALYZE_FROM_ROWS in db/sales_load.py)
ANALYZE old_facts, promoted;

-- step: file_customers
-- This file's contribution per customer: its totals, and the attributes of its latest row (the
-- latest timestamp, then the last line). The rows at a customer's latest timestamp are found by
-- joining on it, so only those are sorted, not the whole file.
INSERT INTO file_customers
WITH a AS (
    SELECT customer_id, min(transaction_ts) AS first_ts, max(transaction_ts) AS last_ts, count(*) AS transactions,
           coalesce(sum(quantity) FILTER (WHERE transaction_type = 'sale'), 0) AS quantity,
           coalesce(sum(total_cents) FILTER (WHERE transaction_type = 'sale'), 0) * 0.01 AS amount,
           min(transaction_ts) FILTER (WHERE transaction_type = 'sale') AS first_sale_ts,
           max(transaction_ts) FILTER (WHERE transaction_type = 'sale') AS last_sale_ts,
           count(*) FILTER (WHERE opens_order) AS orders,
           count(*) FILTER (WHERE transaction_type = 'return') AS returns,
           coalesce(sum(total_cents) FILTER (WHERE transaction_type = 'return'), 0) * 0.01 AS returned
    FROM staged_sales
    WHERE reasons IS NULL
    GROUP BY customer_id
)
SELECT DISTINCT ON (a.customer_id)
       a.customer_id, a.first_ts, a.last_ts, a.transactions, a.quantity, a.amount, a.first_sale_ts,
       a.last_sale_ts, a.orders, a.returns, a.returned, l.customer_name, l.city, l.country
FROM a
JOIN staged_sales l ON l.customer_id = a.customer_id AND l.transaction_ts = a.last_ts AND l.reasons IS NULL
ORDER BY a.customer_id, l.line_number DESC;

-- step: touched_customers
-- The customers this load touches, with their cohort (the month of their first sale) before it,
-- and whether they were known at all (a customer has a row in dim_customer while any fact of
-- theirs exists, so an unknown one has no month this load does not bring). The file's own are
-- file_customers, one row each.
INSERT INTO touched_customers
SELECT t.customer_id, date_trunc('month', c.first_purchase_date)::date AS cohort_before, c.known IS NOT NULL
FROM (SELECT customer_id FROM file_customers UNION SELECT customer_id FROM old_facts UNION SELECT customer_id FROM promoted) t
LEFT JOIN LATERAL (
    SELECT d.first_purchase_date, true AS known FROM warehouse.dim_customer d WHERE d.customer_id = t.customer_id LIMIT 1
) c ON true;

-- step: customer_days
-- Per (customer, day) this load touches: whether it had a fact before and has one after. Other
-- files' facts decide it only where this load adds or removes the pair's last fact, so they are
-- looked up (through the customer-day index) for those pairs only, before anything changes.
INSERT INTO customer_day_changes
SELECT p.date_key, sum(p.in_new::integer - p.in_old::integer) AS change
FROM (
    SELECT customer_id, date_key, bool_or(side < 0) AS in_old, bool_or(side > 0) AS in_new
    FROM (
        SELECT customer_id, date_key, -1 AS side FROM old_facts
        UNION ALL SELECT customer_id, date_key, 1 FROM staged_sales WHERE reasons IS NULL
        UNION ALL SELECT customer_id, date_key, 1 FROM promoted
    ) t
    GROUP BY customer_id, date_key
) p
WHERE p.in_new <> p.in_old
  AND NOT EXISTS (
        SELECT 1 FROM warehouse.fact_sales f
        WHERE f.customer_id = p.customer_id AND f.date_key = p.date_key AND f.source_file <> %(source_file)s)
GROUP BY p.date_key;

-- step: delete_previous_facts when old_facts has rows
DELETE FROM warehouse.fact_sales WHERE source_file = %(source_file)s;

-- step: delete_previous_rejects
DELETE FROM warehouse.rejected_sales WHERE source_file = %(source_file)s;

-- step: withdraw_promoted_rejects when old_facts has rows
DELETE FROM warehouse.rejected_sales q
USING promoted p
WHERE q.source_file = p.source_file AND q.line_number = p.line_number;

-- step: drop_fact_key
-- (only for a bulk load: a file at least as large as fact_sales, see BULK_SHARE in
-- db/sales_load.py) Entering a million rows one by one into the customer-day index costs about
-- three times what sorting the whole table once to build it does, so such a load drops the
-- table's key and indexes here and builds them again after the insert (create_fact_*). All of it
-- happens in the file's transaction: a failure leaves them as they were, and until the commit the
-- table is locked against readers, as a first load of that size would keep it busy anyway. The
-- key's uniqueness is proved again when it is built: held_elsewhere took out the ids other files
-- hold, and repeated_ids the repeats within the file.
ALTER TABLE warehouse.fact_sales DROP CONSTRAINT fact_sales_pkey;

-- step: drop_fact_indexes
-- (only for a bulk load)
DROP INDEX warehouse.fact_sales_source_file_idx, warehouse.fact_sales_customer_day_idx;

-- step: insert_facts
-- In key order, so that the primary key's index is filled from left to right; a bulk load, whose
-- key is built afterwards, needs no order (the ORDER BY folds away with the parameter).
INSERT INTO warehouse.fact_sales (
    transaction_id, date_key, customer_id, product_id, transaction_ts, quantity, unit_price,
    total_amount, payment_method, order_id, transaction_type, original_transaction_id, opens_order,
    discount_amount, source_file, source_line, source_line_count, loaded_at
)
SELECT transaction_id, date_key, customer_id, product_id, transaction_ts, quantity, unit_price,
       total_amount, payment_method, order_id, transaction_type, original_transaction_id, opens_order,
       discount_amount, %(source_file)s, line_number, line_count, %(loaded_at)s
FROM staged_sales
WHERE reasons IS NULL
ORDER BY CASE WHEN %(bulk)s THEN NULL ELSE transaction_id END;

-- step: insert_promoted when old_facts has rows
INSERT INTO warehouse.fact_sales (
    transaction_id, date_key, customer_id, product_id, transaction_ts, quantity, unit_price,
    total_amount, payment_method, order_id, transaction_type, original_transaction_id, opens_order,
    discount_amount, source_file, source_line, source_line_count, loaded_at
)
SELECT transaction_id, date_key, customer_id, product_id, transaction_ts, quantity, unit_price,
       total_amount, payment_method, order_id, transaction_type, original_transaction_id, opens_order,
       discount_amount, source_file, line_number, line_count, %(loaded_at)s
FROM promoted;

-- step: create_fact_key
-- (only for a bulk load) The key and indexes as sql/schema/040_fact_sales.sql declares them.
ALTER TABLE warehouse.fact_sales ADD CONSTRAINT fact_sales_pkey PRIMARY KEY (transaction_id);

-- step: create_fact_indexes_source_file
CREATE INDEX fact_sales_source_file_idx ON warehouse.fact_sales (source_file);

-- step: create_fact_indexes_customer_day
CREATE INDEX fact_sales_customer_day_idx ON warehouse.fact_sales (customer_id, date_key);

-- step: quarantine_rejected
INSERT INTO warehouse.rejected_sales (source_file, line_number, line_count, transaction_id, reasons, raw_record, rejected_at)
SELECT %(source_file)s, line_number, line_count, transaction_id, reasons, raw_record, %(loaded_at)s
FROM staged_sales
WHERE reasons IS NOT NULL;

-- step: daily_changes
-- Per day, product and payment method, what this load adds (sign 1) and takes away (sign -1),
-- summed per side, so that no row's amounts are multiplied by a sign (a million numeric products
-- cost more than the sums). The daily summary, the inferred products and the new days are all
-- read from these few thousand rows, not from the file's rows again.
INSERT INTO daily_changes
SELECT sign, date_key, product_id, payment_method,
       count(*) FILTER (WHERE is_sale),
       coalesce(sum(quantity) FILTER (WHERE is_sale), 0),
       coalesce(sum(total_cents) FILTER (WHERE is_sale), 0),
       coalesce(sum(unit_price_cents) FILTER (WHERE is_sale), 0),
       count(*) FILTER (WHERE opens_order),
       count(*) FILTER (WHERE NOT is_sale),
       coalesce(sum(quantity) FILTER (WHERE NOT is_sale), 0),
       coalesce(sum(total_cents) FILTER (WHERE NOT is_sale), 0),
       coalesce(sum(discount_cents) FILTER (WHERE is_sale), 0)
FROM (
    SELECT -1 AS sign, date_key, product_id, payment_method, quantity, total_cents, unit_price_cents,
           transaction_type = 'sale' AS is_sale, opens_order, discount_cents
    FROM old_facts
    UNION ALL
    SELECT 1, date_key, product_id, payment_method, quantity, total_cents, unit_price_cents,
           transaction_type = 'sale', opens_order, discount_cents
    FROM staged_sales
    WHERE reasons IS NULL
    UNION ALL
    SELECT 1, date_key, product_id, payment_method, quantity, total_cents, unit_price_cents,
           transaction_type = 'sale', opens_order, discount_cents
    FROM promoted
) c
GROUP BY sign, date_key, product_id, payment_method;

-- step: inferred_products
-- The products of the new facts that dim_product lacks, named after the rows that sell them. The
-- rows are read only when there is such a product (a one-time filter), which there seldom is.
WITH missing AS MATERIALIZED (
    SELECT DISTINCT k.product_id FROM daily_changes k
    WHERE k.sign > 0 AND NOT EXISTS (SELECT 1 FROM warehouse.dim_product p WHERE p.product_id = k.product_id)
)
INSERT INTO warehouse.dim_product (product_id, product_name, is_inferred, first_loaded_at, updated_at)
SELECT n.product_id, coalesce(max(n.product_name), 'Unknown product ' || n.product_id), true, %(loaded_at)s, %(loaded_at)s
FROM (SELECT product_id, product_name FROM staged_sales WHERE reasons IS NULL
      UNION ALL SELECT product_id, product_name FROM promoted) n
JOIN missing m ON m.product_id = n.product_id
WHERE EXISTS (SELECT 1 FROM missing)
GROUP BY n.product_id
ON CONFLICT (product_id) DO NOTHING;

-- step: sales_daily
INSERT INTO warehouse.agg_sales_daily AS a (
    date_key, product_id, payment_method, transaction_count, total_quantity, total_revenue, sum_unit_price,
    order_count, return_count, return_quantity, return_amount, discount_amount
)
SELECT date_key, product_id, payment_method, sum(sign * sales), sum(sign * quantity),
       sum(sign * revenue) * 0.01, sum(sign * unit_prices) * 0.01, sum(sign * orders), sum(sign * returns),
       sum(sign * returned_quantity), sum(sign * returned) * 0.01, sum(sign * discounts) * 0.01
FROM daily_changes
GROUP BY date_key, product_id, payment_method
ON CONFLICT (date_key, product_id, payment_method) DO UPDATE SET
    transaction_count = a.transaction_count + EXCLUDED.transaction_count,
    total_quantity = a.total_quantity + EXCLUDED.total_quantity,
    total_revenue = a.total_revenue + EXCLUDED.total_revenue,
    sum_unit_price = a.sum_unit_price + EXCLUDED.sum_unit_price,
    order_count = a.order_count + EXCLUDED.order_count,
    return_count = a.return_count + EXCLUDED.return_count,
    return_quantity = a.return_quantity + EXCLUDED.return_quantity,
    return_amount = a.return_amount + EXCLUDED.return_amount,
    discount_amount = a.discount_amount + EXCLUDED.discount_amount;

-- step: sales_daily_drop_empty when old_facts has rows
-- Only the keys of the replaced facts can have dropped to zero.
DELETE FROM warehouse.agg_sales_daily a
USING (SELECT DISTINCT date_key, product_id, payment_method FROM old_facts) k
WHERE a.date_key = k.date_key AND a.product_id = k.product_id AND a.payment_method = k.payment_method
  AND a.transaction_count = 0 AND a.return_count = 0;

-- step: customers_daily
INSERT INTO warehouse.agg_customers_daily AS a (date_key, unique_customers)
SELECT date_key, change FROM customer_day_changes
ON CONFLICT (date_key) DO UPDATE SET unique_customers = a.unique_customers + EXCLUDED.unique_customers;

-- step: customers_daily_drop_empty
DELETE FROM warehouse.agg_customers_daily a
USING customer_day_changes c
WHERE a.date_key = c.date_key AND a.unique_customers = 0;

-- step: delete_previous_customer_stats when old_facts has rows
DELETE FROM warehouse.customer_file_stats WHERE source_file = %(source_file)s;

-- step: customer_stats
INSERT INTO warehouse.customer_file_stats (
    customer_id, source_file, first_ts, last_ts, transaction_count, total_quantity, total_amount,
    first_sale_ts, last_sale_ts, order_count, return_count, return_amount, customer_name, city, country
)
SELECT customer_id, %(source_file)s, first_ts, last_ts, transactions, quantity, amount, first_sale_ts,
       last_sale_ts, orders, returns, returned, customer_name, city, country
FROM file_customers;

-- step: promoted_customer_stats when old_facts has rows
-- A promoted fact belongs to the file that held the copy: that file's stats grow by it.
INSERT INTO warehouse.customer_file_stats AS c (
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
    FROM promoted
    GROUP BY customer_id, source_file
) a
JOIN (
    SELECT DISTINCT ON (customer_id, source_file) customer_id, source_file, customer_name, city, country
    FROM promoted
    ORDER BY customer_id, source_file, transaction_ts DESC, line_number DESC
) l ON l.customer_id = a.customer_id AND l.source_file = a.source_file
ON CONFLICT (customer_id, source_file) DO UPDATE SET
    first_ts = least(c.first_ts, EXCLUDED.first_ts),
    last_ts = greatest(c.last_ts, EXCLUDED.last_ts),
    transaction_count = c.transaction_count + EXCLUDED.transaction_count,
    total_quantity = c.total_quantity + EXCLUDED.total_quantity,
    total_amount = c.total_amount + EXCLUDED.total_amount,
    first_sale_ts = least(c.first_sale_ts, EXCLUDED.first_sale_ts),
    last_sale_ts = greatest(c.last_sale_ts, EXCLUDED.last_sale_ts),
    order_count = c.order_count + EXCLUDED.order_count,
    return_count = c.return_count + EXCLUDED.return_count,
    return_amount = c.return_amount + EXCLUDED.return_amount,
    customer_name = CASE WHEN EXCLUDED.last_ts >= c.last_ts THEN EXCLUDED.customer_name ELSE c.customer_name END,
    city = CASE WHEN EXCLUDED.last_ts >= c.last_ts THEN EXCLUDED.city ELSE c.city END,
    country = CASE WHEN EXCLUDED.last_ts >= c.last_ts THEN EXCLUDED.country ELSE c.country END;

-- step: recomputed_customers when old_facts has rows
-- The customers whose totals cannot just grow: those of the replaced facts (their earlier
-- contribution is gone) and those of promoted facts. A replacement or a promotion is rare; a new
-- file's customers only add to what they had (customers_added below).
INSERT INTO recomputed_customers
SELECT customer_id FROM old_facts
UNION SELECT customer_id FROM promoted;

-- step: customers_recomputed when old_facts has rows
-- Folded again from the customer's per-file rows, read through the (customer_id, source_file)
-- key: LATERAL keeps that a lookup per customer rather than a scan of every customer's files.
-- SCD1: a customer whose values did not change keeps its updated_at.
INSERT INTO warehouse.dim_customer AS d (
    customer_id, customer_name, city, country, first_purchase_date, last_purchase_date,
    total_orders, total_quantity, lifetime_value, gross_sales, returns_amount, return_count,
    attributes_ts, attributes_file, updated_at
)
SELECT t.customer_id, l.customer_name, l.city, l.country, a.first_day, a.last_day, a.orders,
       a.quantity, a.amount - a.returned, a.amount, a.returned, a.returns, l.last_ts, l.source_file,
       %(loaded_at)s
FROM recomputed_customers t
CROSS JOIN LATERAL (
    SELECT min(s.first_sale_ts AT TIME ZONE 'UTC')::date AS first_day,
           max(s.last_sale_ts AT TIME ZONE 'UTC')::date AS last_day,
           sum(s.transaction_count) AS transactions,
           sum(s.order_count) AS orders,
           sum(s.total_quantity) AS quantity,
           sum(s.total_amount) AS amount,
           sum(s.return_count) AS returns,
           sum(s.return_amount) AS returned
    FROM warehouse.customer_file_stats s
    WHERE s.customer_id = t.customer_id
) a
CROSS JOIN LATERAL (
    SELECT s.customer_name, s.city, s.country, s.last_ts, s.source_file
    FROM warehouse.customer_file_stats s
    WHERE s.customer_id = t.customer_id
    ORDER BY s.last_ts DESC, s.source_file DESC
    LIMIT 1
) l
WHERE a.transactions IS NOT NULL
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
WHERE (d.customer_name, d.city, d.country, d.first_purchase_date, d.last_purchase_date,
       d.total_orders, d.total_quantity, d.lifetime_value, d.gross_sales, d.returns_amount,
       d.return_count, d.attributes_ts, d.attributes_file)
      IS DISTINCT FROM
      (EXCLUDED.customer_name, EXCLUDED.city, EXCLUDED.country, EXCLUDED.first_purchase_date,
       EXCLUDED.last_purchase_date, EXCLUDED.total_orders, EXCLUDED.total_quantity,
       EXCLUDED.lifetime_value, EXCLUDED.gross_sales, EXCLUDED.returns_amount, EXCLUDED.return_count,
       EXCLUDED.attributes_ts, EXCLUDED.attributes_file);

-- step: customers_added
-- Everyone else this file names gains its sales: totals add up, the purchase dates widen, and the
-- attributes move to this file's latest row when it is later than the one the customer carries
-- (the same order customers_recomputed takes: latest row, then file name). A customer the
-- warehouse did not know gets a row of its own by a plain insert, a third cheaper than ON
-- CONFLICT's speculative one, which a first load would pay for every customer (every writer of
-- dim_customer holds the fact_sales advisory lock, so no one adds the row in between). Each
-- returns its cohort as it is now, for the cohort steps.
WITH incoming AS (
    -- The rows as dim_customer takes them, in the column order both inserts name.
    SELECT f.customer_id, f.customer_name, f.city, f.country, (f.first_sale_ts AT TIME ZONE 'UTC')::date,
           (f.last_sale_ts AT TIME ZONE 'UTC')::date, f.orders, f.quantity, f.amount - f.returned, f.amount,
           f.returned, f.returns, f.last_ts, %(source_file)s::text, %(loaded_at)s::timestamptz
    FROM file_customers f
    WHERE NOT EXISTS (SELECT 1 FROM recomputed_customers r WHERE r.customer_id = f.customer_id)
),
grown AS (
INSERT INTO warehouse.dim_customer AS d (
    customer_id, customer_name, city, country, first_purchase_date, last_purchase_date,
    total_orders, total_quantity, lifetime_value, gross_sales, returns_amount, return_count,
    attributes_ts, attributes_file, updated_at
)
SELECT i.* FROM incoming i
WHERE EXISTS (SELECT 1 FROM touched_customers t WHERE t.customer_id = i.customer_id AND t.known)
ON CONFLICT (customer_id) DO UPDATE SET
    total_orders = d.total_orders + EXCLUDED.total_orders,
    total_quantity = d.total_quantity + EXCLUDED.total_quantity,
    lifetime_value = d.lifetime_value + EXCLUDED.lifetime_value,
    gross_sales = d.gross_sales + EXCLUDED.gross_sales,
    returns_amount = d.returns_amount + EXCLUDED.returns_amount,
    return_count = d.return_count + EXCLUDED.return_count,
    first_purchase_date = least(d.first_purchase_date, EXCLUDED.first_purchase_date),
    last_purchase_date = greatest(d.last_purchase_date, EXCLUDED.last_purchase_date),
    customer_name = CASE WHEN (EXCLUDED.attributes_ts, EXCLUDED.attributes_file) > (d.attributes_ts, d.attributes_file)
                         THEN EXCLUDED.customer_name ELSE d.customer_name END,
    city = CASE WHEN (EXCLUDED.attributes_ts, EXCLUDED.attributes_file) > (d.attributes_ts, d.attributes_file)
                THEN EXCLUDED.city ELSE d.city END,
    country = CASE WHEN (EXCLUDED.attributes_ts, EXCLUDED.attributes_file) > (d.attributes_ts, d.attributes_file)
                   THEN EXCLUDED.country ELSE d.country END,
    attributes_file = CASE WHEN (EXCLUDED.attributes_ts, EXCLUDED.attributes_file) > (d.attributes_ts, d.attributes_file)
                           THEN EXCLUDED.attributes_file ELSE d.attributes_file END,
    attributes_ts = greatest(d.attributes_ts, EXCLUDED.attributes_ts),
    updated_at = EXCLUDED.updated_at
RETURNING d.customer_id, d.first_purchase_date
),
added AS (
INSERT INTO warehouse.dim_customer (
    customer_id, customer_name, city, country, first_purchase_date, last_purchase_date,
    total_orders, total_quantity, lifetime_value, gross_sales, returns_amount, return_count,
    attributes_ts, attributes_file, updated_at
)
SELECT i.* FROM incoming i
WHERE NOT EXISTS (SELECT 1 FROM touched_customers t WHERE t.customer_id = i.customer_id AND t.known)
RETURNING customer_id, first_purchase_date
)
INSERT INTO customers_after
SELECT customer_id, date_trunc('month', first_purchase_date)::date FROM grown
UNION ALL
SELECT customer_id, date_trunc('month', first_purchase_date)::date FROM added;

-- step: customers_without_sales when old_facts has rows
-- Only a customer of the replaced facts can have lost every sale.
DELETE FROM warehouse.dim_customer d
USING recomputed_customers r
WHERE d.customer_id = r.customer_id
  AND NOT EXISTS (
        SELECT 1 FROM (
            SELECT 1 FROM warehouse.customer_file_stats s WHERE s.customer_id = r.customer_id LIMIT 1
        ) x);

-- step: recomputed_cohorts when old_facts has rows
-- The cohort now of each customer folded again (none for one left without facts), looked up once
-- the dimension is final: the fold returns only the rows it changed.
INSERT INTO customers_after
SELECT r.customer_id, date_trunc('month', d.first_purchase_date)::date
FROM recomputed_customers r
LEFT JOIN LATERAL (
    SELECT x.first_purchase_date FROM warehouse.dim_customer x WHERE x.customer_id = r.customer_id LIMIT 1
) d ON true;

-- step: drop_monthly_key
-- (only for a bulk load, as drop_fact_indexes) The monthly summary gains about as many rows as
-- the file has lines; its key is built again once they are in (add_monthly_key).
ALTER TABLE warehouse.agg_customers_monthly DROP CONSTRAINT agg_customers_monthly_pkey;

-- step: merge_joins_off
-- For customers_monthly only (merge_joins_on puts it back). The planner cannot estimate the file's
-- months (a grouping by an expression) and takes them for a few thousand, so it sorted a million
-- of them to merge them with the updated ones; a hash join costs a third of that, and unlike a
-- hashed NOT IN it spills to disk when a large file's reload updates every month.
SET LOCAL enable_mergejoin = off;

-- step: customers_monthly
-- (after the customers' cohorts are known: see first_cohorts) The (customer, month) rows this
-- load changes, each as it was and as it is (after minus this load's change gives before): what
-- the cohorts take out and put back, with no second lookup of either side. A row exists while its customer has a fact that month (a row left with no fact is
-- dropped below). Rows the table has are updated and the others inserted, both as of the
-- statement's start: every writer of this table (each file's merge, the rebuild) holds the
-- fact_sales advisory lock, so nothing else adds a key in between. A plain insert costs a third
-- less than ON CONFLICT's speculative one, which a large file pays for every row.
WITH change AS (
    -- Counted by FILTER rather than multiplied by the side's sign; the month is that of date_key
    -- (the UTC day), grouped as an integer. Every customer of the change is a touched customer.
    SELECT c.customer_id, make_date(c.ym / 100, c.ym %% 100, 1) AS month,
           c.sales_in - c.sales_out AS sale_count, c.returns_in - c.returns_out AS return_count,
           (c.net_in - c.net_out) * 0.01 AS net_amount, t.known
    FROM (
        SELECT customer_id, date_key / 100 AS ym,
               count(*) FILTER (WHERE incoming AND is_sale) AS sales_in,
               count(*) FILTER (WHERE NOT incoming AND is_sale) AS sales_out,
               count(*) FILTER (WHERE incoming AND NOT is_sale) AS returns_in,
               count(*) FILTER (WHERE NOT incoming AND NOT is_sale) AS returns_out,
               coalesce(sum(net_cents) FILTER (WHERE incoming), 0) AS net_in,
               coalesce(sum(net_cents) FILTER (WHERE NOT incoming), 0) AS net_out
        FROM (
            SELECT incoming, customer_id, date_key, transaction_type = 'sale' AS is_sale,
                   CASE WHEN transaction_type = 'return' THEN -total_cents ELSE total_cents END AS net_cents
            FROM (
                SELECT false AS incoming, customer_id, date_key, transaction_type, total_cents FROM old_facts
                UNION ALL
                SELECT true, customer_id, date_key, transaction_type, total_cents FROM staged_sales WHERE reasons IS NULL
                UNION ALL
                SELECT true, customer_id, date_key, transaction_type, total_cents FROM promoted
            ) sides
        ) f
        GROUP BY customer_id, date_key / 100
    ) c
    JOIN touched_customers t ON t.customer_id = c.customer_id
),
updated AS (
    UPDATE warehouse.agg_customers_monthly a SET
        sale_count = a.sale_count + c.sale_count,
        return_count = a.return_count + c.return_count,
        net_amount = a.net_amount + c.net_amount
    FROM change c
    -- A customer unknown before this load has no month in the table.
    WHERE c.known AND a.customer_id = c.customer_id AND a.month = c.month
    RETURNING a.customer_id AS customer_id, a.month AS month,
              (a.sale_count - c.sale_count) + (a.return_count - c.return_count) > 0, a.sale_count - c.sale_count,
              a.net_amount - c.net_amount,
              a.sale_count + a.return_count > 0, a.sale_count, a.net_amount
),
added AS (
    INSERT INTO warehouse.agg_customers_monthly (customer_id, month, sale_count, return_count, net_amount)
    -- A known customer's months the update did not find, looked up in its result rather than in
    -- the table's index again (by a hash join: see merge_joins_off); in key order, so the index is
    -- filled page by page (a large file's months in the hash's order cost twice as much), unless
    -- the key is built afterwards (a bulk load).
    SELECT customer_id, month, sale_count, return_count, net_amount FROM change c
    WHERE c.known AND NOT EXISTS (SELECT 1 FROM updated u WHERE u.customer_id = c.customer_id AND u.month = c.month)
    ORDER BY CASE WHEN %(bulk)s THEN NULL ELSE customer_id END, CASE WHEN %(bulk)s THEN NULL ELSE month END
    -- A new row had nothing before.
    RETURNING customer_id, month, false, 0::bigint, 0::numeric, sale_count + return_count > 0, sale_count, net_amount
),
first_months AS (
    -- The months of customers new to the warehouse: every one is a new row.
    INSERT INTO warehouse.agg_customers_monthly (customer_id, month, sale_count, return_count, net_amount)
    SELECT customer_id, month, sale_count, return_count, net_amount FROM change c
    WHERE NOT c.known
    ORDER BY CASE WHEN %(bulk)s THEN NULL ELSE customer_id END, CASE WHEN %(bulk)s THEN NULL ELSE month END
    RETURNING customer_id, month, sale_count, net_amount
),
first_cohorts AS (
    -- A new customer had no cohort and no other month, so their months join the cohort they are in
    -- now here, as they are, instead of passing through touched_months to cohorts_after (at a
    -- first load, every month of the file: writing and reading them again cost about a second
    -- per million rows).
    INSERT INTO cohort_changes
    SELECT a.cohort_after, m.month, count(*), count(*) FILTER (WHERE m.sale_count > 0), sum(m.net_amount),
           coalesce(sum(m.net_amount) FILTER (WHERE m.sale_count > 0), 0)
    FROM first_months m
    JOIN customers_after a ON a.customer_id = m.customer_id
    WHERE a.cohort_after IS NOT NULL
    GROUP BY a.cohort_after, m.month
)
-- Each side returns the row as it was and as it is, so neither is joined with change again.
INSERT INTO touched_months
SELECT * FROM updated
UNION ALL
SELECT * FROM added;

-- step: merge_joins_on
RESET enable_mergejoin;

-- step: add_monthly_key
-- (only for a bulk load) The key as sql/schema/125_agg_customers_monthly.sql declares it.
ALTER TABLE warehouse.agg_customers_monthly ADD CONSTRAINT agg_customers_monthly_pkey PRIMARY KEY (customer_id, month);

-- step: customers_monthly_drop_empty when old_facts has rows
DELETE FROM warehouse.agg_customers_monthly a
USING (SELECT DISTINCT customer_id, make_date(date_key / 10000, date_key / 100 %% 100, 1) AS month
       FROM old_facts) k
WHERE a.customer_id = k.customer_id AND a.month = k.month AND a.sale_count = 0 AND a.return_count = 0;

-- step: analyze_cohort_inputs
-- (skipped for a small file, as analyze_changes) A large file's months and customers, unanalyzed,
-- are estimated at a quarter of their rows, and the planner then sorted a million months to
-- merge them with their customers instead of hashing the customers.
ANALYZE touched_months, customers_after, touched_customers;

-- step: cohorts_after
-- The changed months of customers known before this load leave the cohort they were in and join
-- the cohort they are in now, as they were and as they are (customers_monthly kept both; it put
-- the months of new customers in their cohorts itself). A customer whose cohort moved (an earlier
-- sale arrived, the first one was withdrawn) also moves every month this load did not change: out
-- of the old cohort, into the new one, as the month is (only a customer known before this load
-- has such months, read through the monthly table's key).
INSERT INTO cohort_changes
SELECT cohort_month, month, sum(members), sum(customers), sum(net_amount), sum(buyer_net)
FROM (
    SELECT t.cohort_before AS cohort_month, m.month, -1 AS members, -(m.sale_count_before > 0)::integer AS customers,
           -m.net_amount_before AS net_amount,
           -CASE WHEN m.sale_count_before > 0 THEN m.net_amount_before ELSE 0 END AS buyer_net
    FROM touched_months m
    JOIN touched_customers t ON t.customer_id = m.customer_id
    WHERE m.existed AND t.cohort_before IS NOT NULL
    UNION ALL
    SELECT a.cohort_after, m.month, 1, (m.sale_count_now > 0)::integer, m.net_amount_now,
           CASE WHEN m.sale_count_now > 0 THEN m.net_amount_now ELSE 0 END
    FROM touched_months m
    JOIN customers_after a ON a.customer_id = m.customer_id
    WHERE m.exists_now AND a.cohort_after IS NOT NULL
    UNION ALL
    SELECT s.cohort_month, m.month, s.sign, s.sign * (m.sale_count > 0)::integer, s.sign * m.net_amount,
           s.sign * CASE WHEN m.sale_count > 0 THEN m.net_amount ELSE 0 END
    FROM (
        -- OFFSET 0 keeps the few moved customers apart, found first: joined in one level, the
        -- planner reads every touched customer's months before it filters on the move.
        SELECT t.customer_id, t.cohort_before, a.cohort_after
        FROM touched_customers t
        JOIN customers_after a ON a.customer_id = t.customer_id
        WHERE t.known AND t.cohort_before IS DISTINCT FROM a.cohort_after
        OFFSET 0
    ) moved
    CROSS JOIN LATERAL (
        VALUES (moved.cohort_before, -1), (moved.cohort_after, 1)
    ) AS s (cohort_month, sign)
    CROSS JOIN LATERAL (
        SELECT x.month, x.sale_count, x.net_amount FROM warehouse.agg_customers_monthly x
        WHERE x.customer_id = moved.customer_id
        OFFSET 0
    ) m
    WHERE s.cohort_month IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM touched_months k WHERE k.customer_id = moved.customer_id AND k.month = m.month)
) c
GROUP BY cohort_month, month;

-- step: cohorts_monthly
INSERT INTO warehouse.agg_cohorts_monthly AS a (cohort_month, month, members, customers, net_amount, buyer_net)
SELECT cohort_month, month, sum(members), sum(customers), sum(net_amount), sum(buyer_net)
FROM cohort_changes
GROUP BY cohort_month, month
ON CONFLICT (cohort_month, month) DO UPDATE SET
    members = a.members + EXCLUDED.members,
    customers = a.customers + EXCLUDED.customers,
    net_amount = a.net_amount + EXCLUDED.net_amount,
    buyer_net = a.buyer_net + EXCLUDED.buyer_net;

-- step: cohorts_monthly_drop_empty
DELETE FROM warehouse.agg_cohorts_monthly a
USING (SELECT DISTINCT cohort_month, month FROM cohort_changes) k
WHERE a.cohort_month = k.cohort_month AND a.month = k.month AND a.members = 0;

-- step: add_days
-- dim_date has no gaps: the days of the new facts are added, and with them every day between
-- them and the range already covered. Only days outside that range can be missing, so the cost
-- follows the new dates, not the whole calendar.
WITH keys AS (
    SELECT min(date_key) AS lo, max(date_key) AS hi FROM daily_changes WHERE sign > 0
),
wanted AS (SELECT to_date(lo::text, 'YYYYMMDD') AS lo, to_date(hi::text, 'YYYYMMDD') AS hi FROM keys),
covered AS (SELECT min(full_date) AS lo, max(full_date) AS hi FROM warehouse.dim_date)
INSERT INTO warehouse.dim_date
SELECT (warehouse.dim_date_row(g::date)).*
FROM wanted w, covered c,
     generate_series(least(w.lo, c.lo), greatest(w.hi, c.hi), interval '1 day') AS g
WHERE w.lo IS NOT NULL AND (c.lo IS NULL OR g::date < c.lo OR g::date > c.hi)
ON CONFLICT (date_key) DO NOTHING;

-- step: promoted_ledger when old_facts has rows
UPDATE warehouse.sales_files l
SET rows_loaded = l.rows_loaded + p.n, rows_duplicate = l.rows_duplicate - p.n,
    amount_loaded = l.amount_loaded + p.amount
FROM (SELECT source_file, count(*) AS n,
             sum(CASE WHEN transaction_type = 'return' THEN -total_amount ELSE total_amount END) AS amount
      FROM promoted GROUP BY source_file) p
WHERE l.source_file = p.source_file;

-- step: analyze_facts
-- (only when the file adds a tenth of the table or more: see ANALYZE_FACTS_SHARE in
-- db/sales_load.py) Statistics that still describe the table before a large load make the
-- checks and the next small file's statements plan for the wrong sizes: a customer's facts
-- estimated by the thousand are read by a scan of every fact instead of through the index.
ANALYZE warehouse.fact_sales;
