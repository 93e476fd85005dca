-- Every fact's date_key is the (UTC) date of its transaction_ts, and no transaction lies in the
-- future. Parameter source_files: the facts of a run's files, or NULL for the whole table.

-- The date is read from the fact's dim_date row where that row's own key is its date (the
-- table is a few thousand rows, checked once here, and dim_date_covers_facts checks them all):
-- comparing two dates costs a fifth of formatting every transaction's timestamp as a key, which
-- is left for the facts whose key has no such row. Each fact's flags are computed once (OFFSET 0
-- keeps the subquery whole: flattened, every flag would be evaluated again by the examples).
WITH facts AS (
    SELECT f.transaction_id,
           CASE WHEN d.full_date IS NOT NULL THEN d.full_date <> (f.transaction_ts AT TIME ZONE 'UTC')::date
                ELSE f.date_key <> to_char(f.transaction_ts AT TIME ZONE 'UTC', 'YYYYMMDD')::integer
           END AS key_off,
           f.transaction_ts > now() AS in_future
    FROM warehouse.fact_sales f
    LEFT JOIN (
        SELECT date_key, full_date FROM warehouse.dim_date
        WHERE date_key = to_char(full_date, 'YYYYMMDD')::integer
    ) d ON d.date_key = f.date_key
    WHERE %(source_files)s::text[] IS NULL OR f.source_file = ANY(%(source_files)s::text[])
    OFFSET 0
)
SELECT count(*) AS facts_checked,
       count(*) FILTER (WHERE key_off) AS date_key_mismatch,
       count(*) FILTER (WHERE in_future) AS in_future,
       (array_agg(transaction_id ORDER BY transaction_id) FILTER (WHERE key_off OR in_future))[1:20] AS examples
FROM facts;
