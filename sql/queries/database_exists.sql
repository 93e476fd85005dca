-- Whether a database of this name exists on the server. Parameter: name.
SELECT 1 FROM pg_database WHERE datname = %(name)s
