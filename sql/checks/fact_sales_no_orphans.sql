-- Every fact row has its product in dim_product, its customer in dim_customer and its day in
-- dim_date. Counts per dimension and up to 20 example transaction ids.
-- Parameter source_files: the facts of a run's files, or NULL for the whole table.
-- One pass over the facts, each dimension joined by a hash of its keys.
WITH facts AS (
    SELECT f.transaction_id, p.product_id IS NULL AS no_product, c.customer_id IS NULL AS no_customer,
           d.date_key IS NULL AS no_date
    FROM warehouse.fact_sales f
    LEFT JOIN warehouse.dim_product p ON p.product_id = f.product_id
    LEFT JOIN warehouse.dim_customer c ON c.customer_id = f.customer_id
    LEFT JOIN warehouse.dim_date d ON d.date_key = f.date_key
    WHERE %(source_files)s::text[] IS NULL OR f.source_file = ANY(%(source_files)s::text[])
)
SELECT count(*) AS facts_checked,
       count(*) FILTER (WHERE no_product) AS orphan_product,
       count(*) FILTER (WHERE no_customer) AS orphan_customer,
       count(*) FILTER (WHERE no_date) AS orphan_date,
       (array_agg(transaction_id ORDER BY transaction_id) FILTER (
            WHERE no_product OR no_customer OR no_date))[1:20] AS examples
FROM facts;
