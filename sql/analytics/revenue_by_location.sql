-- revenue_by_location: customers, orders and net revenue (sales minus returns) per country and
-- city, with each city's share of all revenue. A customer's sales count where the customer lives now (dim_customer is
-- SCD1: the city of their latest transaction).
-- A view over vw_customer_lifetime_value (one row per customer).
-- preview order: total_revenue DESC, country, city
CREATE OR REPLACE VIEW analytics.revenue_by_location AS
SELECT coalesce(v.country, 'Unknown') AS country,
       coalesce(v.city, 'Unknown') AS city,
       count(*) AS customers,
       sum(v.total_orders)::bigint AS total_orders,
       sum(v.lifetime_value)::numeric(18, 2) AS total_revenue,
       round(sum(v.lifetime_value) / nullif(sum(sum(v.lifetime_value)) OVER (), 0), 4) AS share_of_revenue
FROM analytics.vw_customer_lifetime_value v
GROUP BY 1, 2;
