-- Every product loaded from the API has a price above zero (inferred members, created by sales
-- of unknown products, have no price until the API lists them).
SELECT count(*) AS products_checked,
       count(*) FILTER (WHERE NOT is_inferred AND (unit_price IS NULL OR unit_price <= 0)) AS non_positive_price,
       (array_agg(product_id ORDER BY product_id) FILTER (
            WHERE NOT is_inferred AND (unit_price IS NULL OR unit_price <= 0)))[1:20] AS examples
FROM warehouse.dim_product;
