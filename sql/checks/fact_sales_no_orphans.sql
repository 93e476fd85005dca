-- Every fact row has its product in dim_product, its customer in dim_customer and its day in
-- dim_date. Counts per dimension and up to 20 example transaction ids.
-- Parameter source_file: one file's facts (a file's run), or NULL for the whole table.
WITH facts AS (
    SELECT transaction_id, product_id, customer_id, date_key
    FROM warehouse.fact_sales
    WHERE %(source_file)s::text IS NULL OR source_file = %(source_file)s::text
),
flagged AS (
    SELECT f.transaction_id,
           NOT EXISTS (SELECT 1 FROM warehouse.dim_product p WHERE p.product_id = f.product_id) AS no_product,
           NOT EXISTS (SELECT 1 FROM warehouse.dim_customer c WHERE c.customer_id = f.customer_id) AS no_customer,
           NOT EXISTS (SELECT 1 FROM warehouse.dim_date d WHERE d.date_key = f.date_key) AS no_date
    FROM facts f
)
SELECT count(*) AS facts_checked,
       count(*) FILTER (WHERE no_product) AS orphan_product,
       count(*) FILTER (WHERE no_customer) AS orphan_customer,
       count(*) FILTER (WHERE no_date) AS orphan_date,
       (array_agg(transaction_id ORDER BY transaction_id)
            FILTER (WHERE no_product OR no_customer OR no_date))[1:20] AS examples
FROM flagged;
