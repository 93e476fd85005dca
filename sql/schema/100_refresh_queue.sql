-- refresh_queue: keys (customers, days) whose derived rows must be recomputed, per consumer.
-- A sales load enqueues what it touched (rows removed and rows added); each incremental asset
-- (dim_customer, the daily aggregates) recomputes its keys and removes them in the same
-- transaction. A failed refresh leaves its keys queued, so the next run catches up.
CREATE TABLE IF NOT EXISTS warehouse.refresh_queue (
    consumer    text NOT NULL,
    item_key    text NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, item_key)
);
