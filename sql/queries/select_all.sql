-- Every row of a relation (identifier quoted by the caller), as rows a client makes objects of.
SELECT * FROM {relation}
