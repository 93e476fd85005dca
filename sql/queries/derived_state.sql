-- The tables derived from the facts, for their asset pages: rows of each, and dim_date's range.
SELECT (SELECT count(*) FROM warehouse.dim_customer) AS dim_customer_rows,
       (SELECT count(*) FROM warehouse.dim_date) AS dim_date_rows,
       (SELECT min(full_date) FROM warehouse.dim_date) AS first_day,
       (SELECT max(full_date) FROM warehouse.dim_date) AS last_day,
       (SELECT count(*) FROM warehouse.agg_sales_daily) AS agg_sales_daily_rows,
       (SELECT count(*) FROM warehouse.agg_customers_daily) AS agg_customers_daily_rows,
       (SELECT count(*) FROM warehouse.agg_customers_monthly) AS agg_customers_monthly_rows,
       (SELECT count(*) FROM warehouse.agg_cohorts_monthly) AS agg_cohorts_monthly_rows
