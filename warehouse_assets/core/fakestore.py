"""The FakeStore API client: fetches the product list the warehouse builds dim_product from.

The source is either the API (`GET {base_url}/products`) or, for offline loads, a JSON snapshot
named by a path or a `file://` URL. Either way the result must be a JSON array; its items are
handed on untouched, since judging them is the products contract's job.

Requests retry with urllib3's `Retry` (backoff with jitter, Retry-After honoured, bounded
attempts), and the whole request, retries and body included, has one deadline: a server that
trickles its body a byte a second is cut off when the deadline passes, not after hours.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util import Retry

USER_AGENT = "warehouse-assets/0.2"
# 520-524 are Cloudflare's "origin unreachable" family, which the API's CDN has served for hours.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
# Without a cap, doubling delays (or a CDN's Retry-After) could stretch one outage into hours.
MAX_WAIT_SECONDS = 30
PREVIEW_CHARS = 80
BODY_CHUNK = 64 << 10
SNAPSHOT_HINT = "set FAKESTORE_BASE_URL=data/sample/products.json to use the bundled snapshot"
_JSON_KINDS = {
    dict: "a JSON object",
    str: "a JSON string",
    int: "a JSON number",
    float: "a JSON number",
    bool: "a JSON boolean",
    type(None): "JSON null",
}


class FakeStoreError(RuntimeError):
    """The products could not be fetched, or what came back was not a JSON array."""


@dataclass
class FetchedProducts:
    payload: list[Any]
    source: str
    attempts: int
    elapsed_seconds: float


class _DeadlineRetry(Retry):
    """urllib3's Retry that also stops, and waits no longer, once the request's deadline passed."""

    def __init__(self, *args: Any, deadline: float | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def new(self, **kw: Any) -> _DeadlineRetry:
        retry = super().new(**kw)
        retry.deadline = self.deadline
        return retry

    def _remaining(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def is_exhausted(self) -> bool:
        return super().is_exhausted() or self._remaining() <= 0

    def sleep(self, response=None) -> None:
        if response is not None and self.respect_retry_after_header:
            wait = self.get_retry_after(response)
            if wait is not None:
                time.sleep(max(0.0, min(wait, self._remaining())))
                return
        time.sleep(max(0.0, min(self.get_backoff_time(), self._remaining())))


@dataclass(frozen=True)
class FakeStoreClient:
    """Reads the FakeStore product list over HTTP, with retries and a deadline, or from a snapshot.

    Relative snapshot paths are taken from `project_dir`.
    """

    base_url: str
    project_dir: Path
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    max_attempts: int = 5
    backoff_seconds: float = 0.5
    deadline_seconds: float = 120.0

    def fetch_products(self) -> FetchedProducts:
        started = time.monotonic()
        scheme = urlsplit(self.base_url).scheme.lower()
        if scheme in ("http", "https"):
            source = self.base_url.rstrip("/") + "/products"
            body, content_type, attempts = self._get_before_deadline(source)
            payload = _json_array(body, f"GET {source}", content_type)
        else:
            path = snapshot_path(self.base_url, self.project_dir)
            payload, source, attempts = _read_snapshot(path), str(path), 1
        return FetchedProducts(payload, source, attempts, time.monotonic() - started)

    def _retry(self, deadline: float) -> Retry:
        return _DeadlineRetry(
            total=self.max_attempts - 1,
            status_forcelist=RETRY_STATUSES,
            allowed_methods={"GET"},
            backoff_factor=self.backoff_seconds,
            # Spreads retries out so several runs hitting a recovering CDN do not arrive together.
            backoff_jitter=self.backoff_seconds,
            backoff_max=MAX_WAIT_SECONDS,
            respect_retry_after_header=True,
            retry_after_max=MAX_WAIT_SECONDS,
            # The final 5xx is wanted as a response, so the error can say which status it was.
            raise_on_status=False,
            deadline=deadline,
        )

    def _get_before_deadline(self, url: str) -> tuple[bytes, str, int]:
        """The request in a worker thread, abandoned at the deadline: a blocked socket read
        cannot be interrupted from outside, so the caller stops waiting instead (the worker
        ends at its next read timeout, and retries no more since its deadline has passed)."""
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        deadline = time.monotonic() + self.deadline_seconds
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["value"] = self._get(url, deadline)
            except BaseException as exc:  # handed to the caller
                outcome["error"] = exc

        worker = threading.Thread(target=work, name="fakestore-request", daemon=True)
        worker.start()
        worker.join(timeout=max(0.0, deadline - time.monotonic()) + 0.5)
        if worker.is_alive():
            raise FakeStoreError(
                f"GET {url} gave no complete answer within {self.deadline_seconds:g} s "
                f"(FAKESTORE_DEADLINE_SECONDS); the products were not refreshed"
            )
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def _get(self, url: str, deadline: float) -> tuple[bytes, str, int]:
        with requests.Session() as session:
            session.mount("http://", HTTPAdapter(max_retries=self._retry(deadline)))
            session.mount("https://", HTTPAdapter(max_retries=self._retry(deadline)))
            session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
            try:
                response = session.get(url, timeout=(self.connect_timeout, self.read_timeout), stream=True)
            except requests.RequestException as exc:
                raise _request_failed(url, exc, self.max_attempts, deadline) from None
            with response:
                # urllib3 hands each attempt's response the Retry state it was made with.
                retries = getattr(response.raw, "retries", None)
                attempts = len(retries.history) + 1 if retries is not None else 1
                if not response.ok:
                    status = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
                    raise FakeStoreError(f"GET {url} failed after {_n_attempts(attempts)}: last status {status}")
                parts = []
                try:
                    # Read inside the try: a body cut off mid-way surfaces here, not in get().
                    for part in response.iter_content(BODY_CHUNK):
                        parts.append(part)
                        if time.monotonic() > deadline:
                            raise FakeStoreError(
                                f"GET {url}: the body was still arriving after {self.deadline_seconds:g} s "
                                "(FAKESTORE_DEADLINE_SECONDS); the products were not refreshed"
                            )
                except requests.RequestException as exc:
                    raise FakeStoreError(
                        f"GET {url}: the body could not be read after HTTP "
                        f"{response.status_code} ({_n_attempts(attempts)}): {exc}"
                    ) from None
                content_type = response.headers.get("Content-Type") or "no Content-Type"
        return b"".join(parts), content_type, attempts


def _n_attempts(n: int) -> str:
    return f"{n} attempt" if n == 1 else f"{n} attempts"


def _request_failed(url: str, exc: requests.RequestException, max_attempts: int, deadline: float) -> FakeStoreError:
    cause = exc.args[0] if exc.args else exc
    if isinstance(cause, MaxRetryError):
        reason = cause.reason
        if time.monotonic() >= deadline:
            return FakeStoreError(f"could not reach {url} before the deadline: {_short(reason)}; {SNAPSHOT_HINT}")
        # MaxRetryError only comes once `total` is used up, i.e. after every allowed attempt.
        return FakeStoreError(
            f"could not reach {url} after {_n_attempts(max_attempts)}: {_short(reason)}; {SNAPSHOT_HINT}"
        )
    return FakeStoreError(f"GET {url} failed: {_short(exc)}; {SNAPSHOT_HINT}")


def _short(reason: object) -> str:
    """The root cause of a connection error in one readable line (urllib3 nests them)."""
    text = str(reason)
    for marker in (
        "Failed to resolve",
        "Name or service not known",
        "Connection refused",
        "timed out",
        "Network is unreachable",
    ):
        if marker in text:
            return {
                "Failed to resolve": "the host name could not be resolved",
                "Name or service not known": "the host name could not be resolved",
                "Connection refused": "connection refused",
                "timed out": "the connection timed out",
                "Network is unreachable": "the network is unreachable",
            }[marker]
    return text.splitlines()[0][:200]


def snapshot_path(base_url: str, project_dir: Path) -> Path:
    """The snapshot file a non-HTTP base URL names: a path (relative to the project), a folder
    holding products.json, or a local file:// URL."""
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise FakeStoreError(f"{base_url}: only local file:// URLs are supported")
        raw = Path(url2pathname(parts.path))
    # A one-letter "scheme" is a Windows drive letter, so that is a path too.
    elif len(scheme) <= 1:
        raw = Path(base_url).expanduser()
    else:
        raise FakeStoreError(f"{base_url}: not an http(s) URL, a file:// URL or a path to a JSON snapshot")
    path = raw if raw.is_absolute() else project_dir / raw
    return path / "products.json" if path.is_dir() else path


def _read_snapshot(path: Path) -> list[Any]:
    try:
        body = path.read_bytes()
    except OSError as exc:
        # A base URL typed without http:// lands here, so say what the setting accepts.
        hint = " (base_url takes an http(s) URL or a snapshot path)" if not path.exists() else ""
        raise FakeStoreError(f"cannot read the products snapshot {path}: {exc.strerror or exc}{hint}") from None
    return _json_array(body, str(path), "file")


def _json_array(body: bytes, source: str, content_type: str) -> list[Any]:
    if not body.strip():
        raise FakeStoreError(f"{source} returned an empty body ({content_type}); expected a JSON array of products")
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        got = f"text that is not valid JSON ({exc})"
    else:
        if isinstance(parsed, list):
            return parsed
        got = _JSON_KINDS.get(type(parsed), "a JSON value")
    preview = body[:PREVIEW_CHARS].decode("utf-8", errors="replace")
    raise FakeStoreError(
        f"{source} returned {got} ({content_type}), starting {preview!r}; expected a JSON array of products"
    )
