-- executive_summary: one row with the figures an executive asks for first: net revenue (sales
-- minus returns), orders, customers, average order value (net revenue / orders), the best
-- product and the best city, and net revenue of the last 30 days against the 30 days before (the
-- period ends at the last day with sales or returns); then gross revenue, the returned amount,
-- the return rate (returned amount / gross revenue) and the repeat-customer share (customers with
-- more than one order / customers with an order), and the discounts the sales' totals exclude.
-- A view over the summary views, each a few thousand rows at most, so it answers in milliseconds
-- whatever the size of fact_sales.
CREATE OR REPLACE VIEW analytics.executive_summary AS
WITH totals AS (
    SELECT sum(total_revenue)::numeric(18, 2) AS total_revenue,
           sum(order_count)::bigint AS total_orders,
           sum(gross_revenue)::numeric(18, 2) AS gross_revenue,
           sum(returns_amount)::numeric(18, 2) AS returns_amount,
           sum(discounts_amount)::numeric(18, 2) AS discounts_amount,
           max(full_date) AS period_end
    FROM analytics.vw_daily_sales_summary
),
periods AS (
    SELECT sum(d.total_revenue) FILTER (WHERE d.full_date > t.period_end - 30)::numeric(18, 2) AS current_revenue,
           sum(d.total_revenue) FILTER (WHERE d.full_date <= t.period_end - 30
                                          AND d.full_date > t.period_end - 60)::numeric(18, 2) AS previous_revenue
    FROM analytics.vw_daily_sales_summary d CROSS JOIN totals t
),
best_product AS (
    SELECT product_name, total_revenue FROM analytics.vw_product_sales_summary
    WHERE transaction_count > 0
    ORDER BY total_revenue DESC, product_id LIMIT 1
),
best_city AS (
    SELECT city, country, total_revenue FROM analytics.revenue_by_location
    ORDER BY total_revenue DESC, country, city LIMIT 1
),
customers AS (
    SELECT count(*) AS total_customers,
           count(*) FILTER (WHERE total_orders > 0) AS buying_customers,
           count(*) FILTER (WHERE total_orders > 1) AS repeat_customers
    FROM analytics.vw_customer_lifetime_value
)
SELECT t.total_revenue,
       t.total_orders,
       c.total_customers,
       round(t.total_revenue / nullif(t.total_orders, 0), 2) AS avg_order_value,
       bp.product_name AS best_product,
       bp.total_revenue AS best_product_revenue,
       bc.city AS best_city,
       bc.country AS best_city_country,
       bc.total_revenue AS best_city_revenue,
       t.period_end,
       coalesce(p.current_revenue, 0)::numeric(18, 2) AS last_30_days_revenue,
       coalesce(p.previous_revenue, 0)::numeric(18, 2) AS previous_30_days_revenue,
       round(p.current_revenue / nullif(p.previous_revenue, 0) - 1, 4) AS growth_vs_previous_period,
       t.gross_revenue,
       t.returns_amount,
       round(t.returns_amount / nullif(t.gross_revenue, 0), 4) AS return_rate,
       round(c.repeat_customers::numeric / nullif(c.buying_customers, 0), 4) AS repeat_customer_share,
       t.discounts_amount
FROM totals t
CROSS JOIN periods p
CROSS JOIN customers c
LEFT JOIN best_product bp ON true
LEFT JOIN best_city bc ON true;
