"""The Postgres IO manager against a real PostgreSQL: types, partitions, atomicity, quoting, and
the products frame passing from raw_products to dim_product through it."""

import datetime as dt
import decimal

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest
from pandas.testing import assert_frame_equal

from warehouse_assets.defs.io_manager import PostgresIOManager
from warehouse_assets.defs.types import ProductsFrame

D = decimal.Decimal
files = dg.DynamicPartitionsDefinition(name="files")


def io_manager(url: str) -> PostgresIOManager:
    return PostgresIOManager(database_url=url, pgdata="/nonexistent")


def every_dtype_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.Series([1, 2, 3], dtype="int64"),
            "maybe_int": pd.Series([10, None, -7], dtype="Int64"),
            "amount": pd.Series([D("19.99"), D("695.00"), None], dtype=object),
            "text": pd.Series(
                ['say "hi", it\'s\tfine', "two\nlines\r\nand a \\ backslash", "Zoë — ½ café ✓"], dtype=object
            ),
            "maybe_text": pd.Series(["", None, "NULL"], dtype=object),
            "ts_utc": pd.Series(
                pd.to_datetime(
                    ["2024-03-05 14:22:10", "1999-12-31 23:59:59.123456", "2027-01-01 00:00:00"],
                    utc=True,
                    format="ISO8601",
                )
            ),
            "day": pd.Series([dt.date(2024, 3, 5), dt.date(2000, 1, 1), None], dtype=object),
            "flag": pd.Series([True, False, True], dtype="bool"),
            "maybe_flag": pd.Series([True, None, False], dtype="boolean"),
            "ratio": pd.Series([0.5, float("nan"), -1.25], dtype="float64"),
        }
    )


def test_every_dtype_round_trips(warehouse_url, db):
    db.execute(
        "CREATE TABLE warehouse.typed_frame (id bigint, maybe_int bigint, amount numeric(12, 2), text text,"
        " maybe_text text, ts_utc timestamptz, day date, flag boolean, maybe_flag boolean, ratio double precision)"
    )
    original = every_dtype_frame()
    loaded: dict[str, pd.DataFrame] = {}

    @dg.asset
    def typed_frame() -> pd.DataFrame:
        return original

    @dg.asset
    def reader(typed_frame: pd.DataFrame) -> None:
        loaded["frame"] = typed_frame

    result = dg.materialize([typed_frame, reader], resources={"io_manager": io_manager(warehouse_url)})
    assert result.success
    assert_frame_equal(loaded["frame"], original, check_exact=True)
    # What PostgreSQL itself holds, not only what the IO manager reads back.
    row = db.execute("SELECT maybe_text, maybe_text IS NULL, amount FROM warehouse.typed_frame WHERE id = 1").fetchone()
    assert row == ("", False, D("19.99"))
    assert db.execute("SELECT maybe_text IS NULL FROM warehouse.typed_frame WHERE id = 2").fetchone() == (True,)
    metadata = result.asset_materializations_for_node("typed_frame")[0].metadata
    assert metadata["dagster/row_count"].value == 3
    assert metadata["dagster/table_name"].value == "warehouse.typed_frame"


def test_arrow_tables_are_stored_too(warehouse_url, db):
    db.execute("CREATE TABLE warehouse.arrow_rows (k integer, label text)")

    @dg.asset
    def arrow_rows() -> pa.Table:
        return pa.table({"k": pa.array([1, 2], pa.int32()), "label": ["x", None]})

    assert dg.materialize([arrow_rows], resources={"io_manager": io_manager(warehouse_url)}).success
    assert db.execute("SELECT k, label FROM warehouse.arrow_rows ORDER BY k").fetchall() == [(1, "x"), (2, None)]


