"""Alerts: Dagster's run status sensors post one message per run that needs someone's attention.

`warehouse_run_failure_alert` (a run failure sensor) tells of every failed run: its failed files,
the failed checks that blocked it, its other failed steps and its heavily quarantined files, in
one message. `warehouse_run_success_alert` (a run status sensor on SUCCESS) tells of a run that
succeeded with a failed ERROR check or a file whose quarantined share is above
WAREHOUSE_ALERT_QUARANTINE_SHARE. Between them, each finished run is looked at once.

Both read the run's events from the instance, so they see runs launched by the sensor, the
schedules, the UI, and `warehouse load` (which runs its jobs in its own process, in the same run
storage; such runs have no code location, hence `monitor_all_code_locations`). Without a daemon
there is no sensor to do it, so the CLI alerts its own runs through `alert_runs`, with the same
findings and message; a run carries the ALERT_TAG once its alert was posted, and neither path
posts for a run that has it.

The sensors are running by default when WAREHOUSE_ALERT_WEBHOOK_URL is set and stopped otherwise
(started by hand without a webhook, they post nothing). A webhook that is down costs one bounded
attempt series (core.webhook) and a warning in the tick's log; it never fails a run.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import dagster as dg

from warehouse_assets.core.alerts import FailedCheck, FileQuarantine, RunFindings, alert_text, webhook_payload
from warehouse_assets.core.settings import Settings
from warehouse_assets.core.webhook import WebhookClient, WebhookError

ALERT_TAG = "warehouse/alert"
ALERT_SENT = "sent"
FAILURE_SENSOR = "warehouse_run_failure_alert"
SUCCESS_SENSOR = "warehouse_run_success_alert"
INTERVAL_SECONDS = 10
# The daemon beats every 30 s; a sensor daemon heard from within this is taken as running.
DAEMON_ALIVE_SECONDS = 120
# The step of blocking checks that failed: the checks themselves are named instead.
BLOCKED_BY_CHECK = "DagsterAssetCheckFailedError"
_EVENT_TYPES = {
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
}


def root_cause(error) -> str:
    """The first line of the innermost error of a SerializableErrorInfo."""
    while error.cause is not None:
        error = error.cause
    message = (error.message or "").strip()
    return message.splitlines()[0] if message else error.cls_name


def _run_events(instance: dg.DagsterInstance, run_id: str) -> Iterator[dg.DagsterEvent]:
    cursor = None
    while True:
        page = instance.get_records_for_run(run_id, cursor=cursor, of_type=_EVENT_TYPES, limit=1000)
        for record in page.records:
            if record.event_log_entry.dagster_event is not None:
                yield record.event_log_entry.dagster_event
        if not page.has_more:
            return
        cursor = page.cursor


def _value(metadata, key: str, default=0):
    entry = metadata.get(key)
    return entry.value if entry is not None else default


def read_findings(instance: dg.DagsterInstance, run: dg.DagsterRun) -> RunFindings:
    """What an alert about `run` needs, from the events it stored."""
    failed_files: dict[str, str] = {}
    step_errors: list[str] = []
    checks: list[FailedCheck] = []
    files: dict[str, FileQuarantine] = {}
    for event in _run_events(instance, run.run_id):
        data = event.event_specific_data
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            failure = getattr(data, "user_failure_data", None)
            listed = _value(failure.metadata, "failed_files", None) if failure is not None else None
            if listed:
                failed_files.update(listed)
            elif data.error is not None and data.error.cls_name != BLOCKED_BY_CHECK:
                step_errors.append(f"{event.step_key}: {root_cause(data.error)}")
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            if not data.passed and data.severity == dg.AssetCheckSeverity.ERROR:
                checks.append(
                    FailedCheck(
                        asset=data.asset_key.to_user_string(),
                        name=data.check_name,
                        scope=str(_value(data.metadata, "scope", "")),
                        failing=str(_value(data.metadata, "failing", "")),
                    )
                )
        elif event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            m = data.materialization
            if m.asset_key.to_user_string() == "fact_sales" and m.partition and "rows_quarantined" in m.metadata:
                files[m.partition] = FileQuarantine(
                    file=m.partition,
                    rows_loaded=int(_value(m.metadata, "rows_loaded")),
                    rows_quarantined=int(_value(m.metadata, "rows_quarantined")),
                    by_reason=dict(_value(m.metadata, "quarantined_by_reason", {}) or {}),
                )
    return RunFindings(
        run_id=run.run_id,
        # What the UI's Materialize button and backfills launch is Dagster's implicit asset job.
        job_name="asset materialization" if run.job_name.startswith("__ASSET_JOB") else run.job_name,
        failed=run.status == dg.DagsterRunStatus.FAILURE,
        launched_by=run.tags.get("launched_by") or run.tags.get("dagster/schedule_name"),
        failed_files=failed_files,
        failed_checks=tuple(checks),
        step_errors=tuple(dict.fromkeys(step_errors)),
        files=tuple(files.values()),
    )


class Delivery(NamedTuple):
    sent: bool
    line: str  # what happened, in one line, for the tick's log or the command's summary


def deliver(instance: dg.DagsterInstance, run: dg.DagsterRun, settings: Settings, log=None) -> Delivery | None:
    """Post the alert about a finished run, if it needs one and has none yet; `log` (a logger,
    optional) is told what happened.

    None when there was nothing to send; never raises because of the webhook.
    """
    if not settings.alert_webhook_url:
        return None
    current = instance.get_run_by_id(run.run_id) or run
    if current.tags.get(ALERT_TAG) == ALERT_SENT:
        return None
    text = alert_text(
        read_findings(instance, current), ui_url=settings.ui_url, quarantine_share=settings.alert_quarantine_share
    )
    if text is None:
        return None
    client = WebhookClient(settings.alert_webhook_url, timeout_seconds=settings.alert_timeout_seconds)
    try:
        client.post(webhook_payload(text))
    except WebhookError as exc:
        line = f"the alert about run {run.run_id[:8]} was not delivered: {exc}"
        if log is not None:
            log.warning(line)
        return Delivery(False, line)
    instance.add_run_tags(run.run_id, {ALERT_TAG: ALERT_SENT})
    line = f"alert posted: {text.splitlines()[0]}"
    if log is not None:
        log.info(line)
    return Delivery(True, line)


def sensor_daemon_running(instance: dg.DagsterInstance) -> bool:
    beat = instance.get_daemon_heartbeats().get("SENSOR")
    return beat is not None and time.time() - beat.timestamp < DAEMON_ALIVE_SECONDS


def alert_runs(instance: dg.DagsterInstance, settings: Settings, run_ids: Iterable[str]) -> list[str]:
    """For a command that ran jobs in its own process: alert its finished runs, unless a daemon is
    running (its sensors will, and posting here too would tell everything twice). Returns a line
    per alert, for the command's summary."""
    if not settings.alert_webhook_url or sensor_daemon_running(instance):
        return []
    lines = []
    for run_id in run_ids:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.is_finished:
            delivery = deliver(instance, run, settings)
            if delivery:
                lines.append(delivery.line)
    return lines


