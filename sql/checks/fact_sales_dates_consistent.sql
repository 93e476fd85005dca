-- Every fact's date_key is the (UTC) date of its transaction_ts, and no transaction lies in the
-- future. Parameter source_files: the facts of a run's files, or NULL for the whole table.
SELECT count(*) AS facts_checked,
       count(*) FILTER (WHERE date_key <> to_char(transaction_ts AT TIME ZONE 'UTC', 'YYYYMMDD')::integer)
           AS date_key_mismatch,
       count(*) FILTER (WHERE transaction_ts > now()) AS in_future,
       (array_agg(transaction_id ORDER BY transaction_id) FILTER (
            WHERE date_key <> to_char(transaction_ts AT TIME ZONE 'UTC', 'YYYYMMDD')::integer
               OR transaction_ts > now()))[1:20] AS examples
FROM warehouse.fact_sales
WHERE %(source_files)s::text[] IS NULL OR source_file = ANY(%(source_files)s::text[]);
