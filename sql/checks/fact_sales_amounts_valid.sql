-- Fact amounts obey the contract: no negative unit price or total, no zero or negative quantity,
-- and total_amount = quantity * unit_price within one cent (within half a cent per unit for files
-- whose layout derives the unit price from the total, as the contract allows them).
-- Parameter source_files: the facts of a run's files, or NULL for the whole table.
WITH facts AS (
    SELECT f.transaction_id, f.quantity, f.unit_price, f.total_amount,
           CASE WHEN s.unit_price_derived THEN greatest(0.01, f.quantity * 0.005) ELSE 0.01 END AS tolerance
    FROM warehouse.fact_sales f
    LEFT JOIN warehouse.sales_files s ON s.source_file = f.source_file
    WHERE %(source_files)s::text[] IS NULL OR f.source_file = ANY(%(source_files)s::text[])
)
SELECT count(*) AS facts_checked,
       count(*) FILTER (WHERE unit_price < 0 OR total_amount < 0) AS negative_amount,
       count(*) FILTER (WHERE quantity <= 0) AS non_positive_quantity,
       count(*) FILTER (WHERE abs(total_amount - quantity * unit_price) > tolerance) AS total_mismatch,
       (array_agg(transaction_id ORDER BY transaction_id) FILTER (
            WHERE unit_price < 0 OR total_amount < 0 OR quantity <= 0
               OR abs(total_amount - quantity * unit_price) > tolerance))[1:20] AS examples
FROM facts;
