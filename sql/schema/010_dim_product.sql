-- dim_product: one row per product, Slowly Changing Dimension type 1 (current state only).
-- Loaded from the FakeStore API by upsert; a product that vanishes from a later response is kept.
-- Sales that name an unknown product create an inferred member (is_inferred = true) so that no
-- sale is lost and no fact is an orphan; the next products refresh fills it in.
CREATE TABLE IF NOT EXISTS warehouse.dim_product (
    product_id      integer PRIMARY KEY,
    product_name    text NOT NULL,
    category        text,
    unit_price      numeric(12, 2),
    description     text,
    image_url       text,
    rating_rate     numeric(3, 2),
    rating_count    integer,
    is_inferred     boolean NOT NULL DEFAULT false,
    first_loaded_at timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS dim_product_category_idx ON warehouse.dim_product (category);
