"""Security: the database roles of sql/roles.sql, and no password in anything Dagster or the CLI
records or prints.

Roles. Data is loaded through the real jobs (a products snapshot and a generated sales file with
bad rows), then roles.sql is applied twice: the second run changes no privilege, owner or role.
Every test then logs in as a LOGIN role of its own (a unique name, created for the test and
dropped at teardown, as roles are cluster-wide) over a real connection as that user: the servers
the tests use trust local connections, so `user=<role>` in the URL is enough, and nothing runs
through SET ROLE from the superuser's session.

* A member of warehouse_reader selects every view and analytics object (listed from
  information_schema, and the list must be the SQL files of sql/views and sql/analytics) with the
  same rows the superuser sees, although it cannot read one base table: the views read them with
  their owner's rights. Every table of schema `warehouse` (fact_sales, dim_customer, raw_sales,
  rejected_sales among them) is "permission denied", and so is every write: INSERT, UPDATE and
  DELETE through an updatable view or on base tables, TRUNCATE, CREATE TABLE/VIEW/FUNCTION in
  analytics, warehouse and public, CREATE SCHEMA.
* A member of warehouse_loader runs the real sales_file_job and products_job in a warehouse whose
  objects another role (the superuser) owns: every load step succeeds on the grants alone; the
  view steps fail with "must be owner of view", the documented limitation, and succeed once the
  views are handed over to warehouse_loader as roles.sql's header says.
* The intended production setup: roles.sql on an empty database, then the schema applied and the
  jobs run by a loader login whose sessions run as warehouse_loader. Everything is owned by the
  group role, the full products and sales runs succeed, and a reader reads the views the loader
  created without roles.sql being run again (default privileges).

Secrets. A loader login with a distinctive random password is put into WAREHOUSE_DATABASE_URL,
the Dagster instance is built from the repository's dagster.yaml with its storage in PostgreSQL
(DAGSTER_PG_URL, with the same password), and `defs` is built the way the code location builds it
(reloading warehouse_assets.definitions, so the URL is a dg.EnvVar). After a products refresh, a
sales file load and the checks job, the password is in none of: the events of the runs, their run
config and tags, their job and execution plan snapshots, the materialization and check metadata,
any row of any table of Dagster's storage, the captured output and log records. `warehouse db-url`
and `warehouse config` mask it; `warehouse db-url --show-password` prints it (so the test can see
it when asked). mask_url masks every form of password libpq accepts.
"""

from __future__ import annotations

import importlib
import secrets
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import dagster as dg
import psycopg
import pytest
from dagster._serdes import serialize_value
from psycopg import sql

from warehouse_assets import settings
from warehouse_assets.definitions import build_definitions
from warehouse_assets.resources.postgres import (
    database_name,
    mask_url,
    replace_database,
    with_driver,
)
from warehouse_assets.resources.warehouse import apply_schema
from warehouse_assets.roles import LOADER_ROLE, READER_ROLE, apply_roles
from warehouse_assets.sample_data import SalesSpec, generate_sales
from warehouse_assets_tests.conftest import create_database, drop_database
from warehouse_assets_tests.helpers import (
    load_sales_file,
    refresh_products,
    run_checks,
    step_failures,
)

# The analytics layer as the repository defines it: one object per SQL file.
ANALYTICS_OBJECTS = frozenset(
    p.stem for folder in ("views", "analytics") for p in (settings.SQL_DIR / folder).glob("*.sql")
)
# Base tables that must stay private (facts, customers, raw and quarantined rows as received);
# the tests check every table of schema `warehouse`, these included.
SENSITIVE_TABLES = ("rejected_sales", "fact_sales", "dim_customer", "raw_sales")
# The steps of a sales file's load that only write tables (no view is created or replaced).
LOAD_ASSETS = frozenset(
    {
        "raw_sales",
        "fact_sales",
        "dim_customer",
        "dim_date",
        "agg_sales_daily",
        "agg_customers_daily",
    }
)


