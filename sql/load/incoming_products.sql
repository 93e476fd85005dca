-- incoming_products: the products frame that reached dim_product, staged for the upsert in
-- sql/load/dim_product_upsert.sql; it lives only inside that transaction.
CREATE TEMP TABLE incoming_products (
    product_id   integer NOT NULL,
    product_name text NOT NULL,
    category     text NOT NULL,
    unit_price   numeric(12, 2) NOT NULL,
    description  text,
    image_url    text NOT NULL,
    rating_rate  numeric(3, 2),
    rating_count integer,
    loaded_at    timestamptz NOT NULL
) ON COMMIT DROP
