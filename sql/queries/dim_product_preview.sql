-- The first products of dim_product, for the asset page.
SELECT product_id, product_name, category, unit_price, is_inferred
FROM warehouse.dim_product
ORDER BY product_id
LIMIT 10
