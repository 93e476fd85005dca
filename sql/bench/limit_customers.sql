-- The limit, step 3: one customer upsert from the facts.
INSERT INTO limit_customer (customer_id, customer_name, city, country, total_orders, lifetime_value)
SELECT f.customer_id, max(s.customer_name), max(s.city), max(s.country), count(*), sum(f.total_amount)
FROM limit_fact f JOIN limit_staging s USING (transaction_id)
GROUP BY f.customer_id
ON CONFLICT (customer_id) DO UPDATE SET total_orders = EXCLUDED.total_orders,
                                        lifetime_value = EXCLUDED.lifetime_value
