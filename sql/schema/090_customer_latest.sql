-- customer_latest: per customer and file, the customer's latest transaction in that file with
-- the name, city and country it carried. dim_customer takes a customer's attributes from the
-- latest of these; replacing a file replaces its rows, so attributes never outlive their source.
CREATE TABLE IF NOT EXISTS warehouse.customer_latest (
    customer_id    text NOT NULL,
    source_file    text NOT NULL,
    transaction_ts timestamptz NOT NULL,
    customer_name  text,
    city           text,
    country        text,
    PRIMARY KEY (customer_id, source_file)
);
CREATE INDEX IF NOT EXISTS customer_latest_source_file_idx ON warehouse.customer_latest (source_file);
