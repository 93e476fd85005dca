"""The database roles of sql/roles.sql, with real login sessions.

Data is loaded through the real jobs (a products snapshot and a generated sales file with bad
rows), then roles.sql is applied twice: the second run changes no privilege, owner or role. Each
test logs in as LOGIN roles of its own (support.roles) over real connections: the test servers
trust local connections, so `user=<role>` in the URL is enough, and nothing runs through SET ROLE
from the superuser's session.

* A member of warehouse_reader selects every view and analytics object (the list must be the SQL
  files of sql/views and sql/analytics) with the rows the superuser sees, although it cannot read
  one base table: the views read them with their owner's rights. Every table of schema
  `warehouse` is "permission denied", and so is every write.
* A member of warehouse_loader runs the real jobs in a warehouse another role owns: every step
  succeeds on the grants alone while the views' files are unchanged; a changed view fails with
  "must be owner of view" (the documented limitation) until the views are handed over.
* The intended production setup: roles.sql on an empty database, then the schema applied and the
  jobs run by a loader login whose sessions run as warehouse_loader; a reader reads the views the
  loader created without roles.sql being run again (default privileges).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from warehouse_assets.core.urls import database_name
from warehouse_assets.db.migrations import apply_schema
from warehouse_assets.db.roles import LOADER_ROLE, READER_ROLE, apply_roles
from warehouse_assets.defs.build import build_definitions
from warehouse_assets_tests.support.data import small_sales_file
from warehouse_assets_tests.support.jobs import load_file, refresh_products, step_failures
from warehouse_assets_tests.support.paths import SQL_DIR
from warehouse_assets_tests.support.roles import counts, denied, privileges_snapshot, relations

# The analytics layer as the repository defines it: one object per SQL file.
ANALYTICS_OBJECTS = frozenset(p.stem for folder in ("views", "analytics") for p in (SQL_DIR / folder).glob("*.sql"))
# Base tables that must stay private (facts, customers, quarantined rows as received, the ledger);
# the tests check every table of schema `warehouse`, these included.
SENSITIVE_TABLES = ("rejected_sales", "fact_sales", "dim_customer", "sales_files")
LOAD_ASSETS = frozenset(
    {"raw_sales", "fact_sales", "dim_customer", "dim_date", "agg_sales_daily", "agg_customers_daily"}
)


def materialized(result) -> set[str]:
    return {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}


@pytest.fixture
def loaded(landing, warehouse_url: str, db, instance, defs) -> str:
    """The test's warehouse with products and one sales file (bad rows included) loaded through
    the real jobs by the superuser, then roles.sql applied twice; its (superuser) URL."""
    key = small_sales_file(landing, "sales_a.csv", seed=3, prefix="A")
    refresh_products(defs, instance, raise_on_error=True)
    load_file(defs, instance, key, raise_on_error=True)
    assert db.execute("SELECT count(*) FROM warehouse.rejected_sales").fetchone()[0] > 0
    assert db.execute("SELECT count(*) FROM warehouse.fact_sales").fetchone()[0] > 0
    apply_roles(warehouse_url)
    first = privileges_snapshot(warehouse_url)
    apply_roles(warehouse_url)
    assert privileges_snapshot(warehouse_url) == first, "a second run of roles.sql changed privileges"
    return warehouse_url


@pytest.fixture
def db_admin_of() -> Iterator[Callable[[str], psycopg.Connection]]:
    """Autocommit superuser connections to databases other than the test's warehouse_url."""
    opened: list[psycopg.Connection] = []

    def connect(url: str) -> psycopg.Connection:
        conn = psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC")
        opened.append(conn)
        return conn

    yield connect
    for conn in opened:
        conn.close()


