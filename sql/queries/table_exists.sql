-- Whether a table exists, by schema and name as given (any characters). Parameters: schema, name.
SELECT EXISTS (
    SELECT 1 FROM information_schema.tables WHERE table_schema = %(schema)s AND table_name = %(name)s
)
