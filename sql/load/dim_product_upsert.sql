-- Load dim_product from the products frame (staged in the temporary table incoming_products) as
-- a Slowly Changing Dimension type 1: upsert by product_id. A product missing from a later
-- response is kept; an unchanged product keeps its updated_at; an inferred member (created by a
-- sale of an unknown product) is filled in and flipped to is_inferred = false. Returns the
-- numbers of inserted and of updated products. Parameter: loaded_at.

-- step: lock
SELECT pg_advisory_xact_lock(hashtext('warehouse.dim_product'));

-- step: upsert
WITH changed AS (
    INSERT INTO warehouse.dim_product AS d (
        product_id, product_name, category, unit_price, description, image_url, rating_rate,
        rating_count, is_inferred, first_loaded_at, updated_at
    )
    SELECT product_id, product_name, category, unit_price, description, image_url, rating_rate,
           rating_count, false, %(loaded_at)s, %(loaded_at)s
    FROM incoming_products
    ON CONFLICT (product_id) DO UPDATE SET
        product_name = EXCLUDED.product_name,
        category = EXCLUDED.category,
        unit_price = EXCLUDED.unit_price,
        description = EXCLUDED.description,
        image_url = EXCLUDED.image_url,
        rating_rate = EXCLUDED.rating_rate,
        rating_count = EXCLUDED.rating_count,
        is_inferred = false,
        updated_at = EXCLUDED.updated_at
    WHERE (d.product_name, d.category, d.unit_price, d.description, d.image_url, d.rating_rate,
           d.rating_count, d.is_inferred)
          IS DISTINCT FROM
          (EXCLUDED.product_name, EXCLUDED.category, EXCLUDED.unit_price, EXCLUDED.description,
           EXCLUDED.image_url, EXCLUDED.rating_rate, EXCLUDED.rating_count, false)
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM changed;