def test_roles_sql_creates_two_group_roles_and_is_idempotent(loaded, db):
    roles = {
        r[0]: r[1:]
        for r in db.execute(
            "SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, "
            "rolreplication "
            "FROM pg_roles WHERE rolname IN (%s, %s)",
            (READER_ROLE, LOADER_ROLE),
        )
    }
    assert roles == {READER_ROLE: (False,) * 6, LOADER_ROLE: (False,) * 6}, "NOLOGIN group roles, no attributes"

    def has(role, kind, obj, privilege):
        return db.execute(f"SELECT has_{kind}_privilege(%s, %s, %s)", (role, obj, privilege)).fetchone()[0]

    database = database_name(loaded)
    assert has(READER_ROLE, "database", database, "CONNECT")
    assert not has(READER_ROLE, "database", database, "CREATE")
    assert has(LOADER_ROLE, "database", database, "CONNECT, CREATE, TEMPORARY")
    assert has(READER_ROLE, "schema", "analytics", "USAGE")
    for schema in ("analytics", "warehouse", "public"):
        assert not has(READER_ROLE, "schema", schema, "CREATE"), schema
        assert not has("public", "schema", schema, "CREATE"), f"PUBLIC may create in {schema}"
    assert not has(READER_ROLE, "schema", "warehouse", "USAGE")
    for schema in ("warehouse", "analytics"):
        assert has(LOADER_ROLE, "schema", schema, "USAGE, CREATE"), schema
    assert not has(LOADER_ROLE, "schema", "public", "CREATE")
    for table in relations(db, "warehouse"):
        qualified = f"warehouse.{table}"
        assert has(LOADER_ROLE, "table", qualified, "SELECT, INSERT, UPDATE, DELETE, TRUNCATE"), qualified
        assert not has(READER_ROLE, "table", qualified, "SELECT"), qualified
    assert has(LOADER_ROLE, "function", "warehouse.dim_date_row(date)", "EXECUTE")

    # The second application after a schema change by the superuser: the default privileges
    # cover objects created after roles.sql ran, in both directions.
    db.execute("CREATE TABLE warehouse.later_staging (id int)")
    db.execute("CREATE VIEW analytics.later_view AS SELECT 1 AS one")
    assert has(LOADER_ROLE, "table", "warehouse.later_staging", "SELECT, INSERT, UPDATE, DELETE, TRUNCATE")
    assert not has(READER_ROLE, "table", "warehouse.later_staging", "SELECT")
    assert has(READER_ROLE, "table", "analytics.later_view", "SELECT")
    assert not has(READER_ROLE, "table", "analytics.later_view", "INSERT")


