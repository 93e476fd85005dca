"""The settings object: defaults written once, values parsed with clear errors, secrets masked."""

import datetime as dt
from pathlib import Path

import pytest

from warehouse_assets.core.settings import VARIABLES, Settings, SettingsError
from warehouse_assets_tests.support.paths import PROJECT_DIR


def test_an_empty_environment_gives_the_documented_defaults():
    s = Settings.from_environment({})
    assert s.database_url is None and s.dagster_pg_url is None
    assert s.state_dir == PROJECT_DIR / ".warehouse"
    assert s.dagster_home == PROJECT_DIR / ".warehouse" / "dagster_home"
    assert s.landing_dir == PROJECT_DIR / "data" / "landing"
    assert s.layouts_dir == PROJECT_DIR / "data" / "layouts"
    assert s.earliest_date == dt.date(2000, 1, 1)
    assert s.fakestore_base_url == "https://fakestoreapi.com"
    assert (s.fakestore_connect_timeout, s.fakestore_read_timeout, s.fakestore_max_attempts) == (5.0, 20.0, 5)
    assert (s.fakestore_backoff_seconds, s.fakestore_deadline_seconds) == (0.5, 120.0)
    assert (s.products_cron, s.schedule_timezone) == ("0 6 * * *", "UTC")
    assert (s.sensor_settle_seconds, s.sensor_interval_seconds) == (3.0, 5)
    assert all(source == "default" for source in s.sources.values())


def test_every_variable_maps_to_a_field_and_has_help():
    s = Settings.from_environment({})
    for variable in VARIABLES:
        assert hasattr(s, variable.attribute), variable.name
        assert variable.help.endswith(".") and len(variable.help) > 20, variable.name


def test_values_come_from_the_given_environment_not_the_process(monkeypatch):
    monkeypatch.setenv("WAREHOUSE_LANDING_DIR", "/from/the/process")
    s = Settings.from_environment({"WAREHOUSE_LANDING_DIR": "drops", "WAREHOUSE_MAX_FILES_PER_RUN": "7"})
    assert s.landing_dir == PROJECT_DIR / "drops"
    assert s.max_files_per_run == 7
    assert s.sources["WAREHOUSE_LANDING_DIR"] == "environment"
    assert Settings.from_environment().landing_dir == Path("/from/the/process")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WAREHOUSE_EARLIEST_DATE", "yesterday", "WAREHOUSE_EARLIEST_DATE='yesterday' is not an ISO date"),
        ("FAKESTORE_MAX_ATTEMPTS", "0", "FAKESTORE_MAX_ATTEMPTS='0' must be at least 1"),
        ("FAKESTORE_READ_TIMEOUT", "soon", "FAKESTORE_READ_TIMEOUT='soon' is not a number"),
        ("WAREHOUSE_SCHEDULE_TIMEZONE", "Mars/Olympus", "is not an IANA time zone"),
        ("WAREHOUSE_PRODUCTS_CRON", "every day", "is not a cron expression of five fields"),
        ("WAREHOUSE_CSV_CHUNK_ROWS", "1.5", "is not a whole number"),
    ],
)
def test_a_bad_value_names_the_variable(name, value, message):
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_environment({name: value})


def test_describe_masks_secrets_and_shows_values_in_effect():
    s = Settings.from_environment({"WAREHOUSE_DATABASE_URL": "postgresql://loader:hunter2-xyz@db:5432/shop"})
    rows = {name: (shown, source) for name, shown, source in s.describe({"DAGSTER_HOME": "/somewhere"})}
    assert rows["WAREHOUSE_DATABASE_URL"] == ("postgresql://loader:***@db:5432/shop", "environment")
    assert rows["DAGSTER_HOME"] == ("/somewhere", "in effect")
    assert "hunter2-xyz" not in repr(rows)


def test_a_secret_is_marked_as_from_the_process_environment_only_when_it_is(monkeypatch):
    monkeypatch.setenv("WAREHOUSE_DATABASE_URL", "postgresql://u:p@h/d")
    assert "WAREHOUSE_DATABASE_URL" in Settings.from_environment().secrets_in_process_environment
    assert not Settings.from_environment(
        {"WAREHOUSE_DATABASE_URL": "postgresql://u:p@h/d"}
    ).secrets_in_process_environment


def test_the_alert_settings_default_and_the_webhook_is_masked():
    s = Settings.from_environment({})
    assert (s.alert_webhook_url, s.ui_url, s.alert_quarantine_share) == (None, "http://localhost:3000", 0.05)
    hook = "https://hooks.slack.com/services/T000/B000/s3cr3t-token"
    rows = {
        name: shown for name, shown, _ in Settings.from_environment({"WAREHOUSE_ALERT_WEBHOOK_URL": hook}).describe()
    }
    assert rows["WAREHOUSE_ALERT_WEBHOOK_URL"] == "https://hooks.slack.com/***"
    assert "s3cr3t" not in repr(rows)
    with pytest.raises(SettingsError, match="must be a share between 0 and 1"):
        Settings.from_environment({"WAREHOUSE_ALERT_QUARANTINE_SHARE": "5"})
