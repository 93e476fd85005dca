-- Refuses a database built by the first release of the warehouse, whose staging table
-- (warehouse.raw_sales) and refresh queue this release no longer has: its facts and summaries
-- were kept differently and cannot be upgraded in place. The landing files are the source of
-- truth, so such a warehouse is rebuilt by loading them again into a fresh database.
DO $$
BEGIN
    IF to_regclass('warehouse.refresh_queue') IS NOT NULL OR to_regclass('warehouse.raw_sales') IS NOT NULL THEN
        RAISE EXCEPTION 'this database holds a warehouse built by an earlier release (it has warehouse.refresh_queue or warehouse.raw_sales)'
            USING HINT = 'Load the landing files into a fresh database: point WAREHOUSE_DATABASE_URL at a new one, or drop the schemas warehouse and analytics (DROP SCHEMA warehouse, analytics CASCADE) and run `warehouse load --all`.';
    END IF;
END
$$;
