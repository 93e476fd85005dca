-- The planner's estimate of a table's rows, scaled like the planner scales it to the table's
-- pages now (rows added since the last ANALYZE count); 0 for a table without pages, -1 for one
-- that has pages but was never analyzed (nothing to scale). Parameter: relation ('schema.name').
SELECT CASE WHEN pg_relation_size(c.oid) = 0 THEN 0
            WHEN c.reltuples < 0 OR c.relpages = 0 THEN -1
            ELSE (c.reltuples / c.relpages
                  * (pg_relation_size(c.oid) / current_setting('block_size')::integer))::bigint
       END
FROM pg_class c
WHERE c.oid = %(relation)s::regclass
