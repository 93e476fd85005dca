-- The modification time (ns) a loaded file had when the load opened it. With the size and the
-- fingerprint it lets `warehouse load` tell an unchanged landing file without reading it: before,
-- every command hashed every file still in the landing folder (a 1 GB export added 2 s to each
-- later load of a small file). NULL for a file loaded before it was recorded, or modified just
-- before its load opened it: such a file is hashed at every scan, as every file was before, until
-- it is loaded again.
ALTER TABLE warehouse.sales_files ADD COLUMN IF NOT EXISTS mtime_ns bigint;
