"""An analytics warehouse for online shops, orchestrated by Dagster on PostgreSQL.

Products come from the FakeStore API, sales from CSV files dropped in a landing folder; both are
validated against the contract in `contract.py` and loaded into a star schema. The one
`Definitions` object is in `definitions.py`; the CLI (`warehouse ...`) is in `cli.py`.
"""
