"""dim_product end to end: the real products_job, a real HTTP server, a real PostgreSQL.

Each test starts a scripted HTTP server on 127.0.0.1, points the settings' FAKESTORE_BASE_URL at
it, runs `products_job` in process and then reads `warehouse.raw_products`,
`warehouse.rejected_products` and `warehouse.dim_product` back. Nothing is mocked. The responses
are the project's own snapshot (data/sample/products.json), so these tests run on any clone;
the test of the real FakeStore capture skips, naming the file, where ../shared/realdata is absent.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from psycopg.rows import dict_row

from warehouse_assets.core.settings import Settings
from warehouse_assets.defs.build import build_definitions
from warehouse_assets_tests.support.http_server import Reply, ScriptedServer
from warehouse_assets_tests.support.jobs import refresh_products, step_failures
from warehouse_assets_tests.support.paths import PROJECT_DIR

pytestmark = pytest.mark.usefixtures("no_proxies")

CENT = Decimal("0.01")
SHIPPED = PROJECT_DIR / "data" / "sample" / "products.json"

# --------------------------------------------------------------------------------- helpers


@pytest.fixture
def real_body(realdata: Path) -> bytes:
    """The FakeStore `GET /products` response as captured, byte for byte."""
    path = realdata / "fakestore_products.json"
    if not path.is_file():
        pytest.skip(f"needs the real capture {path} (beside the checkout, in ../shared/realdata)")
    return path.read_bytes()


@pytest.fixture
def products() -> list[dict[str, Any]]:
    """The products of the snapshot the project ships, as the API would send them."""
    return json.loads(SHIPPED.read_bytes())


@pytest.fixture
def body(products) -> bytes:
    return json.dumps(products).encode()


def json_reply(products: Any) -> Reply:
    return Reply(body=json.dumps(products).encode())


def run_products_job(
    settings: Settings, instance: dg.DagsterInstance, server: ScriptedServer, **overrides
) -> dg.ExecuteInProcessResult:
    """products_job as deployed, with the FakeStore source pointed at the test's server."""
    configured = settings.replace(
        fakestore_base_url=server.base_url,
        fakestore_connect_timeout=1.0,
        fakestore_read_timeout=5.0,
        fakestore_backoff_seconds=0.01,
        **overrides,
    )
    return refresh_products(build_definitions(configured), instance)


def materialization_metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    [event] = result.asset_materializations_for_node(asset)
    return {name: value.value for name, value in event.metadata.items()}


def dim_product_counts(result: dg.ExecuteInProcessResult) -> dict[str, int]:
    meta = materialization_metadata(result, "dim_product")
    counts = {k: meta[k] for k in ("inserted", "updated", "unchanged")}
    counts["rejected"] = materialization_metadata(result, "raw_products")["products_rejected"]
    return counts


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


# --------------------------------------------------------------------------------- the real capture


def test_real_fakestore_response_loads_into_dim_product(serve, settings, db, instance, real_body) -> None:
    real_products = json.loads(real_body)
    assert len(real_products) == 20
    # The capture's own quirks, which make this test worth having.
    assert sum(p["title"] != p["title"].strip() for p in real_products) == 5
    assert any(isinstance(p["price"], int) for p in real_products)
    server = serve(Reply(body=real_body))

    result = run_products_job(settings, instance, server)

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


# --------------------------------------------------------------------------------- the shipped snapshot


def test_500_502_503_then_200_is_retried_and_loads(serve, settings, db, instance, body, products) -> None:
    server = serve(Reply(500), Reply(502), Reply(503), Reply(body=body))

    result = run_products_job(settings, instance, server)

    assert result.success, step_failures(result)
    assert len(server.seen) == 4
    assert materialization_metadata(result, "raw_products")["fetch_attempts"] == 4
    assert len(rows_by_id(db, "dim_product")) == len(products) == 20


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
def test_bad_response_fails_and_leaves_tables_unchanged(kind, serve, settings, db, instance, body) -> None:
    first = run_products_job(settings, instance, serve(Reply(body=body)))
    assert first.success, step_failures(first)
    before = {t: table_as_text(db, t) for t in ("dim_product", "raw_products", "rejected_products")}
    assert len(before["dim_product"]) == 20
    make_reply, mentions = BAD_RESPONSES[kind]
    server = serve(make_reply(body))

    result = run_products_job(settings, instance, server)

    assert not result.success
    failures = step_failures(result)
    assert set(failures) == {"raw_products"}
    message = failures["raw_products"]
    assert server.products_url in message
    assert "expected a JSON array of products" in message
    for text in mentions:
        assert text in message
    assert result.asset_materializations_for_node("dim_product") == []
    after = {t: table_as_text(db, t) for t in before}
    assert after == before


# --------------------------------------------------------------------------------- invalid products


def test_invalid_products_are_rejected_with_reasons_and_the_rest_load(serve, settings, db, instance, products) -> None:
    valid = products[:5]
    template = products[5]

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

    result = run_products_job(settings, instance, server)

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


def test_changed_price_updates_only_that_row(serve, settings, db, instance, products) -> None:
    assert run_products_job(settings, instance, serve(json_reply(products))).success
    before = rows_by_id(db, "dim_product")
    changed = copy.deepcopy(products)
    target = changed[2]
    target["price"] = round(target["price"] + 1.5, 2)

    result = run_products_job(settings, instance, serve(json_reply(changed)))

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


