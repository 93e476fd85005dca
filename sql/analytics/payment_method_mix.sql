-- payment_method_mix: sales lines and net revenue (sales minus returns) per payment method, with
-- shares of the total and the average order value (net revenue / orders), then orders, gross
-- revenue and the returned amount.
-- A view over agg_sales_daily (already aggregated by day, product and payment method).
-- preview order: total_revenue DESC
CREATE OR REPLACE VIEW analytics.payment_method_mix AS
SELECT a.payment_method,
       sum(a.transaction_count)::bigint AS transaction_count,
       sum(a.total_revenue - a.return_amount)::numeric(18, 2) AS total_revenue,
       round(sum(a.transaction_count) / nullif(sum(sum(a.transaction_count)) OVER (), 0), 4) AS share_of_transactions,
       round(sum(a.total_revenue - a.return_amount)
             / nullif(sum(sum(a.total_revenue - a.return_amount)) OVER (), 0), 4) AS share_of_revenue,
       round(sum(a.total_revenue - a.return_amount) / nullif(sum(a.order_count), 0), 2) AS avg_order_value,
       sum(a.order_count)::bigint AS order_count,
       sum(a.total_revenue)::numeric(18, 2) AS gross_revenue,
       sum(a.return_amount)::numeric(18, 2) AS returns_amount
FROM warehouse.agg_sales_daily a
GROUP BY a.payment_method;
