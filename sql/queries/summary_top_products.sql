-- The best-selling products by revenue, for the summary chart. Parameter: top.
SELECT product_name, total_revenue
FROM analytics.vw_product_sales_summary
WHERE transaction_count > 0
ORDER BY total_revenue DESC, product_id
LIMIT %(top)s
