"""Products in the database: the quarantine of rejected products, and the dim_product upsert."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from warehouse_assets.core.contract.products import PRODUCT_COLUMNS, RejectedProduct
from warehouse_assets.db import sqlfiles
from warehouse_assets.db.connection import Database, fetch_dicts
from warehouse_assets.db.copy import copy_tables, frame_to_arrow


def store_rejects(conn: psycopg.Connection, rejected: Sequence[RejectedProduct], source: str, at: dt.datetime) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            sqlfiles.statement("queries/rejected_products_insert.sql"),
            [
                {
                    "product_id": r.product_id,
                    "errors": Jsonb(r.errors),
                    "raw_record": Jsonb(r.raw),
                    "source": source,
                    "rejected_at": at,
                }
                for r in rejected
            ],
        )


def upsert_dim_product(db: Database, frame: pd.DataFrame, loaded_at: dt.datetime) -> dict[str, int]:
    """SCD1 upsert of the products frame into dim_product; counts of what changed."""
    with db.connection() as conn:
        conn.execute(sqlfiles.statement("load/incoming_products.sql"))
        copy_tables(
            conn, sql.Identifier("incoming_products"), PRODUCT_COLUMNS, [frame_to_arrow(frame[list(PRODUCT_COLUMNS)])]
        )
        inserted, updated = sqlfiles.run_steps(conn, "load/dim_product_upsert.sql", {"loaded_at": loaded_at})["upsert"]
        state = fetch_dicts(conn, "queries/dim_product_state.sql")[0]
        preview = fetch_dicts(conn, "queries/dim_product_preview.sql")
    return {
        "received": len(frame),
        "inserted": inserted,
        "updated": updated,
        "unchanged": len(frame) - inserted - updated,
        "total": state["total"],
        "inferred": state["inferred"],
        "preview": preview,
    }
