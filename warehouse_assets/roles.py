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

from warehouse_assets import sqlfiles
from warehouse_assets.resources.warehouse import connect

ROLES_FILE = "roles.sql"
READER_ROLE = "warehouse_reader"
LOADER_ROLE = "warehouse_loader"

# Any constant works; it only has to be the same in every process applying the roles, so that two
# runs against the same database grant one after the other instead of racing on the catalogs.
_ROLES_LOCK_KEY = 727_274_002


def apply_roles(url: str) -> None:
    """Run sql/roles.sql on the database at `url`, in one transaction (all of it or nothing)."""
    with connect(url) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ROLES_LOCK_KEY,))
        conn.execute(sqlfiles.read(ROLES_FILE))