def small_file(landing, name: str, seed: int, prefix: str) -> str:
    generate_sales(
        landing / name,
        SalesSpec(rows=400, customers=60, products=20, bad_share=0.05, seed=seed, id_prefix=prefix),
    )
    return name


# --- Login roles --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    name: str
    url: str  # the database's URL with this role as the user (and its password, if it has one)


def url_as(url: str, user: str, password: str | None = None) -> str:
    """`url` with another user (and password) in it, host, database and query unchanged."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = quote(user, safe="")
    if password is not None:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{userinfo}@{host}", parts.path, parts.query, parts.fragment))


def _drop_login(server_url: str, name: str, database_url: str) -> None:
    ident = sql.Identifier(name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database_name(database_url),)).fetchone()
    if exists:
        # What the role owns or was granted in the database (nothing, when its sessions ran as
        # the group role) goes back to the superuser; memberships go with the role itself.
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(ident))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident))


@pytest.fixture
def login_roles(pg_server_url: str) -> Iterator[Callable[..., Login]]:
    """Creates LOGIN roles, members of a group role, with unique names; drops them at teardown.

    `run_as_group` makes the role's sessions run as the group (ALTER ROLE ... SET role), the
    setup roles.sql recommends for loader logins, so what they create is owned by the group.
    """
    created: list[tuple[str, str]] = []

    def make(database_url: str, group: str, *, password: str | None = None, run_as_group: bool = False) -> Login:
        name = f"wh_test_{uuid.uuid4().hex[:12]}"
        ident = sql.Identifier(name)
        with psycopg.connect(database_url, autocommit=True) as conn:
            create = sql.SQL("CREATE ROLE {} LOGIN").format(ident)
            if password is not None:
                create += sql.SQL(" PASSWORD {}").format(sql.Literal(password))
            conn.execute(create)
            created.append((name, database_url))
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), ident))
            if run_as_group:
                conn.execute(sql.SQL("ALTER ROLE {} SET role = {}").format(ident, sql.Literal(group)))
        return Login(name, url_as(database_url, name, password))

    yield make
    for name, database_url in reversed(created):
        _drop_login(pg_server_url, name, database_url)


# --- Catalog snapshots --------------------------------------------------------------------------

_PRIVILEGES_SNAPSHOT = """
SELECT 'relation', n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner), c.relacl::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN ('warehouse', 'analytics', 'public')
UNION ALL
SELECT 'function', n.nspname || '.' || p.proname, pg_get_userbyid(p.proowner), p.proacl::text
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname IN ('warehouse', 'analytics', 'public')
UNION ALL
SELECT 'schema', nspname, pg_get_userbyid(nspowner), nspacl::text
FROM pg_namespace WHERE nspname IN ('warehouse', 'analytics', 'public')
UNION ALL
SELECT 'default',
       pg_get_userbyid(defaclrole) || ' ' || coalesce(defaclnamespace::regnamespace::text, '*')
       || ' ' || defaclobjtype::text, NULL, defaclacl::text
FROM pg_default_acl
UNION ALL
SELECT 'database', datname, pg_get_userbyid(datdba), datacl::text
FROM pg_database WHERE datname = current_database()
UNION ALL
SELECT 'role', rolname, NULL,
       concat_ws(' ', rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
                 rolreplication, rolbypassrls)
FROM pg_roles WHERE rolname IN ('warehouse_reader', 'warehouse_loader')
UNION ALL
SELECT 'member', r.rolname, m.rolname, NULL
FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
WHERE r.rolname IN ('warehouse_reader', 'warehouse_loader') AND m.rolname NOT LIKE 'wh_test_%%'
ORDER BY 1, 2
"""


def privileges_snapshot(url: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(_PRIVILEGES_SNAPSHOT).fetchall()


def relations(conn: psycopg.Connection, schema: str) -> list[str]:
    """Tables and views of a schema, as information_schema shows them to the connected role."""
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1",
        (schema,),
    ).fetchall()
    return [r[0] for r in rows]


def counts(conn: psycopg.Connection, schema: str, names: list[str]) -> dict[str, int]:
    return {
        n: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, n))).fetchone()[0]
        for n in names
    }


def denied(conn: psycopg.Connection, statement: str | sql.Composable) -> str:
    """Run a statement that must be refused for lack of privilege; returns PostgreSQL's message."""
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
        conn.execute(statement)
    return str(caught.value)


