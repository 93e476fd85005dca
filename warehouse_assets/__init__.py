"""An analytics warehouse for online shops, orchestrated by Dagster on PostgreSQL.

Layers, each importing only those below it: `core` (the contract, CSV reading, layouts, the
landing folder: no Dagster, no database), `db` (connections, migrations, SQL files, COPY, the
ledger), `defs` (Dagster assets, checks, jobs, sensors, schedules, resources), `cli` (the
`warehouse` command, the benchmark, sample data). `definitions.py` is what Dagster loads.
"""
