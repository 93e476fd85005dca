-- The IO manager loads an asset's table, or some of its columns (identifiers quoted by the caller).
SELECT {columns} FROM {table}
