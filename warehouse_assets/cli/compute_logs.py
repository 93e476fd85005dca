"""Where a CLI command's runs keep each step's stdout and stderr: the files Dagster's own local
manager writes (so the UI shows them under the run, as for any other run), without mirroring them
back to the command's terminal unless it runs with --verbose.

Dagster's manager mirrors by starting, for every run, a `tail -F` and a Python watcher per stream:
four processes and about 25 MB beside a load that prints nothing from its steps anyway (the
command's own progress goes to the terminal directly, see cli/progress.py). With --verbose the
mirror stays: Dagster's event log is written to stderr while a step runs, and that is what
--verbose asks to see.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import yaml
from dagster._core.execution.compute_logs import redirect_to_file
from dagster._core.storage.compute_log_manager import CapturedLogContext, ComputeIOType
from dagster._core.storage.local_compute_log_manager import IO_TYPE_EXTENSION, LocalComputeLogManager
from dagster._utils import ensure_file, touch_file

# Dagster's default place for a home's step logs (InstanceRef.config_defaults), which the UI and
# the daemon, started with the same home and no compute_logs setting, read.
STEP_LOGS_FOLDER = "storage"


class StepLogFiles(LocalComputeLogManager):
    """LocalComputeLogManager whose mirroring to the process's own streams can be turned off."""

    def __init__(self, base_dir: str, mirror: bool = True, **kwargs):
        super().__init__(base_dir, **kwargs)
        self.mirror = mirror

    @classmethod
    def config_type(cls):
        return {**LocalComputeLogManager.config_type(), "mirror": dg.Field(bool, is_required=False, default_value=True)}

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> StepLogFiles:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def capture_logs(self, log_key: Sequence[str]) -> Generator[CapturedLogContext, None, None]:
        if self.mirror:
            with super().capture_logs(log_key) as context:
                yield context
            return
        outpath = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDOUT])
        errpath = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDERR])
        ensure_file(outpath)
        ensure_file(errpath)
        with redirect_to_file(sys.stdout, outpath), redirect_to_file(sys.stderr, errpath):
            yield CapturedLogContext(log_key)
        # As Dagster's manager: the file tells the UI that the capture is complete.
        touch_file(self.complete_artifact_path(log_key))


def step_logs_override(dagster_home: Path, *, mirror: bool) -> dict:
    """The instance setting that puts StepLogFiles where Dagster's default manager would be; none
    when the home's dagster.yaml chooses where step logs go (a deployment's S3 bucket, say), which
    the UI reads and CLI runs must then write to as well."""
    config = dagster_home / "dagster.yaml"
    if config.exists() and "compute_logs" in (yaml.safe_load(config.read_text(encoding="utf-8")) or {}):
        return {}
    return {
        "compute_logs": {
            "module": __name__,
            "class": StepLogFiles.__name__,
            "config": {"base_dir": str(dagster_home / STEP_LOGS_FOLDER), "mirror": mirror},
        }
    }
