-- Fact amounts obey the contract: no negative unit price or total, no zero or negative quantity,
-- and total_amount = quantity * unit_price within one cent.
-- Parameter source_file: one file's facts, or NULL for the whole table.
SELECT count(*) AS facts_checked,
       count(*) FILTER (WHERE unit_price < 0 OR total_amount < 0) AS negative_amount,
       count(*) FILTER (WHERE quantity <= 0) AS non_positive_quantity,
       count(*) FILTER (WHERE abs(total_amount - quantity * unit_price) > 0.01) AS total_mismatch,
       (array_agg(transaction_id ORDER BY transaction_id) FILTER (
            WHERE unit_price < 0 OR total_amount < 0 OR quantity <= 0
               OR abs(total_amount - quantity * unit_price) > 0.01))[1:20] AS examples
FROM warehouse.fact_sales
WHERE %(source_file)s::text IS NULL OR source_file = %(source_file)s::text;
