-- Every row of a relation (identifier quoted by the caller): what a dashboard reads.
SELECT * FROM {relation}
