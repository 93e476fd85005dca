"""Dagster definitions: assets, checks, jobs, sensors, schedules and resources, built from a
`Settings` object by `build.build_definitions`. Thin: the work is in `core` and `db`."""
