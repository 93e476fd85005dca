"""Dagster resources: the warehouse database, the Postgres IO manager, the FakeStore client."""
