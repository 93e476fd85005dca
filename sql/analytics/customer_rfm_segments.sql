-- customer_rfm_segments: each customer's recency, frequency and monetary value, their quintile
-- scores (1 = lowest, 5 = best) and a named segment.
-- Recency is days from the customer's last purchase to the last purchase of any customer (not to
-- today), so the segments of a historical data set stay meaningful. Quintiles are NTILE(5) with
-- ties broken by customer_id, so the result is deterministic.
-- Segments, first match wins: Champions (R>=4, F>=4, M>=4); Loyal (R>=3, F>=4); New (R>=4,
-- F<=2); At risk (R<=2, F>=3); Hibernating (R<=2, F<=2); Needs attention (everyone else).
-- Monetary is net lifetime value (sales minus returns); customers without a sale (only returns)
-- have no recency and are left out.
-- A view over vw_customer_lifetime_value (one row per customer).
-- preview order: monetary DESC, customer_id
CREATE OR REPLACE VIEW analytics.customer_rfm_segments AS
WITH base AS (
    SELECT v.customer_id,
           v.customer_name,
           v.city,
           v.country,
           (max(v.last_purchase_date) OVER () - v.last_purchase_date) AS recency_days,
           v.total_orders AS frequency,
           v.lifetime_value AS monetary
    FROM analytics.vw_customer_lifetime_value v
    WHERE v.total_orders > 0
),
scored AS (
    SELECT b.*,
           ntile(5) OVER (ORDER BY b.recency_days DESC, b.customer_id) AS r_score,
           ntile(5) OVER (ORDER BY b.frequency, b.customer_id) AS f_score,
           ntile(5) OVER (ORDER BY b.monetary, b.customer_id) AS m_score
    FROM base b
)
SELECT s.*,
       CASE
           WHEN s.r_score >= 4 AND s.f_score >= 4 AND s.m_score >= 4 THEN 'Champions'
           WHEN s.r_score >= 3 AND s.f_score >= 4 THEN 'Loyal'
           WHEN s.r_score >= 4 AND s.f_score <= 2 THEN 'New'
           WHEN s.r_score <= 2 AND s.f_score >= 3 THEN 'At risk'
           WHEN s.r_score <= 2 AND s.f_score <= 2 THEN 'Hibernating'
           ELSE 'Needs attention'
       END AS segment
FROM scored s;
