-- A transaction-level advisory lock on a name, so that processes doing the same kind of work on
-- the same database take turns. Parameter: name.
SELECT pg_advisory_xact_lock(hashtext(%(name)s))
