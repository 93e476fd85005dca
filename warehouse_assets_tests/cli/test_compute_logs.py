"""Step logs of CLI runs: kept in the files the UI reads, mirrored to the terminal only on request."""

from __future__ import annotations

import sys

import psutil
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager

from warehouse_assets.cli.compute_logs import StepLogFiles, step_logs_override

LOG_KEY = ["a-run", "compute_logs", "a-step"]


def _capture(manager: StepLogFiles) -> list[str]:
    """Write to both streams inside a capture; returns the commands of the processes the capture
    started."""
    with manager.capture_logs(LOG_KEY):
        print("printed by a step", flush=True)
        sys.stderr.write("written to stderr by a step\n")
        sys.stderr.flush()
        started = [
            command
            for p in psutil.Process().children(recursive=True)
            if "tail" in (command := " ".join(p.cmdline())) or "watch_orphans" in command
        ]
        sys.stdout.flush()
    return started


def test_without_mirroring_a_step_writes_only_to_its_log_files_and_starts_no_process(tmp_path, capfd):
    started = _capture(StepLogFiles(str(tmp_path), mirror=False))
    assert started == []
    out, err = capfd.readouterr()
    assert "by a step" not in out + err
    # What the UI's manager (Dagster's own, on the same folder) reads for the step.
    ui = LocalComputeLogManager(str(tmp_path))
    assert ui.is_capture_complete(LOG_KEY)
    data = ui.get_log_data(LOG_KEY)
    assert data.stdout.decode() == "printed by a step\n"
    assert data.stderr.decode() == "written to stderr by a step\n"


def test_a_home_that_chooses_where_step_logs_go_is_left_to_it(tmp_path):
    assert step_logs_override(tmp_path, mirror=False)["compute_logs"]["config"]["mirror"] is False
    (tmp_path / "dagster.yaml").write_text("compute_logs:\n  module: elsewhere\n  class: Bucket\n")
    assert step_logs_override(tmp_path, mirror=False) == {}


def test_mirroring_is_dagsters_tail_of_the_same_files(tmp_path):
    started = _capture(StepLogFiles(str(tmp_path), mirror=True))
    assert any(command.startswith("tail -F") for command in started), started
    data = LocalComputeLogManager(str(tmp_path)).get_log_data(LOG_KEY)
    assert data.stdout.decode() == "printed by a step\n"
