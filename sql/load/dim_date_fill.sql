-- Make dim_date cover every day from the first to the last transaction, without gaps. The sales
-- load already adds the days it sees; this fills the days between them (days without sales), so
-- time series over dim_date have no holes. Cheap: min/max come from the date_key index.

-- step: lock
SELECT pg_advisory_xact_lock(hashtext('warehouse.dim_date'));

-- step: fill
INSERT INTO warehouse.dim_date
SELECT (warehouse.dim_date_row(day::date)).*
FROM (SELECT min(date_key) AS lo, max(date_key) AS hi FROM warehouse.fact_sales) b,
     generate_series(to_date(b.lo::text, 'YYYYMMDD'), to_date(b.hi::text, 'YYYYMMDD'), interval '1 day') AS day
WHERE b.lo IS NOT NULL
ON CONFLICT (date_key) DO NOTHING;

-- step: days
SELECT count(*) FROM warehouse.dim_date;
