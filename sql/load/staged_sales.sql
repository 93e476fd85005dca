-- staged_sales: one sales file's rows while it loads, valid and rejected, in a temporary table
-- that lives only inside the file's transaction (ON COMMIT DROP). Temporary tables write no WAL
-- and take no locks other sessions see, which is what makes staging cheap; what must outlive the
-- load (the facts, the quarantine, the ledger) is written from here in the same transaction.
-- This column list is the one declaration of a staged row: the reader's Arrow schema is read
-- from it (warehouse_assets.core.staged), and a test compares both with information_schema.
CREATE TEMP TABLE staged_sales (
    -- The merge reads these rows a dozen times, and each read walks a row's columns up to the
    -- last one it needs (a valid row has NULLs, so no column's offset is cached): what every read
    -- filters on comes first, then the fixed-width columns the sums add, then the text the
    -- groupings use, then what only the facts' insert and the quarantine copy. In the order of
    -- the file's columns, each read of a million rows cost about twice as much.
    reasons        text[],            -- NULL for a valid row
    line_number    bigint NOT NULL,   -- first physical line of the record, 1-based
    transaction_ts timestamptz,
    -- The three amounts again in whole cents, as the reader judged them: what the merge's sums add
    -- (a million bigint additions cost about half of as many numerics turned into cents).
    total_cents    bigint,
    unit_price_cents bigint,
    discount_cents bigint,
    date_key       integer,
    product_id     integer,
    quantity       integer,
    line_count     integer NOT NULL,  -- physical lines the record spans (quoted line breaks)
    opens_order    boolean,           -- the first sale line of its order (NULL: decided by the merge)
    customer_id    text COLLATE "C",
    transaction_type text,            -- sale or return
    payment_method text COLLATE "C",
    transaction_id text COLLATE "C",
    customer_name  text,
    city           text,
    country        text,
    product_name   text,
    order_id       text COLLATE "C",              -- the transaction id when the row names no order
    unit_price     numeric(12, 2),
    total_amount   numeric(14, 2),
    discount_amount numeric(14, 2),   -- taken off the line; total_amount is after it
    original_transaction_id text COLLATE "C",     -- the sale a return takes back, when it says
    raw_record     jsonb              -- only for rejected rows
) ON COMMIT DROP
