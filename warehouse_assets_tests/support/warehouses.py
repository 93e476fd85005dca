"""A loaded warehouse, arranged once through the real jobs and copied per test.

A products snapshot (products_job) and two generated sales files with bad rows (quarantined) and
a few unknown products (inferred members) loaded by one run of sales_files_job. Tests that break
data on purpose get their own database as a copy of it (CREATE DATABASE ... TEMPLATE).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg

from warehouse_assets.cli.sample_data import GeneratedSales, SalesSpec, generate_sales, write_products
from warehouse_assets.core.settings import Settings
from warehouse_assets.core.urls import replace_database
from warehouse_assets.defs.build import build_definitions
from warehouse_assets_tests.support import databases
from warehouse_assets_tests.support.jobs import load_files, refresh_products, step_failures

FILE_A, FILE_B = "a.csv", "b.csv"
SPEC_A = SalesSpec(rows=3000, customers=300, bad_share=0.03, unknown_product_share=0.01, seed=11, id_prefix="A")
SPEC_B = SalesSpec(
    rows=2000,
    customers=300,
    bad_share=0.03,
    unknown_product_share=0.01,
    seed=12,
    id_prefix="B",
    start=dt.date(2024, 6, 1),
    end=dt.date(2025, 3, 31),
)


@dataclass
class LoadedTemplate:
    database: str
    folder: Path
    files: dict[str, GeneratedSales]
    runs: dict[str, dg.ExecuteInProcessResult]  # "products" and "sales" (both files in one run)


def settings_for(url: str, folder: Path) -> Settings:
    return Settings.from_environment(
        {
            "WAREHOUSE_DATABASE_URL": url,
            "WAREHOUSE_LANDING_DIR": str(folder / "landing"),
            "WAREHOUSE_LAYOUTS_DIR": str(folder / "layouts"),
            "WAREHOUSE_STATE_DIR": str(folder / "state"),
            "FAKESTORE_BASE_URL": str(folder / "products.json"),
            "WAREHOUSE_SENSOR_SETTLE_SECONDS": "0",
        }
    )


def build_loaded_template(admin_url: str, template: str, folder: Path) -> Iterator[LoadedTemplate]:
    (folder / "landing").mkdir(parents=True)
    write_products(folder / "products.json")
    name = databases.create_database(admin_url, template)
    url = replace_database(admin_url, name)
    defs = build_definitions(settings_for(url, folder))
    with dg.instance_for_test() as instance:
        runs = {"products": refresh_products(defs, instance, raise_on_error=True)}
        files = {
            FILE_A: generate_sales(folder / "landing" / FILE_A, SPEC_A),
            FILE_B: generate_sales(folder / "landing" / FILE_B, SPEC_B),
        }
        (runs["sales"],) = load_files(defs, instance, list(files))
        assert runs["sales"].success, step_failures(runs["sales"])
    yield LoadedTemplate(name, folder, files, runs)
    databases.drop_database(admin_url, name)


@dataclass
class Loaded:
    """A test's own copy of the loaded warehouse."""

    url: str
    settings: Settings
    defs: dg.Definitions
    instance: dg.DagsterInstance
    db: psycopg.Connection
    files: dict[str, GeneratedSales]
    runs: dict[str, dg.ExecuteInProcessResult]  # the arrangement's runs (another instance)


def copy_loaded(
    admin_url: str, template: LoadedTemplate, folder: Path, instance: dg.DagsterInstance
) -> Iterator[Loaded]:
    name = databases.create_database(admin_url, template.database)
    url = replace_database(admin_url, name)
    shutil.copytree(template.folder / "landing", folder / "landing")
    shutil.copy(template.folder / "products.json", folder / "products.json")
    settings = settings_for(url, folder)
    with databases.connect(url) as db:
        yield Loaded(url, settings, build_definitions(settings), instance, db, template.files, template.runs)
    databases.drop_database(admin_url, name)
