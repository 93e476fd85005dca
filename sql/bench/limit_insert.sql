-- The limit, step 2: one set-based INSERT ... SELECT into the fact table, with the cheapest guard
-- that lets the casts succeed on a file with bad rows (shape checks only).
INSERT INTO limit_fact (transaction_id, date_key, customer_id, product_id, transaction_ts, quantity,
                        unit_price, total_amount, payment_method, source_file, source_line)
SELECT transaction_id, to_char(transaction_date::timestamptz, 'YYYYMMDD')::integer, customer_id,
       product_id::integer, transaction_date::timestamptz, quantity::integer, unit_price::numeric,
       total_amount::numeric, payment_method, 'bench.csv', 0
FROM limit_staging
WHERE transaction_date ~ '^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])'
  AND quantity ~ '^\d+$' AND product_id ~ '^\d+$'
  AND unit_price ~ '^-?\d+(\.\d+)?$' AND total_amount ~ '^-?\d+(\.\d+)?$'
  AND customer_id <> ''
ON CONFLICT (transaction_id) DO NOTHING