def test_identical_response_changes_nothing(serve, settings, db, instance, body) -> None:
    assert run_products_job(settings, instance, serve(Reply(body=body))).success
    before = table_as_text(db, "dim_product")

    result = run_products_job(settings, instance, serve(Reply(body=body)))

    assert result.success, step_failures(result)
    assert table_as_text(db, "dim_product") == before
    assert dim_product_counts(result) == {
        "inserted": 0,
        "updated": 0,
        "unchanged": 20,
        "rejected": 0,
    }


def test_product_missing_from_a_later_response_is_kept(serve, settings, db, instance, products) -> None:
    assert run_products_job(settings, instance, serve(json_reply(products))).success
    before = rows_by_id(db, "dim_product")
    gone = products[-1]["id"]

    result = run_products_job(settings, instance, serve(json_reply(products[:-1])))

    assert result.success, step_failures(result)
    assert gone not in rows_by_id(db, "raw_products")
    assert rows_by_id(db, "dim_product") == before
    assert dim_product_counts(result) == {
        "inserted": 0,
        "updated": 0,
        "unchanged": 19,
        "rejected": 0,
    }


def test_inferred_member_is_filled_in_from_the_api(serve, settings, db, instance, products) -> None:
    # As the sales load does for a sale of a product the warehouse has not seen yet.
    db.execute(
        "INSERT INTO warehouse.dim_product (product_id, product_name, is_inferred)"
        " VALUES (5, 'Unknown product 5', true)"
    )
    [product] = [p for p in products if p["id"] == 5]

    result = run_products_job(settings, instance, serve(json_reply(products)))

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


# --------------------------------------------------------------------------------- schedule and offline


@pytest.mark.parametrize(("cron", "timezone"), [("30 2 * * 1-5", "Europe/Paris"), ("0 */4 * * *", "America/New_York")])
def test_products_schedule_follows_settings_and_requests_products_job(
    settings, instance, cron: str, timezone: str
) -> None:
    defs = build_definitions(settings.replace(products_cron=cron, schedule_timezone=timezone))

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


def test_offline_snapshot_loads_without_a_server(settings, db, instance, monkeypatch) -> None:
    # Any HTTP request would go to a closed local port and fail: never out to the internet.
    for name in ("HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    snapshot = Path(settings.fakestore_base_url)
    products = json.loads(snapshot.read_bytes())

    result = refresh_products(build_definitions(settings), instance)

    assert result.success, step_failures(result)
    meta = materialization_metadata(result, "raw_products")
    assert meta["source"] == str(snapshot)
    assert meta["fetch_attempts"] == 1
    rows = rows_by_id(db, "dim_product")
    assert sorted(rows) == sorted(p["id"] for p in products)
    for product in products:
        assert rows[product["id"]]["product_name"] == product["title"].strip()
        assert str(rows[product["id"]]["unit_price"]) == price(product["price"])
    assert dim_product_counts(result)["inserted"] == len(products)


def test_the_shipped_snapshot_names_products_by_their_category() -> None:
    words = {
        "electronics": ("Drive", "Monitor", "SSD", "Sleeve"),
        "jewelery": ("Bracelet", "Ring", "Earrings", "Pendant", "Necklace"),
        "men's clothing": ("Backpack", "Tee", "Jacket", "Shirt", "Windbreaker"),
        "women's clothing": ("Jacket", "Coat", "Top"),
    }
    for product in json.loads(SHIPPED.read_bytes()):
        assert any(w in product["title"] for w in words[product["category"]]), product


# --------------------------------------------------------------------------------- what PostgreSQL cannot store

UNSTORABLE = {
    # raw JSON of one product's changed field -> the field its rejection names
    "infinite price": ('"price": 1e309', "price"),
    "NaN price": ('"price": NaN', "price"),
    "price as text": ('"price": "12.5"', "price"),
    "price beyond numeric(12, 2)": ('"price": 10000000000', "price"),
    "NUL in the title": ('"title": "Nul\\u0000Byte"', "title"),
    "lone surrogate in the description": ('"description": "half \\ud800 a pair"', "description"),
    "id as text": ('"id": "7"', "id"),
}


def test_products_postgresql_cannot_store_are_rejected_one_by_one(serve, settings, db, instance, products) -> None:
    """Each bad product is rejected with its reason and its raw JSON (made storable); the other
    products of the same response are refreshed."""
    good = products[:10]
    texts = [json.dumps(p) for p in good]
    bad_ids = []
    for i, (change, _) in enumerate(UNSTORABLE.values()):
        item = copy.deepcopy(products[10])
        item["id"] = 900 + i
        text = json.dumps(item)
        key = change.split(":")[0]
        start = text.index(key)
        end = text.index(", ", start) if key != '"description"' else text.index('", ', start) + 1
        texts.append(text[:start] + change + text[end:])
        bad_ids.append(900 + i)
    body = ("[" + ", ".join(texts) + "]").encode()
    result = run_products_job(settings, instance, serve(Reply(body=body)))

    assert result.success, step_failures(result)
    assert sorted(rows_by_id(db, "dim_product")) == sorted(p["id"] for p in good)
    rejected = (
        db.cursor(row_factory=dict_row)
        .execute("SELECT product_id, errors, raw_record FROM warehouse.rejected_products")
        .fetchall()
    )
    fields = {r["product_id"]: {e["field"] for e in r["errors"]} for r in rejected}
    assert len(rejected) == len(UNSTORABLE)
    for (name, (_, field)), pid in zip(UNSTORABLE.items(), bad_ids):
        key = "7" if name == "id as text" else str(pid)  # the id as it was sent
        assert field in fields[key], name
    # The raw records were stored, made storable: no NUL, no lone surrogate, no bare NaN.
    assert all(json.dumps(r["raw_record"]) for r in rejected)
