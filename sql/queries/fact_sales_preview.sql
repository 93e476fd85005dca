-- The first facts in key order, for the asset page.
SELECT transaction_id, transaction_ts, customer_id, product_id, quantity, unit_price, total_amount,
       payment_method, source_file, source_line
FROM warehouse.fact_sales
ORDER BY transaction_id
LIMIT 10
