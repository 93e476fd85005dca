"""Login roles for the security tests: unique LOGIN roles that are members of a group role of
sql/roles.sql, created for one test and dropped at its end (roles are cluster-wide), and the
catalog queries the tests compare."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from warehouse_assets.core.urls import database_name


@dataclass(frozen=True)
class Login:
    name: str
    url: str  # the database's URL with this role as the user (and its password, if it has one)


def url_as(url: str, user: str, password: str | None = None) -> str:
    """`url` with another user (and password) in it; host, database and query unchanged."""
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
        # What the role owns or was granted (nothing, when its sessions ran as the group role)
        # goes back to the superuser; memberships go with the role itself.
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("REASSIGN OWNED BY {} TO CURRENT_USER").format(ident))
            conn.execute(sql.SQL("DROP OWNED BY {}").format(ident))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident))


@pytest.fixture
def login_roles(pg_server_url: str) -> Iterator[Callable[..., Login]]:
    """Makes LOGIN roles, members of a group role; `run_as_group` makes their sessions run as the
    group (ALTER ROLE ... SET role), the setup roles.sql recommends for loader logins."""
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


PRIVILEGES_SNAPSHOT = """
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
       concat_ws(' ', rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls)
FROM pg_roles WHERE rolname IN ('warehouse_reader', 'warehouse_loader')
UNION ALL
SELECT 'member', r.rolname, m.rolname, NULL
FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member
WHERE r.rolname IN ('warehouse_reader', 'warehouse_loader') AND m.rolname NOT LIKE 'wh_test_%%'
ORDER BY 1, 2
"""


def privileges_snapshot(url: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(PRIVILEGES_SNAPSHOT).fetchall()


def relations(conn: psycopg.Connection, schema: str) -> list[str]:
    """Tables and views of a schema, as information_schema shows them to the connected role."""
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", (schema,)
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
