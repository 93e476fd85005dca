-- product_performance: every product's sales with its rank within its category and overall, and
-- its share of the category's revenue. Ties in revenue rank by product_id.
-- A view: it reads vw_product_sales_summary (one row per product), so it is as fast as that.
-- preview order: overall_rank
CREATE OR REPLACE VIEW analytics.product_performance AS
SELECT s.product_id,
       s.product_name,
       s.category,
       s.transaction_count,
       s.total_quantity,
       s.total_revenue,
       s.avg_unit_price,
       rank() OVER (PARTITION BY s.category ORDER BY s.total_revenue DESC, s.product_id) AS rank_in_category,
       rank() OVER (ORDER BY s.total_revenue DESC, s.product_id) AS overall_rank,
       round(s.total_revenue / nullif(sum(s.total_revenue) OVER (PARTITION BY s.category), 0), 4)
           AS share_of_category_revenue
FROM analytics.vw_product_sales_summary s;
