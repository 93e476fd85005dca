-- The first rows of a relation, in the order its SQL file's "preview order" line gives
-- (identifiers and the order come from the project's own SQL files, never from data).
SELECT * FROM {relation} {order} LIMIT {limit}
