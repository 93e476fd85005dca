"""Product assets: the FakeStore payload validated into raw_products, then dim_product (SCD1).

Products that break the contract do not stop the refresh: each goes to `rejected_products` with
every rule it broke, in the same transaction that replaces raw_products. A response that is not
a JSON array fails raw_products, so dim_product is not touched.
"""

import datetime as dt
import decimal
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import pandas as pd
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from warehouse_assets import sqlfiles
from warehouse_assets.assets.common import markdown_table
from warehouse_assets.contract import ProductModel
from warehouse_assets.resources.fakestore import FakeStoreClient
from warehouse_assets.resources.io_manager import DataFrameChunks
from warehouse_assets.resources.warehouse import WarehouseResource

PRODUCT_COLUMNS = (
    "product_id",
    "product_name",
    "category",
    "unit_price",
    "description",
    "image_url",
    "rating_rate",
    "rating_count",
    "loaded_at",
)


@dataclass
class ValidatedProducts:
    frame: pd.DataFrame
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {product_id, errors, raw}


def validate_products(payload: Iterable[Any], loaded_at: dt.datetime) -> ValidatedProducts:
    """Split a FakeStore payload into clean dim_product rows and rejects with every broken rule."""
    rows, rejected, seen = [], [], set()
    for item in payload:
        try:
            product = ProductModel.model_validate(item)
        except ValidationError as exc:
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]) or "(record)", "message": e["msg"]}
                for e in exc.errors(include_url=False)
            ]
            product_id = item.get("id") if isinstance(item, dict) else None
            rejected.append({"product_id": product_id, "errors": errors, "raw": item})
            continue
        if product.id in seen:
            rejected.append(
                {
                    "product_id": product.id,
                    "errors": [{"field": "id", "message": "duplicate id in the response"}],
                    "raw": item,
                }
            )
            continue
        seen.add(product.id)
        rating = product.rating
        rows.append(
            {
                "product_id": product.id,
                "product_name": product.title,
                "category": product.category,
                "unit_price": product.price,
                "description": product.description,
                "image_url": str(product.image),
                "rating_rate": None if rating is None or rating.rate is None else decimal.Decimal(str(rating.rate)),
                "rating_count": None if rating is None else rating.count,
                "loaded_at": loaded_at,
            }
        )
    frame = pd.DataFrame(rows, columns=list(PRODUCT_COLUMNS))
    frame["product_id"] = frame["product_id"].astype("int64")
    frame["rating_count"] = frame["rating_count"].astype("Int64")
    frame["loaded_at"] = pd.to_datetime(frame["loaded_at"], utc=True)
    return ValidatedProducts(frame=frame, rejected=rejected)


@dg.asset(
    group_name="products",
    kinds={"api", "postgres"},
    metadata={"schema": "warehouse"},
    description="The FakeStore /products payload, validated: one row per valid product. Invalid "
    "products go to rejected_products with every rule they broke.",
)
def raw_products(context: dg.AssetExecutionContext, fakestore: FakeStoreClient) -> DataFrameChunks:
    fetched = fakestore.fetch_products()
    loaded_at = dt.datetime.now(dt.timezone.utc)
    result = validate_products(fetched.payload, loaded_at)
    if result.rejected:
        context.log.warning(f"{len(result.rejected)} of {len(fetched.payload)} products rejected")

    def quarantine(conn) -> dict:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO warehouse.rejected_products (product_id, errors, raw_record, source, rejected_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                [
                    (
                        None if r["product_id"] is None else str(r["product_id"]),
                        Jsonb(r["errors"]),
                        Jsonb(r["raw"]),
                        fetched.source,
                        loaded_at,
                    )
                    for r in result.rejected
                ],
            )
        return {
            "source": dg.MetadataValue.text(fetched.source),
            "products_received": dg.MetadataValue.int(len(fetched.payload)),
            "products_valid": dg.MetadataValue.int(len(result.frame)),
            "products_rejected": dg.MetadataValue.int(len(result.rejected)),
            "rejections": dg.MetadataValue.json(
                [{"product_id": r["product_id"], "errors": r["errors"]} for r in result.rejected][:50]
            ),
            "fetch_attempts": dg.MetadataValue.int(fetched.attempts),
            "fetch_seconds": dg.MetadataValue.float(round(fetched.elapsed_seconds, 3)),
        }

    return DataFrameChunks([result.frame], finalize=quarantine)


@dg.asset(
    deps=[raw_products],
    group_name="products",
    kinds={"postgres"},
    description=sqlfiles.header("schema/010_dim_product.sql"),
)
def dim_product(warehouse: WarehouseResource) -> dg.MaterializeResult:
    with warehouse.connection() as conn:
        loaded_at = conn.execute("SELECT max(loaded_at) FROM warehouse.raw_products").fetchone()[0]
        if loaded_at is None:
            raise dg.Failure("raw_products is empty: the last refresh had no valid product")
        counts = sqlfiles.run_steps(conn, "load/dim_product_upsert.sql", {"loaded_at": loaded_at})
        inserted, updated = counts["upsert"]
        received = conn.execute("SELECT count(*) FROM warehouse.raw_products").fetchone()[0]
        rejected = conn.execute(
            "SELECT count(*) FROM warehouse.rejected_products WHERE rejected_at = %s", (loaded_at,)
        ).fetchone()[0]
        total, inferred = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_inferred) FROM warehouse.dim_product"
        ).fetchone()
        preview = conn.execute(
            "SELECT product_id, product_name, category, unit_price, is_inferred FROM warehouse.dim_product "
            "ORDER BY product_id LIMIT 10"
        ).fetchall()
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": dg.MetadataValue.int(total),
            "inserted": dg.MetadataValue.int(inserted),
            "updated": dg.MetadataValue.int(updated),
            "unchanged": dg.MetadataValue.int(received - inserted - updated),
            "rejected": dg.MetadataValue.int(rejected),
            "inferred_members": dg.MetadataValue.int(inferred),
            "preview": dg.MetadataValue.md(
                markdown_table(["product_id", "product_name", "category", "unit_price", "is_inferred"], preview)
            ),
        }
    )
