"""The asset groups are the PostgreSQL schemas: two boxes in the lineage, each readable when opened.

`warehouse` holds what loads write (the raw inputs, the star schema and its daily summaries),
`analytics` the views over them. Finer groups (one per source, views apart from analytics) made
the global lineage open as a row of collapsed boxes that, expanded, no longer fit on a screen.
"""

WAREHOUSE = "warehouse"
ANALYTICS = "analytics"
