-- raw_products: the latest validated products payload (the raw_products asset), replaced as a
-- whole on every refresh through the Postgres IO manager. dim_product is upserted from it.
CREATE TABLE IF NOT EXISTS warehouse.raw_products (
    product_id   integer PRIMARY KEY,
    product_name text NOT NULL,
    category     text NOT NULL,
    unit_price   numeric(12, 2) NOT NULL,
    description  text,
    image_url    text NOT NULL,
    rating_rate  numeric(3, 2),
    rating_count integer,
    loaded_at    timestamptz NOT NULL
);
