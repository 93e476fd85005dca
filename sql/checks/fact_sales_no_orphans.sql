-- Every fact row has its product in dim_product, its customer in dim_customer and its day in
-- dim_date. Counts per dimension and up to 20 example transaction ids.
-- Parameter source_files: the facts of a run's files, or NULL for the whole table.
-- Each dimension is an anti-join in the FROM clause, which PostgreSQL runs as one hashed pass
-- over the facts, rather than a lookup per fact row.
WITH facts AS MATERIALIZED (
    SELECT transaction_id, product_id, customer_id, date_key
    FROM warehouse.fact_sales
    WHERE %(source_files)s::text[] IS NULL OR source_file = ANY(%(source_files)s::text[])
),
no_product AS (
    SELECT f.transaction_id FROM facts f
    WHERE NOT EXISTS (SELECT 1 FROM warehouse.dim_product p WHERE p.product_id = f.product_id)
),
no_customer AS (
    SELECT f.transaction_id FROM facts f
    WHERE NOT EXISTS (SELECT 1 FROM warehouse.dim_customer c WHERE c.customer_id = f.customer_id)
),
no_date AS (
    SELECT f.transaction_id FROM facts f
    WHERE NOT EXISTS (SELECT 1 FROM warehouse.dim_date d WHERE d.date_key = f.date_key)
)
SELECT (SELECT count(*) FROM facts) AS facts_checked,
       (SELECT count(*) FROM no_product) AS orphan_product,
       (SELECT count(*) FROM no_customer) AS orphan_customer,
       (SELECT count(*) FROM no_date) AS orphan_date,
       (SELECT array_agg(transaction_id ORDER BY transaction_id) FROM (
            SELECT transaction_id FROM no_product
            UNION SELECT transaction_id FROM no_customer
            UNION SELECT transaction_id FROM no_date
            ORDER BY transaction_id LIMIT 20) e) AS examples;