def build_alert_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    status = dg.DefaultSensorStatus.RUNNING if settings.alert_webhook_url else dg.DefaultSensorStatus.STOPPED
    where = "WAREHOUSE_ALERT_WEBHOOK_URL" + ("" if settings.alert_webhook_url else " (unset: posts nothing)")

    def react(context: dg.RunStatusSensorContext) -> dg.SkipReason | None:
        delivery = deliver(context.instance, context.dagster_run, settings, context.log)
        # A webhook that is down: this run's alert is given up, and the tick ends here, so one
        # tick waits on at most one unreachable webhook (the next tick goes on from the next run).
        return dg.SkipReason(delivery.line) if delivery and not delivery.sent else None

    @dg.run_failure_sensor(
        name=FAILURE_SENSOR,
        monitor_all_code_locations=True,
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=status,
        description=f"Posts one message to {where} for every failed run: the files that failed, "
        "the checks that blocked it, the other failed steps, and the files quarantined above "
        "WAREHOUSE_ALERT_QUARANTINE_SHARE, with a link to the run (WAREHOUSE_UI_URL).",
    )
    def warehouse_run_failure_alert(context: dg.RunFailureSensorContext):
        return react(context)

    @dg.run_status_sensor(
        name=SUCCESS_SENSOR,
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitor_all_code_locations=True,
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=status,
        description=f"Posts one message to {where} for a successful run with a failed ERROR check or a "
        "file whose quarantined share of rows is above WAREHOUSE_ALERT_QUARANTINE_SHARE.",
    )
    def warehouse_run_success_alert(context: dg.RunStatusSensorContext):
        return react(context)

    return [warehouse_run_failure_alert, warehouse_run_success_alert]
