-- Record that a view was created from a file with this checksum. Parameters: view_name, checksum.
INSERT INTO warehouse.view_history (view_name, checksum) VALUES (%(view_name)s, %(checksum)s)
ON CONFLICT (view_name) DO UPDATE SET checksum = EXCLUDED.checksum, created_at = now()
