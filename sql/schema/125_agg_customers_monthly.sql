-- agg_customers_monthly: per customer and calendar month (UTC), the sales lines, returns and net
-- amount (sales minus returns), behind the cohort and new-versus-repeat analytics. A load adds
-- its facts' sums and subtracts those of the file version it replaces, in the same transaction
-- as the facts, so the cost follows the file; a customer's cohort is the month of
-- dim_customer.first_purchase_date.
CREATE TABLE IF NOT EXISTS warehouse.agg_customers_monthly (
    customer_id  text COLLATE "C" NOT NULL,
    month        date NOT NULL,
    sale_count   bigint NOT NULL,
    return_count bigint NOT NULL,
    net_amount   numeric(18, 2) NOT NULL,
    PRIMARY KEY (customer_id, month)
) WITH (fillfactor = 80);
-- A warehouse from before this table: filled once from the facts (every fact was a sale then).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM warehouse.agg_customers_monthly LIMIT 1) THEN
        INSERT INTO warehouse.agg_customers_monthly (customer_id, month, sale_count, return_count, net_amount)
        SELECT customer_id, date_trunc('month', transaction_ts AT TIME ZONE 'UTC')::date,
               count(*) FILTER (WHERE transaction_type = 'sale'),
               count(*) FILTER (WHERE transaction_type = 'return'),
               sum(CASE WHEN transaction_type = 'return' THEN -total_amount ELSE total_amount END)
        FROM warehouse.fact_sales
        GROUP BY 1, 2;
    END IF;
END
$$;
