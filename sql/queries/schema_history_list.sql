-- The schema files applied so far, with the checksum each had then.
SELECT file, checksum FROM warehouse.schema_history
