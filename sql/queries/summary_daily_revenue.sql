-- Revenue per day with sales, oldest first, for the summary chart.
SELECT full_date, total_revenue FROM analytics.vw_daily_sales_summary ORDER BY full_date
