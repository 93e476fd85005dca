"""With no WAREHOUSE_DATABASE_URL the warehouse runs on an embedded PostgreSQL 18 in its state
folder; with one, no server is started."""

from __future__ import annotations

import psycopg

from warehouse_assets.cli.main import main
from warehouse_assets.db import embedded


def test_embedded_server_by_default_and_none_when_a_url_is_set(tmp_path, monkeypatch, capsys):
    state = tmp_path / "state"
    monkeypatch.setenv("WAREHOUSE_STATE_DIR", str(state))
    monkeypatch.delenv("WAREHOUSE_DATABASE_URL", raising=False)
    pgdata = state / "pgdata"
    try:
        assert main(["db-url", "--show-password"]) == 0
        url = capsys.readouterr().out.strip()
        assert (pgdata / "PG_VERSION").read_text().strip() == "18"
        with psycopg.connect(url) as conn:
            assert conn.execute(
                "SELECT current_database(), current_setting('server_version_num')::int / 10000"
            ).fetchone() == ("warehouse", 18)
        pid = (pgdata / "postmaster.pid").read_text().split()[0]
        assert main(["db-url", "--show-password"]) == 0  # a second command reuses the running server
        assert capsys.readouterr().out.strip() == url
        assert (pgdata / "postmaster.pid").read_text().split()[0] == pid
        assert main(["db-url", "--dagster", "--show-password"]) == 0
        assert capsys.readouterr().out.strip().startswith("postgresql+psycopg2://")
    finally:
        assert main(["stop"]) == 0
    assert not embedded.is_running(pgdata)
    assert "stopped" in capsys.readouterr().out

    other = tmp_path / "other-state"
    monkeypatch.setenv("WAREHOUSE_STATE_DIR", str(other))
    monkeypatch.setenv("WAREHOUSE_DATABASE_URL", "postgresql://someone:s3cret@db.example:5432/shop")
    assert main(["db-url"]) == 0
    assert capsys.readouterr().out.strip() == "postgresql://someone:***@db.example:5432/shop"
    assert not other.exists()  # no server was started
