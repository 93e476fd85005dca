-- The IO manager replaces an unpartitioned asset's table: every row goes (identifier quoted by
-- the caller). DELETE, not TRUNCATE, so readers keep their snapshot until the commit.
DELETE FROM {table}