# --- The loaded warehouse -----------------------------------------------------------------------


@pytest.fixture
def loaded(products_snapshot, landing, warehouse_url: str, db, instance, defs) -> str:
    """The test's warehouse with products and one sales file (bad rows included) loaded through
    the real jobs by the superuser, then roles.sql applied twice; its (superuser) URL."""
    key = small_file(landing, "sales_a.csv", seed=3, prefix="A")
    refresh_products(defs, instance, raise_on_error=True)
    load_sales_file(defs, instance, key, raise_on_error=True)
    assert db.execute("SELECT count(*) FROM warehouse.rejected_sales").fetchone()[0] > 0
    assert db.execute("SELECT count(*) FROM warehouse.fact_sales").fetchone()[0] > 0

    apply_roles(warehouse_url)
    first = privileges_snapshot(warehouse_url)
    apply_roles(warehouse_url)
    assert privileges_snapshot(warehouse_url) == first, "a second run of roles.sql changed privileges"
    return warehouse_url


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
            denied(conn, sql.SQL("INSERT INTO {} (customer_id) VALUES ('intruder')").format(view))
            denied(conn, sql.SQL("UPDATE {} SET customer_name = 'intruder'").format(view))
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
        denied(conn, "TRUNCATE warehouse.raw_sales")
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


def test_loader_loads_a_sales_file_into_a_warehouse_another_role_owns(loaded, db, login_roles, instance, landing):
    loader = login_roles(loaded, LOADER_ROLE, run_as_group=True)
    with psycopg.connect(loader.url, autocommit=True) as conn:
        assert conn.execute("SELECT session_user, current_user").fetchone() == (
            loader.name,
            LOADER_ROLE,
        )
    owners = {
        r[0]
        for r in db.execute(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace IN "
            "('warehouse'::regnamespace, 'analytics'::regnamespace)"
        )
    }
    assert LOADER_ROLE not in owners, "here the superuser owns every table and view"
    defs = build_definitions(loader.url)
    key = small_file(landing, "sales_b.csv", seed=4, prefix="B")

    result = load_sales_file(defs, instance, key)
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert LOAD_ASSETS <= materialized, step_failures(result)
    failures = step_failures(result)
    assert failures and set(failures) <= ANALYTICS_OBJECTS, failures
    for step, error in failures.items():
        assert "must be owner of view" in error, (step, error)
    products = refresh_products(defs, instance)
    materialized = {e.asset_key.path[-1] for e in products.get_asset_materialization_events()}
    assert {"raw_products", "dim_product"} <= materialized, step_failures(products)
    assert all("must be owner of view" in error for error in step_failures(products).values())
    facts, rejected, loaded_at = db.execute(
        "SELECT (SELECT count(*) FROM warehouse.fact_sales WHERE source_file = %(f)s),"
        "       (SELECT count(*) FROM warehouse.rejected_sales WHERE source_file = %(f)s),"
        "       (SELECT loaded_at FROM warehouse.sales_files WHERE source_file = %(f)s)",
        {"f": key},
    ).fetchone()
    assert facts > 0 and rejected > 0 and loaded_at is not None
    assert db.execute("SELECT count(*) FROM warehouse.refresh_queue").fetchone()[0] == 0, (
        "dim_customer and the aggregates took their queued keys as the loader"
    )

    # The hand-over roles.sql describes: once the loader owns the views, the whole job succeeds,
    # and the reader keeps its SELECT on them (an owner change keeps the grants).
    for name in relations(db, "analytics"):
        db.execute(
            sql.SQL("ALTER VIEW {} OWNER TO {}").format(sql.Identifier("analytics", name), sql.Identifier(LOADER_ROLE))
        )
    result = load_sales_file(defs, instance, key)
    assert result.success, step_failures(result)
    reader = login_roles(loaded, READER_ROLE)
    with psycopg.connect(reader.url, autocommit=True) as conn:
        assert set(counts(conn, "analytics", sorted(ANALYTICS_OBJECTS))) == ANALYTICS_OBJECTS


