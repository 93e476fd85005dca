"""What an alert says: the findings of one run, and the message posted about them.

A run is alerted when it failed, when an ERROR check failed in it, or when one of its files had
more than the configured share of its rows quarantined. Everything found in one run goes into one
message, so a run that failed because a blocking check failed is told once, naming the check.

The message is a JSON object with a top-level "text", the one shape both Slack and Microsoft Teams
incoming webhooks accept. Its text uses only what both render: paragraphs apart by a blank line
(Teams joins lines that are not), "- " list items and bare links, which both make clickable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# A run of hundreds of files must still make a message people read (and webhooks accept: Slack
# truncates text beyond 40,000 characters, Teams refuses payloads over 28 KB).
MAX_LISTED = 10
MAX_LINE_CHARS = 300


@dataclass(frozen=True)
class FailedCheck:
    asset: str
    name: str
    scope: str  # "whole warehouse", or the run's files
    failing: str  # the non-zero failure counts, e.g. "negative_amount=1, total_mismatch=2"


@dataclass(frozen=True)
class FileQuarantine:
    file: str
    rows_loaded: int
    rows_quarantined: int
    by_reason: Mapping[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.rows_loaded + self.rows_quarantined

    @property
    def share(self) -> float:
        return self.rows_quarantined / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class RunFindings:
    """What one finished run did, as far as alerts are concerned."""

    run_id: str
    job_name: str
    failed: bool
    launched_by: str | None = None
    failed_files: Mapping[str, str] = field(default_factory=dict)  # file -> its error, in one line
    failed_checks: tuple[FailedCheck, ...] = ()
    step_errors: tuple[str, ...] = ()  # "step: root cause" of failed steps that are neither of the above
    files: tuple[FileQuarantine, ...] = ()  # every file the run loaded

    def over_threshold(self, share: float) -> list[FileQuarantine]:
        return [f for f in self.files if f.share > share]


def run_link(ui_url: str, run_id: str) -> str:
    return f"{ui_url.rstrip('/')}/runs/{run_id}"


def _percent(share: float) -> str:
    return f"{share * 100:.1f} %".replace(".0 %", " %")


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LINE_CHARS else text[: MAX_LINE_CHARS - 3] + "..."


def _listed(lines: list[str]) -> list[str]:
    shown = [f"- {_clip(line)}" for line in lines[:MAX_LISTED]]
    if len(lines) > MAX_LISTED:
        shown.append(f"- and {len(lines) - MAX_LISTED} more (see the run)")
    return shown


def _headline(findings: RunFindings, heavy: list[FileQuarantine]) -> str:
    if findings.failed:
        what = "failed"
    elif findings.failed_checks:
        what = f"finished with {len(findings.failed_checks)} failed ERROR check(s)"
    else:
        what = f"loaded {len(heavy)} file(s) with too many rows quarantined"
    by = f" (launched by {findings.launched_by})" if findings.launched_by else ""
    return f"Warehouse: run {findings.run_id[:8]} of {findings.job_name}{by} {what}"


def alert_text(findings: RunFindings, *, ui_url: str, quarantine_share: float) -> str | None:
    """The message about a run, or None when there is nothing to tell."""
    heavy = findings.over_threshold(quarantine_share)
    if not (findings.failed or findings.failed_checks or heavy):
        return None
    lines = [_headline(findings, heavy)]
    if findings.files or findings.failed_files:
        quarantined = sum(f.rows_quarantined for f in findings.files)
        loaded = sum(f.rows_loaded for f in findings.files)
        lines += [
            "",
            f"Files: {len(findings.files):,} loaded, {len(findings.failed_files):,} failed; "
            f"rows: {loaded:,} loaded, {quarantined:,} quarantined",
        ]
    if findings.failed_files:
        lines += ["", f"Failed files ({len(findings.failed_files)}):"]
        lines += _listed([m if m.startswith(file) else f"{file}: {m}" for file, m in findings.failed_files.items()])
    if findings.failed_checks:
        lines += ["", f"Failed checks ({len(findings.failed_checks)}):"]
        lines += _listed(
            [
                f"{c.asset}:{c.name} ({c.scope})" + (f": {c.failing}" if c.failing else "")
                for c in findings.failed_checks
            ]
        )
    if heavy:
        lines += ["", f"Files with more than {_percent(quarantine_share)} of their rows quarantined ({len(heavy)}):"]
        lines += _listed(
            [
                f"{f.file}: {f.rows_quarantined:,} of {f.rows:,} rows quarantined ({_percent(f.share)})"
                + (
                    " - " + ", ".join(f"{reason} {count:,}" for reason, count in _by_count(f.by_reason))
                    if f.by_reason
                    else ""
                )
                for f in sorted(heavy, key=lambda f: -f.share)
            ]
        )
    if findings.step_errors:
        lines += ["", "Failed steps:"]
        lines += _listed(list(findings.step_errors))
    lines += ["", f"Run: {run_link(ui_url, findings.run_id)}"]
    return "\n".join(lines)


def _by_count(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def webhook_payload(text: str) -> dict[str, str]:
    """The JSON body for a Slack or Teams incoming webhook."""
    return {"text": text}
