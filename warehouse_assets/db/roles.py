"""Database roles of the warehouse: `apply_roles(url)` runs `sql/roles.sql` against a database.

The file creates two group roles if they are missing and (re)grants their privileges:
`warehouse_reader` (SELECT on the views and analytics objects of schema `analytics`, nothing in
schema `warehouse`, no writes, no CREATE) and `warehouse_loader` (what the pipeline needs to load
and to build the analytics layer). Its header comment explains the model, the ownership the
pipeline needs, and how an admin gives the roles to login users.

Run it as a superuser, connected to the warehouse database (roles are cluster-wide, grants are
per database). It is idempotent, so running it again changes nothing, or repairs what drifted.
"""

from __future__ import annotations

from warehouse_assets.db import sqlfiles
from warehouse_assets.db.connection import connect

ROLES_FILE = "roles.sql"
READER_ROLE = "warehouse_reader"
LOADER_ROLE = "warehouse_loader"
ROLES_LOCK = "warehouse.roles"


def apply_roles(url: str) -> None:
    """Run sql/roles.sql on the database at `url`, in one transaction (all of it or nothing)."""
    with connect(url) as conn:
        conn.execute(sqlfiles.statement("queries/advisory_lock.sql"), {"name": ROLES_LOCK})
        conn.execute(sqlfiles.read(ROLES_FILE))
