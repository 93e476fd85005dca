"""End-to-end tests of dim_product: the real products_job, a real HTTP server, a real PostgreSQL.

Each test starts a scripted HTTP server on 127.0.0.1 (the one the FakeStore client tests use),
points `FakeStoreClient` at it through `build_definitions`, runs `products_job` in process and
then reads `warehouse.raw_products`, `warehouse.rejected_products` and `warehouse.dim_product`
back. Nothing is mocked. Expected values are computed here from the JSON the server sends, above
all from the real FakeStore capture in ../shared/realdata/fakestore_products.json.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from psycopg.rows import dict_row

import warehouse_assets.definitions
import warehouse_assets.schedules
from warehouse_assets.definitions import build_definitions
from warehouse_assets.resources.fakestore import FakeStoreClient
from warehouse_assets_tests.helpers import refresh_products, step_failures
from warehouse_assets_tests.http_server import Reply, ScriptedServer

pytestmark = pytest.mark.usefixtures("no_proxies")

CENT = Decimal("0.01")

# --------------------------------------------------------------------------------- helpers


@pytest.fixture
def real_body(realdata: Path) -> bytes:
    """The FakeStore `GET /products` response as captured, byte for byte."""
    path = realdata / "fakestore_products.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path.read_bytes()


@pytest.fixture
def real_products(real_body: bytes) -> list[dict[str, Any]]:
    return json.loads(real_body)


def json_reply(products: Any) -> Reply:
    return Reply(body=json.dumps(products).encode())


def run_products_job(
    warehouse_url: str, instance: dg.DagsterInstance, server: ScriptedServer
) -> dg.ExecuteInProcessResult:
    """products_job as deployed, with the FakeStore client pointed at the test's server."""
    fakestore = FakeStoreClient(
        base_url=server.base_url,
        connect_timeout=1.0,
        read_timeout=5.0,
        max_attempts=5,
        backoff_seconds=0.01,
    )
    return refresh_products(build_definitions(warehouse_url, fakestore=fakestore), instance)


def materialization_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    [event] = result.asset_materializations_for_node(asset)
    return {name: value.value for name, value in event.metadata.items()}


