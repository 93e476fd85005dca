-- The ledger row of a file just merged, in the same transaction: what was read and what it
-- became. A previous failure of the same content is cleared; one of other content is kept.
-- Parameters: every column below, by name.
INSERT INTO warehouse.sales_files AS s (
    source_file, fingerprint, layout, layout_version, unit_price_derived, size_bytes, mtime_ns, lines_read,
    records_read, rows_loaded, amount_loaded, rows_rejected, rows_duplicate, noise_lines, noise_detail,
    rejected_detail, extra_columns, loaded_at, run_id
) VALUES (
    %(source_file)s, %(fingerprint)s, %(layout)s, %(layout_version)s, %(unit_price_derived)s,
    %(size_bytes)s, %(mtime_ns)s, %(lines_read)s, %(records_read)s,
    -- The file's facts are the ones the merge summed per customer (file_customers), so their count
    -- and net amount come from there rather than from reading them again; the reconciliation
    -- check compares both with fact_sales.
    (SELECT coalesce(sum(transactions), 0) FROM file_customers),
    (SELECT coalesce(sum(amount - returned), 0) FROM file_customers),
    %(rows_rejected)s,
    (SELECT count(*) FROM warehouse.rejected_sales
      WHERE source_file = %(source_file)s AND reasons = ARRAY['duplicate_transaction'] AND raw_record ? 'first_loaded_from'),
    %(noise_lines)s, %(noise_detail)s,
    %(rejected_detail)s || jsonb_build_object('duplicate_transaction',
        (SELECT count(*) FROM warehouse.rejected_sales
          WHERE source_file = %(source_file)s AND reasons = ARRAY['duplicate_transaction'] AND raw_record ? 'first_loaded_from')
        + coalesce((%(rejected_detail)s ->> 'duplicate_transaction')::bigint, 0)),
    %(extra_columns)s, %(loaded_at)s, %(run_id)s
)
ON CONFLICT (source_file) DO UPDATE SET
    fingerprint = EXCLUDED.fingerprint,
    layout = EXCLUDED.layout,
    layout_version = EXCLUDED.layout_version,
    unit_price_derived = EXCLUDED.unit_price_derived,
    size_bytes = EXCLUDED.size_bytes,
    mtime_ns = EXCLUDED.mtime_ns,
    lines_read = EXCLUDED.lines_read,
    records_read = EXCLUDED.records_read,
    rows_loaded = EXCLUDED.rows_loaded,
    amount_loaded = EXCLUDED.amount_loaded,
    rows_rejected = EXCLUDED.rows_rejected,
    rows_duplicate = EXCLUDED.rows_duplicate,
    noise_lines = EXCLUDED.noise_lines,
    noise_detail = EXCLUDED.noise_detail,
    rejected_detail = EXCLUDED.rejected_detail,
    extra_columns = EXCLUDED.extra_columns,
    loaded_at = EXCLUDED.loaded_at,
    run_id = EXCLUDED.run_id,
    failed_at = CASE WHEN s.failed_fingerprint = EXCLUDED.fingerprint THEN NULL ELSE s.failed_at END,
    failure = CASE WHEN s.failed_fingerprint = EXCLUDED.fingerprint THEN NULL ELSE s.failure END,
    failed_fingerprint = CASE WHEN s.failed_fingerprint = EXCLUDED.fingerprint THEN NULL ELSE s.failed_fingerprint END
RETURNING rows_loaded, rows_duplicate
