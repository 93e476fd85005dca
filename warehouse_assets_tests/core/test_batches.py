"""Runs of files: contiguous ranges of partitions, bounded in files and bytes."""

import pytest

from warehouse_assets.core.batches import plan_batches


def files(batches):
    return [list(b.files) for b in batches]


def test_contiguous_files_share_a_run_and_a_gap_starts_another():
    order = list("abcdefgh")
    batches = plan_batches(order, {k: 1 for k in "bcdfgh"}, max_files=100, max_bytes=100)
    assert files(batches) == [["b", "c", "d"], ["f", "g", "h"]]
    assert (batches[0].first, batches[0].last, batches[0].size_bytes) == ("b", "d", 3)


def test_runs_are_bounded_in_files_and_bytes_and_a_large_file_runs_alone():
    order = [f"f{i:02d}" for i in range(10)]
    sizes = {k: 10 for k in order}
    sizes["f05"] = 1_000
    assert files(plan_batches(order, sizes, max_files=3, max_bytes=50)) == [
        ["f00", "f01", "f02"],
        ["f03", "f04"],
        ["f05"],
        ["f06", "f07", "f08"],
        ["f09"],
    ]


def test_a_file_that_is_not_a_partition_is_an_error():
    with pytest.raises(ValueError, match="not among the partitions: z"):
        plan_batches(["a"], {"a": 1, "z": 1}, max_files=5, max_bytes=5)
