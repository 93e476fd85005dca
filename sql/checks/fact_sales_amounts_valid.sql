-- Fact amounts obey the contract: no negative unit price or total, no zero or negative quantity,
-- and total_amount = quantity * unit_price within one cent (within half a cent per unit for files
-- whose layout derives the unit price from the total, as the contract allows them).
-- Parameter source_files: the facts of a run's files, or NULL for the whole table.

-- Each fact's flags are computed once (OFFSET 0: see fact_sales_dates_consistent).
WITH facts AS (
    SELECT f.transaction_id, f.unit_price < 0 OR f.total_amount < 0 AS negative, f.quantity <= 0 AS not_positive,
           abs(f.total_amount - f.quantity * f.unit_price)
               > CASE WHEN s.unit_price_derived THEN greatest(0.01, f.quantity * 0.005) ELSE 0.01 END AS total_off
    FROM warehouse.fact_sales f
    LEFT JOIN warehouse.sales_files s ON s.source_file = f.source_file
    WHERE %(source_files)s::text[] IS NULL OR f.source_file = ANY(%(source_files)s::text[])
    OFFSET 0
)
SELECT count(*) AS facts_checked,
       count(*) FILTER (WHERE negative) AS negative_amount,
       count(*) FILTER (WHERE not_positive) AS non_positive_quantity,
       count(*) FILTER (WHERE total_off) AS total_mismatch,
       (array_agg(transaction_id ORDER BY transaction_id) FILTER (WHERE negative OR not_positive OR total_off))[1:20]
           AS examples
FROM facts;
