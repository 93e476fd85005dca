-- The IO manager loads partitions of an asset's table. Parameter keys (identifiers quoted by the
-- caller).
SELECT {columns} FROM {table} WHERE {column} = ANY(%(keys)s)
