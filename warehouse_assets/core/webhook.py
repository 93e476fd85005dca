"""Posting an alert to an incoming webhook, in bounded time.

An alert must never hold up or fail what it reports on: each attempt has a connect and a read
timeout, urllib3's `Retry` makes at most `attempts` of them (on connection errors, timeouts and
429/5xx answers), and whatever still goes wrong is raised as one `WebhookError` whose message
names the webhook by scheme and host only (its path is the secret).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util import Retry

from warehouse_assets.core.urls import mask_url

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
USER_AGENT = "warehouse-assets/0.2"
# The loggers that quote a request's path: each attempt, each retry.
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry")


class _MaskSecret(logging.Filter):
    """urllib3 logs each retry with the request's path, which for a webhook is its secret."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.secret in message:
            record.msg, record.args = message.replace(self.secret, "/***"), ()
        return True


@contextmanager
def _masked_in_urllib3_logs(url: str) -> Iterator[None]:
    parts = urlsplit(url)
    secret = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(secret) <= 1:
        yield
        return
    loggers = [logging.getLogger(name) for name in _URLLIB3_LOGGERS]
    mask = _MaskSecret(secret)
    for logger in loggers:
        logger.addFilter(mask)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(mask)


def _timed_out(exc: requests.RequestException) -> bool:
    """A read timeout on the last attempt reaches requests as a ConnectionError around it."""
    if isinstance(exc, requests.Timeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, ReadTimeoutError)


class WebhookError(RuntimeError):
    """The alert could not be delivered; the message says where (masked) and why, in one line."""


@dataclass(frozen=True)
class WebhookClient:
    url: str
    timeout_seconds: float = 5.0
    attempts: int = 3
    backoff_seconds: float = 0.5

    def _session(self) -> requests.Session:
        retry = Retry(
            total=self.attempts - 1,
            status_forcelist=RETRY_STATUSES,
            allowed_methods={"POST"},
            backoff_factor=self.backoff_seconds,
            backoff_max=5,
            # A rate-limited webhook's Retry-After could be minutes; the bound matters more.
            respect_retry_after_header=False,
        )
        session = requests.Session()
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        return session

    def post(self, payload: dict[str, Any]) -> int:
        """Post `payload` as JSON; returns the HTTP status of the answer that was accepted."""
        where = mask_url(self.url)
        try:
            with _masked_in_urllib3_logs(self.url), self._session() as session:
                response = session.post(
                    self.url,
                    json=payload,
                    timeout=(self.timeout_seconds, self.timeout_seconds),
                    headers={"User-Agent": USER_AGENT},
                )
        except requests.exceptions.RetryError:
            raise WebhookError(
                f"the webhook {where} kept answering with an error status after {self.attempts} attempts"
            ) from None
        except requests.RequestException as exc:
            if _timed_out(exc):
                raise WebhookError(
                    f"the webhook {where} did not answer within {self.timeout_seconds:g} s, {self.attempts} attempts"
                ) from None
            # Not str(exc): requests quotes the URL's path, which is the webhook's secret.
            reason = "connection failed" if isinstance(exc, requests.ConnectionError) else type(exc).__name__
            raise WebhookError(
                f"could not reach the webhook {where} after {self.attempts} attempts ({reason})"
            ) from None
        if response.status_code >= 400:
            raise WebhookError(f"the webhook {where} refused the alert: HTTP {response.status_code}")
        return response.status_code