def test_reader_reads_every_analytics_object_and_nothing_of_the_warehouse(loaded, db, login_roles):
    reader = login_roles(loaded, READER_ROLE)
    objects = relations(db, "analytics")
    assert set(objects) == ANALYTICS_OBJECTS, "every view and analytics object exists after the loads"
    base_tables = relations(db, "warehouse")
    assert set(SENSITIVE_TABLES) <= set(base_tables)
    expected = counts(db, "analytics", objects)
    assert all(expected.values()), expected

    # The views read base tables the reader cannot read, with their owner's rights.
    invoker = db.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'analytics' "
        "AND 'security_invoker=true' = ANY(coalesce(c.reloptions, '{}'))"
    ).fetchall()
    assert invoker == [], "a security_invoker view would be unreadable to warehouse_reader"
    read_by_views = {
        r[0]
        for r in db.execute(
            "SELECT DISTINCT table_name FROM information_schema.view_table_usage "
            "WHERE view_schema = 'analytics' AND table_schema = 'warehouse'"
        )
    }
    assert {"dim_customer", "agg_sales_daily", "dim_product", "dim_date"} <= read_by_views

    with psycopg.connect(reader.url, autocommit=True) as conn:
        who = conn.execute(
            "SELECT session_user, current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert who == (reader.name, reader.name, False), "a real session as the reader"
        for table in read_by_views:
            # By oid: the reader may not even look names up in schema warehouse.
            oid = db.execute("SELECT %s::regclass::oid", (f"warehouse.{table}",)).fetchone()[0]
            assert conn.execute("SELECT has_table_privilege(%s, 'SELECT')", (oid,)).fetchone()[0] is False, table

        # Every analytics object, with every row the superuser sees.
        assert relations(conn, "analytics") == objects
        assert counts(conn, "analytics", objects) == expected
        for name in objects:
            conn.execute(sql.SQL("SELECT * FROM {} LIMIT 5").format(sql.Identifier("analytics", name))).fetchall()

        # Nothing of schema warehouse: not even its list of tables.
        assert relations(conn, "warehouse") == []
        for table in base_tables:
            message = denied(conn, sql.SQL("SELECT * FROM {} LIMIT 1").format(sql.Identifier("warehouse", table)))
            assert "permission denied" in message, (table, message)
        denied(conn, "SELECT warehouse.dim_date_row(current_date)")
        denied(conn, sql.SQL("SET ROLE {}").format(sql.Identifier(LOADER_ROLE)))

        # No writes. An auto-updatable view would write its base table with the owner's rights,
        # so INSERT/UPDATE/DELETE through one must be refused for lack of privilege.
        updatable = [
            r[0]
            for r in db.execute(
                "SELECT table_name FROM information_schema.views WHERE table_schema = 'analytics' "
                "AND (is_updatable = 'YES' OR is_insertable_into = 'YES') ORDER BY 1"
            )
        ]
        assert "vw_customer_lifetime_value" in updatable
        for name in updatable:
            view = sql.Identifier("analytics", name)
            column = sql.Identifier(
                db.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics' "
                    "AND table_name = %s AND is_updatable = 'YES' ORDER BY ordinal_position LIMIT 1",
                    (name,),
                ).fetchone()[0]
            )
            denied(conn, sql.SQL("INSERT INTO {} DEFAULT VALUES").format(view))
            denied(conn, sql.SQL("UPDATE {} SET {} = {}").format(view, column, column))
            denied(conn, sql.SQL("DELETE FROM {}").format(view))
        for name in objects:
            assert not conn.execute(
                "SELECT has_table_privilege(%s, 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')",
                (f"analytics.{name}",),
            ).fetchone()[0], name
        with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.WrongObjectType)):
            conn.execute("TRUNCATE analytics.vw_customer_lifetime_value")
        denied(
            conn,
            "INSERT INTO warehouse.rejected_sales (source_file, line_number, reasons, raw_record) "
            "VALUES ('x', 1, '{}', '{}')",
        )
        denied(conn, "UPDATE warehouse.dim_customer SET customer_name = 'intruder'")
        denied(conn, "DELETE FROM warehouse.fact_sales")
        denied(conn, "TRUNCATE warehouse.rejected_sales")
        for schema in ("analytics", "warehouse", "public"):
            denied(conn, f"CREATE TABLE {schema}.intruder (id int)")
            denied(conn, f"CREATE VIEW {schema}.intruder AS SELECT 1 AS one")
            denied(conn, f"CREATE FUNCTION {schema}.intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'")
        denied(conn, "CREATE SCHEMA intruder")

    # Nothing changed.
    assert counts(db, "analytics", objects) == expected
    assert (
        db.execute(
            "SELECT count(*) FROM pg_class WHERE relname = 'intruder' OR relnamespace::regnamespace::text = 'intruder'"
        ).fetchone()[0]
        == 0
    )
    assert db.execute("SELECT count(*) FROM warehouse.dim_customer WHERE customer_name = 'intruder'").fetchone()[0] == 0


