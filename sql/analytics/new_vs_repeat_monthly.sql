-- new_vs_repeat_monthly: one row per month with sales. Among the customers with a sale in the
-- month, a customer is new when their first sale is in that month and repeat otherwise;
-- new_customer_net_revenue and repeat_customer_net_revenue are each group's sales minus returns
-- in that month.
-- A view over agg_cohorts_monthly: the new customers of a month are its own cohort's buyers, the
-- repeat customers the buyers of earlier cohorts.
-- preview order: month DESC
CREATE OR REPLACE VIEW analytics.new_vs_repeat_monthly AS
SELECT a.month,
       (coalesce(sum(a.customers) FILTER (WHERE a.cohort_month = a.month), 0))::integer AS new_customers,
       (coalesce(sum(a.customers) FILTER (WHERE a.cohort_month < a.month), 0))::integer AS repeat_customers,
       coalesce(sum(a.buyer_net) FILTER (WHERE a.cohort_month = a.month), 0)::numeric(18, 2)
           AS new_customer_net_revenue,
       coalesce(sum(a.buyer_net) FILTER (WHERE a.cohort_month < a.month), 0)::numeric(18, 2)
           AS repeat_customer_net_revenue
FROM warehouse.agg_cohorts_monthly a
GROUP BY a.month
HAVING sum(a.customers) > 0;
