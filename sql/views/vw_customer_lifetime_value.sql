-- vw_customer_lifetime_value: one row per customer with orders, quantity bought, net lifetime
-- value (sales minus returns), average order value (net lifetime value / orders), first and last
-- purchase (sales), tenure in days, then gross sales, the returned amount and the returns.
-- A customer who only returned something has no orders and no purchase dates.
-- A view over dim_customer, whose totals are kept current by the dim_customer asset (recomputed
-- for the customers each load touches), so it does not aggregate fact_sales at query time.
-- preview order: lifetime_value DESC, customer_id
CREATE OR REPLACE VIEW analytics.vw_customer_lifetime_value AS
SELECT c.customer_id,
       c.customer_name,
       c.city,
       c.country,
       c.total_orders,
       c.total_quantity,
       c.lifetime_value,
       round(c.lifetime_value / nullif(c.total_orders, 0), 2) AS avg_order_value,
       c.first_purchase_date,
       c.last_purchase_date,
       c.last_purchase_date - c.first_purchase_date AS customer_tenure_days,
       c.gross_sales,
       c.returns_amount,
       c.return_count
FROM warehouse.dim_customer c;
