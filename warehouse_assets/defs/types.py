"""Dagster types of the DataFrames that pass between assets, with their column constraints.

A frame that breaks them fails its type check, naming the column, and the UI shows the schema.
"""

from __future__ import annotations

import warnings

import dagster as dg
from dagster_pandas import PandasColumn, create_dagster_pandas_dataframe_type

with warnings.catch_warnings():
    # PandasColumn is marked beta; its constraints are what this type is for.
    warnings.simplefilter("ignore", dg.BetaWarning)
    ProductsFrame = create_dagster_pandas_dataframe_type(
        name="ProductsFrame",
        description="Validated FakeStore products, one row per product (the rows of warehouse.raw_products).",
        columns=[
            PandasColumn.integer_column("product_id", min_value=1, non_nullable=True, unique=True),
            PandasColumn.string_column("product_name", non_nullable=True),
            PandasColumn.string_column("category", non_nullable=True),
            PandasColumn.exists("unit_price", non_nullable=True),
            PandasColumn.exists("description"),
            PandasColumn.string_column("image_url", non_nullable=True),
            PandasColumn.exists("rating_rate"),
            PandasColumn.exists("rating_count"),
            PandasColumn.exists("loaded_at", non_nullable=True),
        ],
    )
