"""Database access: connections, the embedded server, migrations, COPY, and every statement the
warehouse runs, read from `sql/`. psycopg only: nothing here knows about Dagster."""
