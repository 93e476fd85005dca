-- Every row of a relation (identifier quoted by the caller) as COPY text to the client: what a
-- dashboard's database delivers, without the client's work of making objects of it.
COPY (SELECT * FROM {relation}) TO STDOUT
