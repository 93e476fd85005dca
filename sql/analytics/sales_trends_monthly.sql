-- sales_trends_monthly: net revenue (sales minus returns), sales lines and quantity per calendar
-- month, then orders, gross revenue and the returned amount, with growth of net revenue
-- against the previous month (month over month) and the same month a year earlier (year over
-- year), as fractions (0.25 = +25 %). Growth is NULL when the comparison month has no sales.
-- A view over vw_daily_sales_summary (one row per day).
-- preview order: month_start DESC
CREATE OR REPLACE VIEW analytics.sales_trends_monthly AS
WITH monthly AS (
    SELECT make_date(d.year, d.month, 1) AS month_start,
           sum(d.transaction_count)::bigint AS transaction_count,
           sum(d.total_quantity)::bigint AS total_quantity,
           sum(d.total_revenue)::numeric(18, 2) AS total_revenue,
           sum(d.order_count)::bigint AS order_count,
           sum(d.gross_revenue)::numeric(18, 2) AS gross_revenue,
           sum(d.returns_amount)::numeric(18, 2) AS returns_amount
    FROM analytics.vw_daily_sales_summary d
    GROUP BY 1
)
SELECT m.month_start,
       extract(year FROM m.month_start)::integer AS year,
       extract(month FROM m.month_start)::integer AS month,
       m.transaction_count,
       m.total_quantity,
       m.total_revenue,
       prev.total_revenue AS previous_month_revenue,
       round(m.total_revenue / nullif(prev.total_revenue, 0) - 1, 4) AS mom_growth,
       last_year.total_revenue AS same_month_last_year_revenue,
       round(m.total_revenue / nullif(last_year.total_revenue, 0) - 1, 4) AS yoy_growth,
       m.order_count,
       m.gross_revenue,
       m.returns_amount
FROM monthly m
LEFT JOIN monthly prev ON prev.month_start = (m.month_start - interval '1 month')::date
LEFT JOIN monthly last_year ON last_year.month_start = (m.month_start - interval '1 year')::date;
