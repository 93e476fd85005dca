-- payment_method_mix: transactions and revenue per payment method, with shares of the total and
-- the average order value.
-- A view over agg_sales_daily (already aggregated by day, product and payment method).
-- preview order: total_revenue DESC
CREATE OR REPLACE VIEW analytics.payment_method_mix AS
SELECT a.payment_method,
       sum(a.transaction_count)::bigint AS transaction_count,
       sum(a.total_revenue)::numeric(18, 2) AS total_revenue,
       round(sum(a.transaction_count) / nullif(sum(sum(a.transaction_count)) OVER (), 0), 4) AS share_of_transactions,
       round(sum(a.total_revenue) / nullif(sum(sum(a.total_revenue)) OVER (), 0), 4) AS share_of_revenue,
       round(sum(a.total_revenue) / nullif(sum(a.transaction_count), 0), 2) AS avg_order_value
FROM warehouse.agg_sales_daily a
GROUP BY a.payment_method;
