-- The IO manager replaces partitions of an asset's table: the rows of the run's partition keys.
-- Parameter keys (identifiers quoted by the caller).
DELETE FROM {table} WHERE {column} = ANY(%(keys)s)
