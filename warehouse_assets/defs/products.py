"""Product assets: the FakeStore payload validated into raw_products, then dim_product (SCD1).

raw_products returns the products frame, which the Postgres IO manager stores in
`warehouse.raw_products` and loads again as dim_product's input; products that break the
contract go to `rejected_products` with every rule they broke, and never stop the refresh. A
response that is not a JSON array fails raw_products, so dim_product is not touched.
"""

import datetime as dt

import dagster as dg
import pandas as pd

from warehouse_assets.core.contract.products import validate_products
from warehouse_assets.core.fakestore import FakeStoreError
from warehouse_assets.core.settings import Settings
from warehouse_assets.db import sqlfiles
from warehouse_assets.db.products import store_rejects, upsert_dim_product
from warehouse_assets.defs import groups
from warehouse_assets.defs.metadata import table
from warehouse_assets.defs.resources import FakeStoreResource, WarehouseResource
from warehouse_assets.defs.types import ProductsFrame


def freshness(max_age_hours: float) -> dg.FreshnessPolicy | None:
    """Fail after `max_age_hours` without a refresh, warn after half of it (none below two minutes)."""
    if max_age_hours * 3600 < 120:
        return None
    return dg.FreshnessPolicy.time_window(
        fail_window=dt.timedelta(hours=max_age_hours), warn_window=dt.timedelta(hours=max_age_hours / 2)
    )


def build_product_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    @dg.asset(
        group_name=groups.WAREHOUSE,
        kinds={"api", "postgres"},
        dagster_type=ProductsFrame,
        metadata={"dagster/table_name": "warehouse.raw_products"},
        description="The FakeStore /products payload, validated: one row per valid product, stored by the "
        "Postgres IO manager. Invalid products go to warehouse.rejected_products with every rule they broke.",
    )
    def raw_products(
        context: dg.AssetExecutionContext, fakestore: FakeStoreResource, warehouse: WarehouseResource
    ) -> pd.DataFrame:
        try:
            fetched = fakestore.client().fetch_products()
        except FakeStoreError as exc:
            raise dg.Failure(str(exc)) from None
        loaded_at = dt.datetime.now(dt.timezone.utc)
        result = validate_products(fetched.payload, loaded_at)
        with warehouse.database().connection() as conn:
            store_rejects(conn, result.rejected, fetched.source, loaded_at)
        if result.rejected:
            context.log.warning(f"{len(result.rejected)} of {result.received} products rejected")
        context.add_output_metadata(
            {
                "source": dg.MetadataValue.text(fetched.source),
                "products_received": dg.MetadataValue.int(result.received),
                "products_valid": dg.MetadataValue.int(len(result.frame)),
                "products_rejected": dg.MetadataValue.int(len(result.rejected)),
                "rejections": dg.MetadataValue.json(
                    [{"product_id": r.product_id, "errors": r.errors} for r in result.rejected][:50]
                ),
                "fetch_attempts": dg.MetadataValue.int(fetched.attempts),
                "fetch_seconds": dg.MetadataValue.float(round(fetched.elapsed_seconds, 3)),
            }
        )
        return result.frame

    @dg.asset(
        group_name=groups.WAREHOUSE,
        kinds={"postgres"},
        ins={"raw_products": dg.AssetIn(dagster_type=ProductsFrame)},
        metadata={"dagster/table_name": "warehouse.dim_product"},
        freshness_policy=freshness(settings.products_max_age_hours),
        description=sqlfiles.header("schema/010_dim_product.sql"),
    )
    def dim_product(warehouse: WarehouseResource, raw_products: pd.DataFrame) -> dg.MaterializeResult:
        if raw_products.empty:
            raise dg.Failure("raw_products is empty: the last refresh had no valid product")
        loaded_at = raw_products["loaded_at"].max().to_pydatetime()
        counts = upsert_dim_product(warehouse.database(), raw_products, loaded_at)
        preview = counts["preview"]
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": dg.MetadataValue.int(counts["total"]),
                "inserted": dg.MetadataValue.int(counts["inserted"]),
                "updated": dg.MetadataValue.int(counts["updated"]),
                "unchanged": dg.MetadataValue.int(counts["unchanged"]),
                "inferred_members": dg.MetadataValue.int(counts["inferred"]),
                "preview": table(list(preview[0]) if preview else [], [tuple(r.values()) for r in preview]),
            }
        )

    return [raw_products, dim_product]