def test_loader_loads_into_a_warehouse_another_role_owns_until_a_view_changes(
    loaded, db, login_roles, instance, landing, settings
):
    loader = login_roles(loaded, LOADER_ROLE, run_as_group=True)
    with psycopg.connect(loader.url, autocommit=True) as conn:
        assert conn.execute("SELECT session_user, current_user").fetchone() == (loader.name, LOADER_ROLE)
    owners = {
        r[0]
        for r in db.execute(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace IN "
            "('warehouse'::regnamespace, 'analytics'::regnamespace)"
        )
    }
    assert LOADER_ROLE not in owners, "here the superuser owns every table and view"
    defs = build_definitions(settings.replace(database_url=loader.url))

    # The views exist and their files did not change: the whole run succeeds on the grants alone.
    key = small_sales_file(landing, "sales_b.csv", seed=4, prefix="B")
    result = load_file(defs, instance, key)
    assert result.success, step_failures(result)
    assert LOAD_ASSETS | ANALYTICS_OBJECTS <= materialized(result)
    products = refresh_products(defs, instance)
    assert products.success, step_failures(products)
    facts, rejected, loaded_at = db.execute(
        "SELECT (SELECT count(*) FROM warehouse.fact_sales WHERE source_file = %(f)s),"
        "       (SELECT count(*) FROM warehouse.rejected_sales WHERE source_file = %(f)s),"
        "       (SELECT loaded_at FROM warehouse.sales_files WHERE source_file = %(f)s)",
        {"f": key},
    ).fetchone()
    assert facts > 0 and rejected > 0 and loaded_at is not None

    # A view whose file changed must be replaced, which only its owner may do: the file's load
    # still commits, the views step fails saying so.
    db.execute("UPDATE warehouse.view_history SET checksum = 'changed' WHERE view_name = 'vw_daily_sales_summary'")
    (landing / key).unlink()
    key_c = small_sales_file(landing, "sales_c.csv", seed=5, prefix="C")
    result = load_file(defs, instance, key_c)
    failures = step_failures(result)
    assert list(failures) == ["analytics_views"], failures
    assert "must be owner of view" in failures["analytics_views"]
    assert LOAD_ASSETS <= materialized(result)
    assert db.execute("SELECT count(*) FROM warehouse.fact_sales WHERE source_file = %s", (key_c,)).fetchone()[0] > 0

    # The hand-over roles.sql describes: once the loader owns the views, the run succeeds, and the
    # reader keeps its SELECT on them (an owner change keeps the grants).
    for name in relations(db, "analytics"):
        db.execute(
            sql.SQL("ALTER VIEW {} OWNER TO {}").format(sql.Identifier("analytics", name), sql.Identifier(LOADER_ROLE))
        )
    result = load_file(defs, instance, key_c)
    assert result.success, step_failures(result)
    reader = login_roles(loaded, READER_ROLE)
    with psycopg.connect(reader.url, autocommit=True) as conn:
        assert set(counts(conn, "analytics", sorted(ANALYTICS_OBJECTS))) == ANALYTICS_OBJECTS


def test_loader_owned_warehouse_from_an_empty_database(
    empty_database_url, db_admin_of, login_roles, instance, landing, settings
):
    """The intended setup: roles.sql first, then the loader applies the schema and runs the jobs."""
    apply_roles(empty_database_url)
    loader = login_roles(empty_database_url, LOADER_ROLE, run_as_group=True)
    reader = login_roles(empty_database_url, READER_ROLE)
    assert apply_schema(loader.url)[0] == "000_schemas.sql"
    defs = build_definitions(settings.replace(database_url=loader.url))
    refresh_products(defs, instance, raise_on_error=True)
    load_file(defs, instance, small_sales_file(landing, "sales_a.csv", seed=5, prefix="A"), raise_on_error=True)

    admin = db_admin_of(empty_database_url)
    owners = admin.execute(
        "SELECT 'relation', pg_get_userbyid(relowner) FROM pg_class "
        "WHERE relnamespace IN ('warehouse'::regnamespace, 'analytics'::regnamespace) "
        "UNION SELECT 'function', pg_get_userbyid(proowner) FROM pg_proc "
        "WHERE pronamespace = 'warehouse'::regnamespace "
        "UNION SELECT 'schema', pg_get_userbyid(nspowner) FROM pg_namespace "
        "WHERE nspname IN ('warehouse', 'analytics')"
    ).fetchall()
    assert sorted(owners) == [
        ("function", LOADER_ROLE),
        ("relation", LOADER_ROLE),
        ("schema", LOADER_ROLE),
    ]
    objects = relations(admin, "analytics")
    assert set(objects) == ANALYTICS_OBJECTS

    # The views the loader created are readable by the reader without roles.sql running again.
    with psycopg.connect(reader.url, autocommit=True) as conn:
        assert counts(conn, "analytics", objects) == counts(admin, "analytics", objects)
        assert relations(conn, "warehouse") == []
        for table in SENSITIVE_TABLES:
            denied(conn, f"SELECT * FROM warehouse.{table} LIMIT 1")
        denied(conn, "CREATE TABLE analytics.intruder (id int)")

    # roles.sql again on the loaded warehouse, then a second file: still all green.
    apply_roles(empty_database_url)
    result = load_file(defs, instance, small_sales_file(landing, "sales_b.csv", seed=6, prefix="B"))
    assert result.success, step_failures(result)
