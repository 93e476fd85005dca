-- The planner's estimate of a table's rows (-1 before it was first analyzed). Parameter:
-- relation ('schema.name').
SELECT reltuples::bigint FROM pg_class WHERE oid = %(relation)s::regclass
