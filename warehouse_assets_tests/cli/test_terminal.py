"""`warehouse load` on a real terminal (a pseudo-terminal): a progress bar while it loads, no
Dagster event line, one summary at the end, each failed file's error once, and exit code 1."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

from warehouse_assets.cli.sample_data import SalesSpec, generate_sales
from warehouse_assets.core.urls import dagster_storage_url
from warehouse_assets_tests.support.paths import PROJECT_DIR

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def run_on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        argv, stdin=follower, stdout=follower, stderr=follower, env=env, cwd=PROJECT_DIR, close_fds=True
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process has ended
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    return process.wait(timeout=300), b"".join(chunks).decode("utf-8", errors="replace")


def test_twenty_files_on_a_terminal_show_progress_then_one_summary(settings_variables, landing, tmp_path):
    for i in range(20):
        spec = SalesSpec(rows=400, customers=40, bad_share=0.02, seed=300 + i, id_prefix=f"T{i:02d}")
        generate_sales(landing / f"day_{i:02d}.csv", spec, track_planted=False)
    (landing / "day_99.csv").write_text("what,is,this\n1,2,3\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("WAREHOUSE_", "DAGSTER_", "FAKESTORE_"))},
        **settings_variables,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "DAGSTER_PG_URL": dagster_storage_url(settings_variables["WAREHOUSE_DATABASE_URL"]),
        "TERM": "xterm-256color",
        "COLUMNS": "120",
    }
    code, raw = run_on_a_terminal([sys.executable, "-m", "warehouse_assets.cli.main", "load"], env)
    text = _ESCAPES.sub("\n", raw)
    assert code == 1, text[-3000:]
    assert re.search(r"files \d+/21", text), "no progress bar"
    assert not re.search(r"DEBUG|STEP_START|RUN_START|- dagster -", text), text[-3000:]
    assert "Traceback" not in text
    summary = text[text.rindex("Summary") :]
    assert re.search(r"files\s+20 loaded, 1 failed", summary)
    failed = summary.split("Failed files", 1)[1]
    assert failed.count("day_99.csv") == 1 and "transaction_id" in failed
