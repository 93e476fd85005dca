-- One rejected product, with every rule it broke and its raw JSON (made storable).
-- Parameters: product_id, errors, raw_record, source, rejected_at.
INSERT INTO warehouse.rejected_products (product_id, errors, raw_record, source, rejected_at)
VALUES (%(product_id)s, %(errors)s, %(raw_record)s, %(source)s, %(rejected_at)s)
