"""The FakeStore API client: fetches the product list the warehouse builds dim_product from.

The source is either the API (`GET {base_url}/products`) or, for offline loads, a JSON snapshot
named by a path or a `file://` URL. Either way the result must be a JSON array; its items are
handed on untouched, since checking them is the products asset's job.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import dagster as dg
import requests
from pydantic import Field
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError
from urllib3.util import Retry

from warehouse_assets import settings

USER_AGENT = "warehouse-assets/0.1"
# 520-524 are Cloudflare's "origin unreachable" family, which the API's CDN has served for hours.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
# Without a cap, doubling delays (or a CDN's Retry-After) could stretch one outage into hours.
MAX_WAIT_SECONDS = 30
PREVIEW_CHARS = 80
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


class FakeStoreClient(dg.ConfigurableResource):
    """Reads the FakeStore product list over HTTP, with retries, or from a local snapshot."""

    base_url: str = Field(
        default_factory=lambda: settings.get("FAKESTORE_BASE_URL"),
        description="The API's base URL, or a JSON snapshot: a file, a folder holding "
        "products.json, or a file:// URL. Relative paths are taken from the project folder.",
    )
    connect_timeout: float = Field(
        default_factory=lambda: settings.get_float("FAKESTORE_CONNECT_TIMEOUT"),
        description="Seconds to wait for a connection, per attempt.",
    )
    read_timeout: float = Field(
        default_factory=lambda: settings.get_float("FAKESTORE_READ_TIMEOUT"),
        description="Seconds to wait for each read from the socket, per attempt.",
    )
    max_attempts: int = Field(
        default_factory=lambda: settings.get_int("FAKESTORE_MAX_ATTEMPTS"),
        description="Attempts per request, the first one included.",
    )
    backoff_seconds: float = Field(
        default_factory=lambda: settings.get_float("FAKESTORE_BACKOFF_SECONDS"),
        description="urllib3 backoff factor: retries wait 0, 2x, 4x, 8x... this, plus jitter.",
    )

    def fetch_products(self) -> FetchedProducts:
        started = time.monotonic()
        scheme = urlsplit(self.base_url).scheme.lower()
        if scheme in ("http", "https"):
            source = self.base_url.rstrip("/") + "/products"
            # Parsed here, not in _get: an error raised while the response is still a local
            # would keep its socket open for as long as the exception is kept.
            body, content_type, attempts = self._get(source)
            payload = _json_array(body, f"GET {source}", content_type)
        else:
            path = _snapshot_path(self.base_url)
            payload, source, attempts = _read_snapshot(path), str(path), 1
        return FetchedProducts(payload, source, attempts, time.monotonic() - started)

    def _retry(self) -> Retry:
        return Retry(
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
        )

    def _get(self, url: str) -> tuple[bytes, str, int]:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        with requests.Session() as session:
            session.mount("http://", HTTPAdapter(max_retries=self._retry()))
            session.mount("https://", HTTPAdapter(max_retries=self._retry()))
            session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
            try:
                response = session.get(url, timeout=(self.connect_timeout, self.read_timeout), stream=True)
            except requests.RequestException as exc:
                raise _request_failed(url, exc, self.max_attempts) from exc
            with response:
                # urllib3 hands each attempt's response the Retry state it was made with.
                retries = getattr(response.raw, "retries", None)
                attempts = len(retries.history) + 1 if retries is not None else 1
                if not response.ok:
                    status = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
                    raise FakeStoreError(f"GET {url} failed after {_n_attempts(attempts)}: last status {status}")
                try:
                    # Read inside the try: a body cut off mid-way surfaces here, not in get().
                    body = response.content
                except requests.RequestException as exc:
                    raise FakeStoreError(
                        f"GET {url}: the body could not be read after HTTP "
                        f"{response.status_code} ({_n_attempts(attempts)}): {exc}"
                    ) from exc
                content_type = response.headers.get("Content-Type") or "no Content-Type"
        return body, content_type, attempts


def _n_attempts(n: int) -> str:
    return f"{n} attempt" if n == 1 else f"{n} attempts"


def _request_failed(url: str, exc: requests.RequestException, max_attempts: int) -> FakeStoreError:
    cause = exc.args[0] if exc.args else exc
    if isinstance(cause, MaxRetryError):
        # MaxRetryError only comes once `total` is used up, i.e. after every allowed attempt.
        return FakeStoreError(f"GET {url} failed after {_n_attempts(max_attempts)}: {cause.reason}")
    return FakeStoreError(f"GET {url} failed: {exc}")


def _snapshot_path(base_url: str) -> Path:
    parts = urlsplit(base_url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise FakeStoreError(f"{base_url}: only local file:// URLs are supported")
        path = settings.project_path(url2pathname(parts.path))
    # A one-letter "scheme" is a Windows drive letter, so that is a path too.
    elif len(scheme) <= 1:
        path = settings.project_path(base_url)
    else:
        raise FakeStoreError(f"{base_url}: not an http(s) URL, a file:// URL or a path to a JSON snapshot")
    return path / "products.json" if path.is_dir() else path


def _read_snapshot(path: Path) -> list[Any]:
    try:
        body = path.read_bytes()
    except OSError as exc:
        # A base URL typed without http:// lands here, so say what the setting accepts.
        hint = " (base_url takes an http(s) URL or a snapshot path)" if not path.exists() else ""
        raise FakeStoreError(f"cannot read the products snapshot {path}: {exc.strerror or exc}{hint}") from exc
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
