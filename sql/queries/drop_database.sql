-- Drop a database (the identifier is quoted by the caller), closing its connections.
DROP DATABASE IF EXISTS {name} WITH (FORCE)
