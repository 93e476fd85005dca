-- customer_cohorts_monthly: one row per cohort and later month in which at least one of the
-- cohort's customers bought something. A customer's cohort (cohort_month) is the first day of the
-- month of their first sale (UTC date); months_since_first is 0 for the cohort month itself;
-- customers counts the cohort's customers with a sale in that month, and net_revenue is that
-- month's sales minus returns of all the cohort's customers.
-- A view over agg_customers_monthly (one row per customer and month with facts, kept by each load
-- from its own rows) and dim_customer (the first purchase), so it never reads fact_sales.
-- preview order: cohort_month DESC, months_since_first
CREATE OR REPLACE VIEW analytics.customer_cohorts_monthly AS
WITH activity AS (
    SELECT date_trunc('month', c.first_purchase_date)::date AS cohort_month,
           m.month,
           m.sale_count,
           m.net_amount
    FROM warehouse.agg_customers_monthly m
    JOIN warehouse.dim_customer c ON c.customer_id = m.customer_id
    WHERE c.first_purchase_date IS NOT NULL
)
SELECT a.cohort_month,
       ((extract(year FROM a.month) - extract(year FROM a.cohort_month)) * 12
        + extract(month FROM a.month) - extract(month FROM a.cohort_month))::integer AS months_since_first,
       (count(*) FILTER (WHERE a.sale_count > 0))::integer AS customers,
       sum(a.net_amount)::numeric(18, 2) AS net_revenue
FROM activity a
GROUP BY a.cohort_month, a.month
HAVING count(*) FILTER (WHERE a.sale_count > 0) > 0;