def test_loader_owned_warehouse_from_an_empty_database(
    empty_database_url, db_admin_of, login_roles, instance, landing, products_snapshot
):
    """The intended setup: roles.sql first, then the loader applies the schema and runs the jobs."""
    apply_roles(empty_database_url)
    loader = login_roles(empty_database_url, LOADER_ROLE, run_as_group=True)
    reader = login_roles(empty_database_url, READER_ROLE)
    assert apply_schema(loader.url)[0] == "000_schemas.sql"
    defs = build_definitions(loader.url)
    refresh_products(defs, instance, raise_on_error=True)
    load_sales_file(defs, instance, small_file(landing, "sales_a.csv", seed=5, prefix="A"), raise_on_error=True)

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
    result = load_sales_file(defs, instance, small_file(landing, "sales_b.csv", seed=6, prefix="B"))
    assert result.success, step_failures(result)


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


# --- Secrets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template",
    [
        "postgresql://someone:{s}@db.example:5432/warehouse",
        "postgresql+psycopg2://someone:{s}@db.example/warehouse",
        "postgresql://someone:{s}@/warehouse?host=/run/postgresql&port=5433",
        "postgresql://someone@db.example/warehouse?password={s}&sslmode=require",
        "postgresql://someone@db.example/warehouse?sslmode=require&sslpassword={s}",
        "postgresql://someone:{s}@h1:5432,h2:5432/warehouse",
        "host=db.example user=someone password={s} dbname=warehouse",
        "host=db.example password = '{s}' sslpassword={s}",
    ],
)
def test_mask_url_masks_every_password_form(template):
    secret = "pw" + secrets.token_hex(12)
    url = template.format(s=secret)
    masked = mask_url(url)
    assert secret not in masked and "***" in masked.replace("%2A", "*")
    if url.startswith("postgresql"):
        assert masked.split("://", 1)[0] == url.split("://", 1)[0]
        assert urlsplit(masked).hostname == urlsplit(url).hostname


def test_a_url_that_is_not_one_is_refused_without_its_password():
    secret = "pw" + secrets.token_hex(12)
    with pytest.raises(ValueError) as caught:
        with_driver(f"host=db.example user=someone password={secret}", "psycopg2")
    assert secret not in str(caught.value) and "password=***" in str(caught.value)


@pytest.fixture
def definitions_module():
    """warehouse_assets.definitions, for a test that reloads it under another environment.

    Requested first, so that it is torn down last: after every environment change of the test
    (monkeypatch) is undone, the module is reloaded again and `defs` is what it was on import.
    """
    import warehouse_assets.definitions as module

    yield module
    importlib.reload(module)


def _secret_free(secret: str, what: str, value) -> None:
    text = value if isinstance(value, str) else serialize_value(value)
    assert secret not in text, f"the password appears in {what}"


