-- How dim_product stands: all products, and the inferred members among them.
SELECT count(*) AS total, count(*) FILTER (WHERE is_inferred) AS inferred FROM warehouse.dim_product
