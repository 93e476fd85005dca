-- One load of a file at a time: held from the first staged row to the commit, so the rows that
-- become facts are exactly the version whose fingerprint the ledger records, whatever other run
-- loads the same file at the same moment. Parameter: source_file.
SELECT pg_advisory_xact_lock(hashtext('warehouse.sales_file'), hashtext(%(source_file)s))
