-- staged_sales: one sales file's rows while it loads, valid and rejected, in a temporary table
-- that lives only inside the file's transaction (ON COMMIT DROP). Temporary tables write no WAL
-- and take no locks other sessions see, which is what makes staging cheap; what must outlive the
-- load (the facts, the quarantine, the ledger) is written from here in the same transaction.
-- This column list is the one declaration of a staged row: the reader's Arrow schema is read
-- from it (warehouse_assets.core.staged), and a test compares both with information_schema.
CREATE TEMP TABLE staged_sales (
    line_number    bigint NOT NULL,   -- first physical line of the record, 1-based
    line_count     integer NOT NULL,  -- physical lines the record spans (quoted line breaks)
    transaction_id text COLLATE "C",
    transaction_ts timestamptz,
    date_key       integer,
    customer_id    text COLLATE "C",
    customer_name  text,
    city           text,
    country        text,
    product_id     integer,
    product_name   text,
    quantity       integer,
    unit_price     numeric(12, 2),
    total_amount   numeric(14, 2),
    payment_method text COLLATE "C",
    order_id       text COLLATE "C",              -- the transaction id when the row names no order
    transaction_type text,            -- sale or return
    original_transaction_id text COLLATE "C",     -- the sale a return takes back, when it says
    discount_amount numeric(14, 2),   -- taken off the line; total_amount is after it
    -- The three amounts again in whole cents, as the reader judged them: what the merge's sums add
    -- (a million bigint additions cost about half of as many numerics turned into cents).
    total_cents    bigint,
    unit_price_cents bigint,
    discount_cents bigint,
    opens_order    boolean,           -- the first sale line of its order (NULL: decided by the merge)
    reasons        text[],            -- NULL for a valid row
    raw_record     jsonb              -- only for rejected rows
) ON COMMIT DROP
