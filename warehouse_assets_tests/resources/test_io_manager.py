"""The Postgres IO manager against a real PostgreSQL: types, partitions, atomicity, quoting."""

import datetime as dt
import decimal

import dagster as dg
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from warehouse_assets.resources.io_manager import DataFrameChunks, PostgresPandasIOManager
from warehouse_assets.resources.warehouse import WarehouseResource

D = decimal.Decimal


def io_manager(url: str) -> PostgresPandasIOManager:
    return PostgresPandasIOManager(warehouse=WarehouseResource(database_url=url))


def every_dtype_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.Series([1, 2, 3], dtype="int64"),
            "maybe_int": pd.Series([10, None, -7], dtype="Int64"),
            "amount": pd.Series([D("19.99"), D("695.00"), None], dtype=object),
            "text": pd.Series(
                ['say "hi", it\'s\tfine', "two\nlines\r\nand a \\ backslash", "Zoë — ½ café ✓"],
                dtype=object,
            ),
            "maybe_text": pd.Series(["", None, "NULL"], dtype=object),
            "ts_utc": pd.Series(
                pd.to_datetime(
                    ["2024-03-05 14:22:10", "1999-12-31 23:59:59.123456", "2027-01-01 00:00:00"],
                    utc=True,
                    format="ISO8601",
                )
            ),
            "ts_naive": pd.Series(pd.to_datetime(["2024-03-05 14:22:10", "2024-02-29 00:00:00", None])),
            "day": pd.Series([dt.date(2024, 3, 5), dt.date(2000, 1, 1), None], dtype=object),
            "flag": pd.Series([True, False, True], dtype="bool"),
            "maybe_flag": pd.Series([True, None, False], dtype="boolean"),
            "ratio": pd.Series([0.5, float("nan"), -1.25], dtype="float64"),
            "doc": pd.Series([{"rate": 3.9, "count": 120}, None, [1, "a"]], dtype=object),
        }
    )


def test_every_dtype_round_trips(warehouse_url, db):
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
    types = dict(
        db.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'warehouse' AND table_name = 'typed_frame'"
        ).fetchall()
    )
    assert types["amount"] == "numeric"
    assert types["ts_utc"] == "timestamp with time zone"
    assert types["ts_naive"] == "timestamp without time zone"
    assert types["day"] == "date"
    assert types["doc"] == "jsonb"
    assert types["maybe_flag"] == "boolean"
    row = db.execute(
        "SELECT maybe_text, maybe_text IS NULL, amount, doc->>'count' FROM warehouse.typed_frame WHERE id = 1"
    ).fetchone()
    assert row == ("", False, D("19.99"), "120")
    assert db.execute("SELECT maybe_text IS NULL FROM warehouse.typed_frame WHERE id = 2").fetchone() == (True,)

    metadata = result.asset_materializations_for_node("typed_frame")[0].metadata
    assert metadata["dagster/row_count"].value == 3
    assert metadata["dagster/table_name"].value == "warehouse.typed_frame"
    assert [c.name for c in metadata["dagster/column_schema"].schema.columns] == list(original.columns)


files = dg.DynamicPartitionsDefinition(name="files")


def partitioned_pair(frames: dict[str, pd.DataFrame], seen: dict):
    @dg.asset(partitions_def=files, metadata={"partition_expr": "source_file"})
    def staged(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return frames[context.partition_key]

    @dg.asset(partitions_def=files, ins={"staged": dg.AssetIn(metadata={"columns": ["source_file", "n"]})})
    def consumer(context: dg.AssetExecutionContext, staged: pd.DataFrame) -> None:
        seen[context.partition_key] = staged

    return staged, consumer


def test_partition_replace_is_idempotent_and_leaves_other_partitions(warehouse_url, db):
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
    rows = db.execute("SELECT source_file, n FROM warehouse.staged ORDER BY n").fetchall()
    assert rows == [("b.csv", 10), ("b.csv", 20), ("a.csv", 99)]


def test_failure_mid_write_leaves_previous_partition(warehouse_url, db):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("files", ["a.csv"])
    state = {"fail": False}

    @dg.asset(partitions_def=files, metadata={"partition_expr": "source_file"})
    def streamed(context: dg.AssetExecutionContext) -> DataFrameChunks:
        def chunks():
            for i in range(3):
                if state["fail"] and i == 2:
                    raise RuntimeError("disk on fire after two chunks")
                yield pd.DataFrame({"source_file": ["a.csv"] * 2, "chunk": [i, i], "v": [i * 10, i * 10 + 1]})

        return DataFrameChunks(chunks())

    resources = {"io_manager": io_manager(warehouse_url)}
    assert dg.materialize([streamed], partition_key="a.csv", resources=resources, instance=instance).success
    before = db.execute("SELECT chunk, v FROM warehouse.streamed ORDER BY v").fetchall()
    assert len(before) == 6

    state["fail"] = True
    result = dg.materialize(
        [streamed], partition_key="a.csv", resources=resources, instance=instance, raise_on_error=False
    )
    assert not result.success
    assert db.execute("SELECT chunk, v FROM warehouse.streamed ORDER BY v").fetchall() == before


def test_failure_in_copy_after_delete_rolls_back_unpartitioned(warehouse_url, db):
    frame = {"value": pd.DataFrame({"k": [1, 2], "n": [1, 2]})}

    @dg.asset
    def table_a() -> pd.DataFrame:
        return frame["value"]

    resources = {"io_manager": io_manager(warehouse_url)}
    assert dg.materialize([table_a], resources=resources).success
    # The table exists with an integer column; text that is not a number fails inside COPY,
    # after the old rows were truncated in the same transaction.
    frame["value"] = pd.DataFrame({"k": [3], "n": ["not a number"]})
    assert not dg.materialize([table_a], resources=resources, raise_on_error=False).success
    assert db.execute("SELECT k, n FROM warehouse.table_a ORDER BY k").fetchall() == [(1, 1), (2, 2)]

    frame["value"] = pd.DataFrame({"k": [7], "n": [70]})
    assert dg.materialize([table_a], resources=resources).success
    assert db.execute("SELECT k, n FROM warehouse.table_a").fetchall() == [(7, 70)]


def test_hostile_schema_and_table_names_are_quoted_not_executed(warehouse_url, db):
    evil_schema = 'x"; DROP SCHEMA warehouse CASCADE; --'
    evil_table = 'robert"); DROP TABLE warehouse.fact_sales; --'

    # Dagster's op names are restricted, asset keys are not: the key carries the hostile name.
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


def test_schema_from_key_prefix_and_new_columns_added(warehouse_url, db):
    value = {"frame": pd.DataFrame({"a": [1]})}

    @dg.asset(key_prefix=["analytics"])
    def prefixed() -> pd.DataFrame:
        return value["frame"]

    resources = {"io_manager": io_manager(warehouse_url)}
    assert dg.materialize([prefixed], resources=resources).success
    value["frame"] = pd.DataFrame({"a": [2], "b": ["new"]})
    assert dg.materialize([prefixed], resources=resources).success
    assert db.execute("SELECT a, b FROM analytics.prefixed").fetchall() == [(2, "new")]


def test_loading_a_missing_table_names_it(warehouse_url):
    source = dg.AssetSpec("never_materialized")

    @dg.asset(ins={"never_materialized": dg.AssetIn()})
    def needs_it(never_materialized: pd.DataFrame) -> None:
        pass

    with pytest.raises(Exception, match="warehouse.never_materialized does not exist"):
        dg.materialize([source, needs_it], resources={"io_manager": io_manager(warehouse_url)}, selection=[needs_it])