def test_no_password_in_runs_events_metadata_storage_or_cli_output(
    definitions_module,
    empty_database_url,
    pg_server_url,
    login_roles,
    landing,
    products_snapshot,
    tmp_path,
    monkeypatch,
    capfd,
    caplog,
):
    secret = "Sekr1t-" + secrets.token_hex(16)
    apply_roles(empty_database_url)
    loader = login_roles(empty_database_url, LOADER_ROLE, password=secret, run_as_group=True)
    assert f":{secret}@" in loader.url
    assert mask_url(loader.url).startswith(f"{urlsplit(loader.url).scheme}://{loader.name}:***@")
    assert secret not in mask_url(loader.url)
    apply_schema(loader.url)

    # Dagster's storage: the repository's dagster.yaml, in a database of its own, reached with a
    # URL carrying the same password (the superuser's; trust authentication ignores it).
    storage_db = create_database(pg_server_url)
    admin_user = urlsplit(pg_server_url).username or "postgres"
    storage_url = with_driver(url_as(replace_database(pg_server_url, storage_db), admin_user, secret), "psycopg2")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(settings.PROJECT_DIR / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("WAREHOUSE_DATABASE_URL", loader.url)
    monkeypatch.setenv("DAGSTER_PG_URL", storage_url)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = None
    try:
        defs = importlib.reload(definitions_module).defs  # as the code location builds it
        assert isinstance(defs.resources["warehouse"].database_url, dg.EnvVar)
        instance = dg.DagsterInstance.from_config(str(home))
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"

        refresh_products(defs, instance, raise_on_error=True)
        load_sales_file(
            defs,
            instance,
            small_file(landing, "sales_a.csv", seed=7, prefix="A"),
            raise_on_error=True,
        )
        assert run_checks(defs, instance)

        runs = instance.get_runs()
        assert len(runs) == 3
        materializations = 0
        for run in runs:
            _secret_free(secret, f"run {run.job_name}", run)
            _secret_free(secret, f"run config of {run.job_name}", run.run_config)
            _secret_free(secret, f"tags of {run.job_name}", run.tags)
            _secret_free(
                secret,
                f"job snapshot of {run.job_name}",
                instance.get_job_snapshot(run.job_snapshot_id),
            )
            _secret_free(
                secret,
                f"execution plan of {run.job_name}",
                instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id),
            )
            records = instance.get_records_for_run(run.run_id, limit=100_000).records
            entries = instance.all_logs(run.run_id)
            assert len(records) == len(entries) > 10
            for entry in entries:
                _secret_free(secret, f"an event of {run.job_name}", entry)
                _secret_free(secret, f"a message of {run.job_name}", entry.user_message)
                event = entry.dagster_event
                if event is not None and event.is_step_materialization:
                    materializations += 1
                    metadata = event.step_materialization_data.materialization.metadata
                    _secret_free(secret, f"metadata of {event.asset_key}", metadata)
                    _secret_free(
                        secret,
                        f"metadata of {event.asset_key}",
                        str({k: v.value for k, v in metadata.items()}),
                    )
        assert materializations >= len(ANALYTICS_OBJECTS) + len(LOAD_ASSETS)

        # Everything Dagster stored, read back raw from its tables.
        with psycopg.connect(replace_database(pg_server_url, storage_db), autocommit=True) as conn:
            tables = [
                r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            ]
            assert {"runs", "event_logs", "snapshots"} <= set(tables)
            stored_rows = 0
            for table in tables:
                rows = conn.execute(sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(table))).fetchall()
                stored_rows += len(rows)
                for (row,) in rows:
                    assert secret not in row, f"the password is stored in Dagster's table {table}"
            assert stored_rows > 100

        out, err = capfd.readouterr()
        _secret_free(secret, "the output of the runs", out + err)
        _secret_free(secret, "the log records of the runs", caplog.text)

        # The CLI: masked unless asked.
        from warehouse_assets.cli import main

        assert main(["db-url"]) == 0
        out = capfd.readouterr().out
        assert secret not in out and f"{loader.name}:***@" in out
        assert main(["db-url", "--dagster"]) == 0
        out = capfd.readouterr().out
        assert secret not in out and f"{admin_user}:***@" in out
        assert main(["config"]) == 0
        out = capfd.readouterr().out
        assert secret not in out
        lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
        assert "***" in lines["WAREHOUSE_DATABASE_URL"] and "***" in lines["DAGSTER_PG_URL"]
        assert main(["db-url", "--show-password"]) == 0
        assert secret in capfd.readouterr().out, "the test sees the password when it is asked for"
    finally:
        if instance is not None:
            instance.dispose()
        drop_database(pg_server_url, storage_db)
