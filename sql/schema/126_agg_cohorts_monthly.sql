-- agg_cohorts_monthly: per cohort (the month of a customer's first sale) and calendar month, the
-- cohort's customers with facts that month (members), those with a sale (customers), the net
-- amount of all members and of the buyers only. Behind customer_cohorts_monthly and
-- new_vs_repeat_monthly, so both read a few thousand rows at most. A load takes out the rows of
-- the customers it touches as they were and puts them back as they are (a customer's cohort moves
-- when an earlier sale arrives or their first sale is withdrawn), so the cost follows the file's
-- customers, not the warehouse.
CREATE TABLE IF NOT EXISTS warehouse.agg_cohorts_monthly (
    cohort_month date NOT NULL,
    month        date NOT NULL,
    members      bigint NOT NULL,
    customers    bigint NOT NULL,
    net_amount   numeric(18, 2) NOT NULL,
    buyer_net    numeric(18, 2) NOT NULL,
    PRIMARY KEY (cohort_month, month)
) WITH (fillfactor = 80);
-- A warehouse from before this table: filled once from the monthly customer summary.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM warehouse.agg_cohorts_monthly LIMIT 1) THEN
        INSERT INTO warehouse.agg_cohorts_monthly (cohort_month, month, members, customers, net_amount, buyer_net)
        SELECT date_trunc('month', c.first_purchase_date)::date, m.month, count(*),
               count(*) FILTER (WHERE m.sale_count > 0), sum(m.net_amount),
               coalesce(sum(m.net_amount) FILTER (WHERE m.sale_count > 0), 0)
        FROM warehouse.agg_customers_monthly m
        JOIN warehouse.dim_customer c ON c.customer_id = m.customer_id
        WHERE c.first_purchase_date IS NOT NULL
        GROUP BY 1, 2;
    END IF;
END
$$;
