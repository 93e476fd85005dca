-- Returns that name the sale they take back (original_transaction_id) but whose sale the
-- warehouse does not hold, or that take back more units than that sale had. They are loaded as
-- the source wrote them and count in every net measure (see the README, Orders and returns);
-- this check only points at them, as a warning that does not block. Returns that name no sale
-- are not judged. Parameter source_files: the returns of a run's files, or NULL for all.
WITH returns AS (
    SELECT r.transaction_id, r.quantity, s.transaction_id IS NULL AS unknown, s.quantity AS sold
    FROM warehouse.fact_sales r
    LEFT JOIN warehouse.fact_sales s
      ON s.transaction_id = r.original_transaction_id AND s.transaction_type = 'sale'
    WHERE r.transaction_type = 'return' AND r.original_transaction_id IS NOT NULL
      AND (%(source_files)s::text[] IS NULL OR r.source_file = ANY(%(source_files)s::text[]))
)
SELECT count(*) AS returns_checked,
       count(*) FILTER (WHERE unknown) AS original_unknown,
       count(*) FILTER (WHERE quantity > sold) AS more_than_sold,
       (array_agg(transaction_id ORDER BY transaction_id) FILTER (WHERE unknown OR quantity > sold))[1:20] AS examples
FROM returns;
