-- Record that a schema file was applied with this checksum. Parameters: file, checksum.
INSERT INTO warehouse.schema_history (file, checksum) VALUES (%(file)s, %(checksum)s)
ON CONFLICT (file) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()