def partitioned_pair(frames: dict[str, pd.DataFrame], seen: dict):
    @dg.asset(partitions_def=files, metadata={"partition_expr": "source_file"})
    def staged(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return frames[context.partition_key]

    @dg.asset(partitions_def=files, ins={"staged": dg.AssetIn(metadata={"columns": ["source_file", "n"]})})
    def consumer(context: dg.AssetExecutionContext, staged: pd.DataFrame) -> None:
        seen[context.partition_key] = staged

    return staged, consumer


def test_partition_replace_is_idempotent_and_leaves_other_partitions(warehouse_url, db):
    db.execute("CREATE TABLE warehouse.staged (source_file text, n integer, extra text)")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("files", ["a.csv", "b.csv"])
    frames = {
        "a.csv": pd.DataFrame({"source_file": ["a.csv"] * 3, "n": [1, 2, 3], "extra": ["x", "y", "z"]}),
        "b.csv": pd.DataFrame({"source_file": ["b.csv"] * 2, "n": [10, 20], "extra": ["p", "q"]}),
    }
    seen: dict = {}
    staged, consumer = partitioned_pair(frames, seen)
    resources = {"io_manager": io_manager(warehouse_url)}
    for key in ["a.csv", "b.csv", "a.csv", "a.csv"]:
        assert dg.materialize([staged, consumer], partition_key=key, resources=resources, instance=instance).success
    counts = dict(db.execute("SELECT source_file, count(*) FROM warehouse.staged GROUP BY 1").fetchall())
    assert counts == {"a.csv": 3, "b.csv": 2}
    # The downstream partition saw only its own rows, and only the columns it asked for.
    assert list(seen["b.csv"].columns) == ["source_file", "n"]
    assert seen["b.csv"]["n"].tolist() == [10, 20]
    frames["a.csv"] = pd.DataFrame({"source_file": ["a.csv"], "n": [99], "extra": ["changed"]})
    assert dg.materialize([staged], partition_key="a.csv", resources=resources, instance=instance).success
    assert db.execute("SELECT source_file, n FROM warehouse.staged ORDER BY n").fetchall() == [
        ("b.csv", 10),
        ("b.csv", 20),
        ("a.csv", 99),
    ]


def test_a_failure_inside_copy_leaves_the_previous_rows(warehouse_url, db):
    db.execute("CREATE TABLE warehouse.table_a (k integer, n integer)")
    frame = {"value": pd.DataFrame({"k": [1, 2], "n": [1, 2]})}

    @dg.asset
    def table_a() -> pd.DataFrame:
        return frame["value"]

    resources = {"io_manager": io_manager(warehouse_url)}
    assert dg.materialize([table_a], resources=resources).success
    # Text that is not a number fails inside COPY, after the old rows were deleted in the same
    # transaction.
    frame["value"] = pd.DataFrame({"k": [3], "n": ["not a number"]})
    assert not dg.materialize([table_a], resources=resources, raise_on_error=False).success
    assert db.execute("SELECT k, n FROM warehouse.table_a ORDER BY k").fetchall() == [(1, 1), (2, 2)]


def test_hostile_schema_and_table_names_are_quoted_not_executed(warehouse_url, db):
    evil_schema = 'x"; DROP SCHEMA warehouse CASCADE; --'
    evil_table = 'robert"); DROP TABLE warehouse.fact_sales; --'
    db.execute(f'CREATE SCHEMA "{evil_schema.replace(chr(34), chr(34) * 2)}"')
    db.execute(
        f'CREATE TABLE "{evil_schema.replace(chr(34), chr(34) * 2)}"."{evil_table.replace(chr(34), chr(34) * 2)}" (a integer)'
    )

    @dg.multi_asset(
        name="evil", outs={"out": dg.AssetOut(key=dg.AssetKey([evil_table]), metadata={"schema": evil_schema})}
    )
    def evil() -> pd.DataFrame:
        return pd.DataFrame({"a": [1]})

    assert dg.materialize([evil], resources={"io_manager": io_manager(warehouse_url)}).success
    assert db.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (evil_schema, evil_table),
    ).fetchone() == (1,)
    assert db.execute("SELECT to_regclass('warehouse.fact_sales') IS NOT NULL").fetchone() == (True,)


def test_partition_key_with_quotes_is_a_parameter(warehouse_url, db):
    db.execute("CREATE TABLE warehouse.staged (source_file text, n integer)")
    key = "it's; DELETE FROM warehouse.staged; --.csv"
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("files", [key, "b.csv"])
    frames = {
        key: pd.DataFrame({"source_file": [key], "n": [1]}),
        "b.csv": pd.DataFrame({"source_file": ["b.csv"], "n": [2]}),
    }
    staged, _ = partitioned_pair(frames, {})
    resources = {"io_manager": io_manager(warehouse_url)}
    for k in ["b.csv", key, key]:
        assert dg.materialize([staged], partition_key=k, resources=resources, instance=instance).success
    assert db.execute("SELECT source_file, n FROM warehouse.staged ORDER BY n").fetchall() == [(key, 1), ("b.csv", 2)]


def test_a_missing_table_is_named_when_storing_and_loading(warehouse_url):
    @dg.asset
    def nowhere() -> pd.DataFrame:
        return pd.DataFrame({"a": [1]})

    with pytest.raises(dg.Failure, match=r"table warehouse\.nowhere does not exist: its DDL belongs in sql/schema/"):
        dg.materialize([nowhere], resources={"io_manager": io_manager(warehouse_url)})

    source = dg.AssetSpec("never_materialized")

    @dg.asset(ins={"never_materialized": dg.AssetIn()})
    def needs_it(never_materialized: pd.DataFrame) -> None:
        pass

    with pytest.raises(dg.Failure, match=r"warehouse\.never_materialized does not exist"):
        dg.materialize([source, needs_it], resources={"io_manager": io_manager(warehouse_url)}, selection=[needs_it])


def test_a_malformed_products_frame_fails_its_type_check_naming_the_column():
    frame = pd.DataFrame(
        {
            "product_id": [1, 1],
            "product_name": ["a", "b"],
            "category": ["x", "y"],
            "unit_price": [D("1.00"), D("2.00")],
            "description": [None, None],
            "image_url": ["https://e/1", "https://e/2"],
            "rating_rate": [None, None],
            "rating_count": [None, None],
            "loaded_at": pd.to_datetime(["2024-01-01", "2024-01-01"], utc=True),
        }
    )
    result = ProductsFrame.type_check(dg.build_op_context(), frame)
    assert not result.success and "product_id" in result.description
    assert ProductsFrame.type_check(dg.build_op_context(), frame.assign(product_id=[1, 2])).success
    missing = ProductsFrame.type_check(
        dg.build_op_context(), frame.drop(columns=["category"]).assign(product_id=[1, 2])
    )
    assert not missing.success and "category" in missing.description
