"""Pure ingestion logic: reading and validating source data, no Dagster and no database."""