def dim_product_counts(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    meta = materialization_metadata(result, "dim_product")
    return {k: meta[k] for k in ("inserted", "updated", "unchanged", "rejected")}


def rows_by_id(db: psycopg.Connection, table: str) -> dict[int, dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"SELECT * FROM warehouse.{table} ORDER BY product_id").fetchall()
    return {row["product_id"]: row for row in rows}


def table_as_text(db: psycopg.Connection, table: str) -> list[str]:
    """Every row in PostgreSQL's own text form: equal lists mean byte-identical contents."""
    return [row[0] for row in db.execute(f"SELECT t::text FROM warehouse.{table} AS t ORDER BY t::text").fetchall()]


def price(value: Any) -> str:
    """A JSON price as numeric(12, 2) shows it: 695 -> '695.00', 22.3 -> '22.30'."""
    return str(Decimal(str(value)).quantize(CENT))


# --------------------------------------------------------------------------------- real response


def test_real_fakestore_response_loads_into_dim_product(
    serve, warehouse_url, db, instance, real_body, real_products
) -> None:
    assert len(real_products) == 20
    # The capture's own quirks, which make this test worth having.
    assert sum(p["title"] != p["title"].strip() for p in real_products) == 5
    assert any(isinstance(p["price"], int) for p in real_products)
    server = serve(Reply(body=real_body))

    result = run_products_job(warehouse_url, instance, server)

    assert result.success, step_failures(result)
    rows = rows_by_id(db, "dim_product")
    assert sorted(rows) == sorted(p["id"] for p in real_products)
    for product in real_products:
        row = rows[product["id"]]
        assert row["product_name"] == product["title"].strip()
        assert row["category"] == product["category"]
        assert str(row["unit_price"]) == price(product["price"]), product["id"]
        assert row["description"] == product["description"]
        assert row["image_url"] == product["image"]
        assert row["rating_rate"] == Decimal(str(product["rating"]["rate"]))
        assert row["rating_count"] == product["rating"]["count"]
        assert row["is_inferred"] is False

    # Text with curly quotes, dashes, & and apostrophes is stored as the same UTF-8 bytes.
    special = ("\u2019", "\u201d", "\u2013", "&", "'")
    stored = {
        pid: (bytes(name), bytes(description))
        for pid, name, description in db.execute(
            "SELECT product_id, convert_to(product_name, 'UTF8'), convert_to(description, 'UTF8')"
            " FROM warehouse.dim_product"
        ).fetchall()
    }
    tricky = [p for p in real_products if any(c in p["title"] + p["description"] for c in special)]
    assert len(tricky) >= 10
    for product in tricky:
        expected = (product["title"].strip().encode(), product["description"].encode())
        assert stored[product["id"]] == expected
    assert {"men's clothing", "jewelery"} <= {row["category"] for row in rows.values()}

    assert dim_product_counts(result) == {
        "inserted": 20,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
    }
    raw_meta = materialization_metadata(result, "raw_products")
    assert (raw_meta["products_received"], raw_meta["products_rejected"]) == (20, 0)
    assert raw_meta["source"] == server.products_url
    assert len(rows_by_id(db, "raw_products")) == 20
    assert db.execute("SELECT count(*) FROM warehouse.rejected_products").fetchone()[0] == 0


def test_500_502_503_then_200_is_retried_and_loads(
    serve, warehouse_url, db, instance, real_body, real_products
) -> None:
    server = serve(Reply(500), Reply(502), Reply(503), Reply(body=real_body))

    result = run_products_job(warehouse_url, instance, server)

    assert result.success, step_failures(result)
    assert len(server.seen) == 4
    assert materialization_metadata(result, "raw_products")["fetch_attempts"] == 4
    assert len(rows_by_id(db, "dim_product")) == len(real_products) == 20


# --------------------------------------------------------------------------------- bad responses

BAD_RESPONSES = {
    # id: (reply built from the real body, texts the failure message must contain)
    "html": (
        lambda real: Reply(
            body=b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
            content_type="text/html",
        ),
        ["not valid JSON", "text/html", "<!DOCTYPE html>"],
    ),
    "truncated": (lambda real: Reply(body=real[: len(real) // 2]), ["not valid JSON"]),
    "null": (lambda real: Reply(body=b"null"), ["JSON null"]),
    "object": (
        lambda real: Reply(body=b'{"products": ' + real + b"}"),
        ["a JSON object", '{"products"'],
    ),
}


@pytest.mark.parametrize("kind", list(BAD_RESPONSES))
def test_bad_response_fails_and_leaves_tables_unchanged(kind, serve, warehouse_url, db, instance, real_body) -> None:
    first = run_products_job(warehouse_url, instance, serve(Reply(body=real_body)))
    assert first.success, step_failures(first)
    before = {t: table_as_text(db, t) for t in ("dim_product", "raw_products", "rejected_products")}
    assert len(before["dim_product"]) == 20
    make_reply, mentions = BAD_RESPONSES[kind]
    server = serve(make_reply(real_body))

    result = run_products_job(warehouse_url, instance, server)

    assert not result.success
    failures = step_failures(result)
    assert set(failures) == {"raw_products"}
    message = failures["raw_products"]
    assert "FakeStoreError" in message
    assert server.products_url in message
    assert "expected a JSON array of products" in message
    for text in mentions:
        assert text in message
    assert result.asset_materializations_for_node("dim_product") == []
    after = {t: table_as_text(db, t) for t in before}
    assert after == before


# --------------------------------------------------------------------------------- invalid products


def test_invalid_products_are_rejected_with_reasons_and_the_rest_load(
    serve, warehouse_url, db, instance, real_products
) -> None:
    valid = real_products[:5]
    template = real_products[5]

    def broken(product_id: int, **changes: Any) -> dict[str, Any]:
        item = copy.deepcopy(template)
        item.update(id=product_id, **changes)
        return item

    invalid = {
        # product -> fields the rejection must name
        101: (broken(101, price=0), {"price"}),
        102: (broken(102, title=""), {"title"}),
        103: (broken(103, title="   "), {"title"}),
        104: (broken(104, image="not a url"), {"image"}),
        105: (broken(105, image="ftp://x"), {"image"}),
        106: (broken(106, rating={"rate": 7, "count": 3}), {"rating.rate"}),
        107: (broken(107, price=0, title=" "), {"price", "title"}),  # every rule broken is kept
        # Beyond the integer columns: rejected, not a failed COPY that would stop the refresh.
        2**31: (broken(2**31), {"id"}),
        109: (broken(109, rating={"rate": 4.2, "count": 2**31}), {"rating.count"}),
    }
    payload = valid[:2] + [item for item, _ in invalid.values()] + valid[2:]
    server = serve(json_reply(payload))

    result = run_products_job(warehouse_url, instance, server)

    assert result.success, step_failures(result)
    rejected = {
        row["product_id"]: row
        for row in db.cursor(row_factory=dict_row).execute("SELECT * FROM warehouse.rejected_products").fetchall()
    }
    assert set(rejected) == {str(pid) for pid in invalid}
    for pid, (item, fields) in invalid.items():
        row = rejected[str(pid)]
        assert {e["field"] for e in row["errors"]} == fields, pid
        assert all(e["message"] for e in row["errors"])
        assert row["raw_record"] == item
        assert row["source"] == server.products_url

    assert sorted(rows_by_id(db, "dim_product")) == sorted(p["id"] for p in valid)
    assert sorted(rows_by_id(db, "raw_products")) == sorted(p["id"] for p in valid)
    raw_meta = materialization_metadata(result, "raw_products")
    assert raw_meta["products_received"] == len(payload)
    assert raw_meta["products_valid"] == len(valid)
    assert raw_meta["products_rejected"] == len(invalid)
    assert dim_product_counts(result) == {
        "inserted": len(valid),
        "updated": 0,
        "unchanged": 0,
        "rejected": len(invalid),
    }


# --------------------------------------------------------------------------------- SCD type 1


def test_changed_price_updates_only_that_row(serve, warehouse_url, db, instance, real_products) -> None:
    assert run_products_job(warehouse_url, instance, serve(json_reply(real_products))).success
    before = rows_by_id(db, "dim_product")
    changed = copy.deepcopy(real_products)
    target = changed[2]
    target["price"] = round(target["price"] + 1.5, 2)

    result = run_products_job(warehouse_url, instance, serve(json_reply(changed)))

    assert result.success, step_failures(result)
    after = rows_by_id(db, "dim_product")
    assert sorted(after) == sorted(before)
    pid = target["id"]
    assert str(after[pid]["unit_price"]) == price(target["price"]) != str(before[pid]["unit_price"])
    assert after[pid]["updated_at"] > before[pid]["updated_at"]
    assert after[pid]["first_loaded_at"] == before[pid]["first_loaded_at"]
    for other in set(before) - {pid}:
        assert after[other] == before[other], other  # updated_at included
    assert dim_product_counts(result) == {
        "inserted": 0,
        "updated": 1,
        "unchanged": 19,
        "rejected": 0,
    }


def test_identical_response_changes_nothing(serve, warehouse_url, db, instance, real_body) -> None:
    assert run_products_job(warehouse_url, instance, serve(Reply(body=real_body))).success
    before = table_as_text(db, "dim_product")

    result = run_products_job(warehouse_url, instance, serve(Reply(body=real_body)))

    assert result.success, step_failures(result)
    assert table_as_text(db, "dim_product") == before
    assert dim_product_counts(result) == {
        "inserted": 0,
        "updated": 0,
        "unchanged": 20,
        "rejected": 0,
    }


def test_product_missing_from_a_later_response_is_kept(serve, warehouse_url, db, instance, real_products) -> None:
    assert run_products_job(warehouse_url, instance, serve(json_reply(real_products))).success
    before = rows_by_id(db, "dim_product")
    gone = real_products[-1]["id"]

    result = run_products_job(warehouse_url, instance, serve(json_reply(real_products[:-1])))

    assert result.success, step_failures(result)
    assert gone not in rows_by_id(db, "raw_products")
    assert rows_by_id(db, "dim_product") == before
    assert dim_product_counts(result) == {
        "inserted": 0,
        "updated": 0,
        "unchanged": 19,
        "rejected": 0,
    }


def test_inferred_member_is_filled_in_from_the_api(serve, warehouse_url, db, instance, real_products) -> None:
    # As the sales load does for a sale of a product the warehouse has not seen yet.
    db.execute(
        "INSERT INTO warehouse.dim_product (product_id, product_name, is_inferred)"
        " VALUES (5, 'Unknown product 5', true)"
    )
    [product] = [p for p in real_products if p["id"] == 5]

    result = run_products_job(warehouse_url, instance, serve(json_reply(real_products)))

    assert result.success, step_failures(result)
    row = rows_by_id(db, "dim_product")[5]
    assert row["is_inferred"] is False
    assert row["product_name"] == product["title"].strip()
    assert row["category"] == product["category"]
    assert str(row["unit_price"]) == price(product["price"])
    assert row["image_url"] == product["image"]
    assert db.execute("SELECT count(*) FROM warehouse.dim_product WHERE is_inferred").fetchone()[0] == 0
    counts = dim_product_counts(result)
    assert (counts["inserted"], counts["updated"]) == (19, 1)
    assert materialization_metadata(result, "dim_product")["inferred_members"] == 0


# --------------------------------------------------------------------------------- schedule


@pytest.fixture
def schedule_env() -> Iterator:
    """Rebuild the schedule (and the definitions holding it) under given settings; restore after."""

    def load(cron: str, timezone: str) -> dg.Definitions:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("WAREHOUSE_PRODUCTS_CRON", cron)
            mp.setenv("WAREHOUSE_SCHEDULE_TIMEZONE", timezone)
            importlib.reload(warehouse_assets.schedules)
            importlib.reload(warehouse_assets.definitions)
        return warehouse_assets.definitions.build_definitions("postgresql://unused/x")

    try:
        yield load
    finally:
        importlib.reload(warehouse_assets.schedules)
        importlib.reload(warehouse_assets.definitions)


@pytest.mark.parametrize(("cron", "timezone"), [("30 2 * * 1-5", "Europe/Paris"), ("0 */4 * * *", "America/New_York")])
def test_products_schedule_follows_settings_and_requests_products_job(
    schedule_env, instance, cron: str, timezone: str
) -> None:
    defs = schedule_env(cron, timezone)

    schedule = defs.resolve_schedule_def("products_refresh_schedule")

    assert schedule.job_name == "products_job"
    assert schedule.cron_schedule == cron
    assert schedule.execution_timezone == timezone
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=dt.datetime(2025, 3, 3, 2, 30, tzinfo=dt.UTC)
    )
    [request] = schedule.evaluate_tick(context).run_requests
    assert isinstance(request, dg.RunRequest)
    # No job_name of its own: the request runs the schedule's job, products_job.
    assert request.job_name in (None, "products_job")
    assert request.tags["dagster/schedule_name"] == "products_refresh_schedule"


# --------------------------------------------------------------------------------- offline


def test_offline_snapshot_loads_without_a_server(
    products_snapshot: Path, warehouse_url, db, instance, monkeypatch
) -> None:
    # Any HTTP request would go to a closed local port and fail: never out to the internet.
    for name in ("HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    products = json.loads(products_snapshot.read_bytes())

    result = refresh_products(build_definitions(warehouse_url), instance)

    assert result.success, step_failures(result)
    meta = materialization_metadata(result, "raw_products")
    assert meta["source"] == str(products_snapshot)
    assert meta["fetch_attempts"] == 1
    rows = rows_by_id(db, "dim_product")
    assert sorted(rows) == sorted(p["id"] for p in products)
    for product in products:
        assert rows[product["id"]]["product_name"] == product["title"].strip()
        assert str(rows[product["id"]]["unit_price"]) == price(product["price"])
    assert dim_product_counts(result)["inserted"] == len(products)
