-- dim_date has no missing day between its first and last day, each row's date_key matches its
-- full_date, and every day that has facts is in it.
-- Parameter source_files: check the days of a run's files' facts, or NULL for all facts.
WITH bounds AS (
    SELECT min(full_date) AS first_day, max(full_date) AS last_day FROM warehouse.dim_date
),
missing_days AS (
    SELECT g::date AS day
    FROM bounds, generate_series(bounds.first_day, bounds.last_day, interval '1 day') AS g
    WHERE NOT EXISTS (SELECT 1 FROM warehouse.dim_date d WHERE d.full_date = g::date)
),
fact_days AS (
    SELECT DISTINCT date_key FROM warehouse.fact_sales
    WHERE %(source_files)s::text[] IS NULL OR source_file = ANY(%(source_files)s::text[])
),
uncovered AS (
    SELECT f.date_key FROM fact_days f
    WHERE NOT EXISTS (SELECT 1 FROM warehouse.dim_date d WHERE d.date_key = f.date_key)
)
SELECT (SELECT count(*) FROM warehouse.dim_date) AS days,
       (SELECT count(*) FROM missing_days) AS gaps,
       (SELECT count(*) FROM uncovered) AS fact_days_missing,
       (SELECT count(*) FROM warehouse.dim_date
         WHERE date_key <> to_char(full_date, 'YYYYMMDD')::integer) AS key_mismatch,
       -- Examples: missing days (YYYY-MM-DD), then fact days without a row (date keys).
       array_cat(
           (SELECT array_agg(day::text ORDER BY day) FROM (SELECT day FROM missing_days ORDER BY day LIMIT 20) m),
           (SELECT array_agg(date_key::text ORDER BY date_key)
              FROM (SELECT date_key FROM uncovered ORDER BY date_key LIMIT 20) u)
       ) AS examples;
