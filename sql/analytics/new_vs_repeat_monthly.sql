-- new_vs_repeat_monthly: one row per month with sales. Among the customers with a sale in the
-- month, a customer is new when their first sale is in that month and repeat otherwise;
-- new_customer_net_revenue and repeat_customer_net_revenue are each group's sales minus returns
-- in that month.
-- A view over agg_customers_monthly and dim_customer, like customer_cohorts_monthly.
-- preview order: month DESC
CREATE OR REPLACE VIEW analytics.new_vs_repeat_monthly AS
WITH buyers AS (
    SELECT m.month,
           m.month = date_trunc('month', c.first_purchase_date)::date AS is_new,
           m.net_amount
    FROM warehouse.agg_customers_monthly m
    JOIN warehouse.dim_customer c ON c.customer_id = m.customer_id
    WHERE m.sale_count > 0
)
SELECT b.month,
       (count(*) FILTER (WHERE b.is_new))::integer AS new_customers,
       (count(*) FILTER (WHERE NOT b.is_new))::integer AS repeat_customers,
       coalesce(sum(b.net_amount) FILTER (WHERE b.is_new), 0)::numeric(18, 2) AS new_customer_net_revenue,
       coalesce(sum(b.net_amount) FILTER (WHERE NOT b.is_new), 0)::numeric(18, 2) AS repeat_customer_net_revenue
FROM buyers b
GROUP BY b.month;
