-- The views created so far, with the checksum of the file each came from, and whether it exists.
SELECT h.view_name, h.checksum, to_regclass('analytics.' || h.view_name) IS NOT NULL AS present
FROM warehouse.view_history h
