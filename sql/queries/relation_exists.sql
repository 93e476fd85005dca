-- Whether a schema-qualified relation exists. Parameter: relation ('schema.name').
SELECT to_regclass(%(relation)s) IS NOT NULL
