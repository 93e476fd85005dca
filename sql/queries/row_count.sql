-- The number of rows of a relation (identifier quoted by the caller).
SELECT count(*) FROM {relation}
