-- rejected_products: quarantine of products the API sent that break the contract.
-- Every rule a product broke is kept (field and message), with the raw JSON as received.
CREATE TABLE IF NOT EXISTS warehouse.rejected_products (
    rejected_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  text,
    errors      jsonb NOT NULL,   -- [{"field": ..., "message": ...}, ...]
    raw_record  jsonb NOT NULL,
    source      text NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS rejected_products_rejected_at_idx
    ON warehouse.rejected_products (rejected_at);
