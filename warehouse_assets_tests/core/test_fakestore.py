"""The FakeStore client against a real HTTP server on 127.0.0.1 and against snapshot files.

Each test starts a stdlib ThreadingHTTPServer that plays a scripted list of replies and records
when each request arrived, so retries, Retry-After and timeouts are checked on the wire, not by
mocking requests or urllib3.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from warehouse_assets.core.fakestore import FakeStoreClient, FakeStoreError
from warehouse_assets_tests.support.http_server import PRODUCTS, Reply
from warehouse_assets_tests.support.paths import PROJECT_DIR, REALDATA

pytestmark = pytest.mark.usefixtures("no_proxies")

BACKOFF = 0.01


def client(base_url: str, **overrides: object) -> FakeStoreClient:
    config: dict[str, object] = {
        "base_url": base_url,
        "project_dir": PROJECT_DIR,
        "connect_timeout": 1.0,
        "read_timeout": 2.0,
        "max_attempts": 5,
        "backoff_seconds": BACKOFF,
        "deadline_seconds": 60.0,
    }
    config.update(overrides)
    return FakeStoreClient(**config)  # type: ignore[arg-type]


def backoff_total(attempts: int, factor: float) -> float:
    """The longest urllib3 2.x sleeps between `attempts` tries: 0, then factor*2**(n-1) + jitter."""
    return sum(factor * 2 ** (n - 1) + factor for n in range(2, attempts))


# --- HTTP --------------------------------------------------------------------------------------


def test_real_fakestore_response_comes_back_as_is(serve) -> None:
    path = REALDATA / "fakestore_products.json"
    if not path.is_file():
        pytest.skip(f"needs the real capture {path} (beside the checkout, in ../shared/realdata)")
    expected = json.loads(path.read_bytes())
    server = serve(Reply(body=path.read_bytes()))

    fetched = client(server.base_url).fetch_products()

    assert fetched.payload == expected
    assert len(fetched.payload) == 20
    assert fetched.source == server.products_url
    assert fetched.attempts == 1
    assert fetched.elapsed_seconds > 0
    [request] = server.seen
    assert request.path == "/products"
    assert request.headers["User-Agent"] == "warehouse-assets/0.2"
    assert request.headers["Accept"] == "application/json"


def test_trailing_slash_in_base_url_is_not_doubled(serve) -> None:
    server = serve(Reply())
    client(server.base_url + "/").fetch_products()
    assert [s.path for s in server.seen] == ["/products"]


def test_5xx_then_200_is_retried_until_it_succeeds(serve) -> None:
    server = serve(Reply(500), Reply(502), Reply(503), Reply())

    fetched = client(server.base_url).fetch_products()

    assert fetched.payload == PRODUCTS
    assert len(server.seen) == 4
    assert fetched.attempts == 4


@pytest.mark.parametrize("status", [504, 520, 521, 522, 523, 524])
def test_gateway_and_cdn_statuses_are_retried(serve, status: int) -> None:
    server = serve(Reply(status), Reply())
    fetched = client(server.base_url).fetch_products()
    assert fetched.payload == PRODUCTS
    assert (len(server.seen), fetched.attempts) == (2, 2)


def test_retry_after_is_waited_for(serve) -> None:
    server = serve(Reply(429, headers={"Retry-After": "1"}), Reply())

    fetched = client(server.base_url).fetch_products()

    assert fetched.payload == PRODUCTS
    first, second = server.seen
    # The backoff alone would retry after ~0 s; only the header explains a one-second gap.
    assert second.at - first.at >= 0.9
    assert fetched.attempts == 2


def test_server_that_never_answers_fails_in_bounded_time(serve) -> None:
    server = serve(Reply(delay=30))
    connect, read, attempts = 0.5, 0.3, 3
    bound = attempts * (connect + read) + backoff_total(attempts, BACKOFF) + 1.0

    started = time.monotonic()
    with pytest.raises(FakeStoreError) as caught:
        client(server.base_url, connect_timeout=connect, read_timeout=read, max_attempts=attempts).fetch_products()
    elapsed = time.monotonic() - started

    assert elapsed < bound
    assert elapsed >= attempts * read * 0.9  # every attempt waited out its read timeout
    assert len(server.seen) == attempts
    message = str(caught.value)
    assert server.products_url in message
    assert "3 attempts" in message
    assert "timed out" in message.lower()


def test_persistent_503_gives_up_naming_url_and_status(serve) -> None:
    server = serve(Reply(503, body=b"<html>Service Unavailable</html>", content_type="text/html"))

    with pytest.raises(FakeStoreError) as caught:
        client(server.base_url, max_attempts=3).fetch_products()

    message = str(caught.value)
    assert server.products_url in message
    assert "503" in message
    assert "3 attempts" in message
    assert len(server.seen) == 3


def test_404_is_not_retried(serve) -> None:
    server = serve(Reply(404, body=b"Not Found", content_type="text/plain"))

    with pytest.raises(FakeStoreError, match="404") as caught:
        client(server.base_url).fetch_products()

    assert len(server.seen) == 1
    assert "1 attempt" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "content_type", "mentions"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "text/html", ["text/html", "<html>"]),
        (b'[{"id": 1,', "application/json", ["not valid JSON", '[{"id": 1,']),
        (b"null", "application/json", ["JSON null"]),
        (b"", "application/json", ["empty body"]),
        (b'{"products": []}', "application/json", ["a JSON object", '{"products"']),
    ],
    ids=["html", "truncated", "null", "empty", "object"],
)
def test_200_without_a_json_array_is_an_error(serve, body: bytes, content_type: str, mentions: list[str]) -> None:
    server = serve(Reply(body=body, content_type=content_type))

    with pytest.raises(FakeStoreError) as caught:
        client(server.base_url).fetch_products()

    message = str(caught.value)
    assert "expected a JSON array" in message
    assert server.products_url in message
    for text in mentions:
        assert text in message
    assert len(server.seen) == 1


def test_long_bodies_are_cut_in_the_message(serve) -> None:
    server = serve(Reply(body=b"<html>" + b"x" * 5000 + b"</html>", content_type="text/html"))
    with pytest.raises(FakeStoreError) as caught:
        client(server.base_url).fetch_products()
    assert "x" * 74 in str(caught.value)
    assert len(str(caught.value)) < 400


def test_connection_refused_names_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Closed again: nothing listens on the port now.
    url = f"http://127.0.0.1:{port}"

    with pytest.raises(FakeStoreError) as caught:
        client(url, max_attempts=2).fetch_products()

    message = str(caught.value)
    assert f"could not reach {url}/products after 2 attempts: connection refused" in message
    # One line that says what to do offline, not a trace.
    assert "set FAKESTORE_BASE_URL=data/sample/products.json to use the bundled snapshot" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("replies", "max_attempts"),
    [
        ([Reply()], 1),
        ([Reply(body=b"null")], 1),
        ([Reply(404, body=b"Not Found", content_type="text/plain")], 1),
        ([Reply(503, body=b"busy", content_type="text/plain")], 2),
    ],
    ids=["ok", "bad-body", "404", "503-exhausted"],
)
def test_connections_are_closed_when_fetch_returns(serve, replies: list[Reply], max_attempts: int) -> None:
    server = serve(*replies)
    try:
        outcome: object = client(server.base_url, max_attempts=max_attempts).fetch_products()
    except FakeStoreError as exc:
        outcome = exc  # kept, as a caller that logs or re-raises it would keep it
    assert server.seen
    assert server.wait_until_no_connections(2.0), f"socket left open after {outcome!r}"


# --- snapshots ---------------------------------------------------------------------------------


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    path = tmp_path / "products.json"
    path.write_text(json.dumps(PRODUCTS), encoding="utf-8")
    return path


def test_snapshot_file_path(snapshot: Path) -> None:
    fetched = client(str(snapshot)).fetch_products()
    assert fetched.payload == PRODUCTS
    assert fetched.source == str(snapshot)
    assert fetched.attempts == 1


def test_snapshot_file_url(snapshot: Path) -> None:
    fetched = client(snapshot.as_uri()).fetch_products()
    assert fetched.payload == PRODUCTS
    assert fetched.source == str(snapshot)


def test_snapshot_file_url_with_escaped_characters(tmp_path: Path) -> None:
    path = tmp_path / "my snapshots" / "products.json"
    path.parent.mkdir()
    path.write_text(json.dumps(PRODUCTS), encoding="utf-8")
    assert "%20" in path.as_uri()
    assert client(path.as_uri()).fetch_products().payload == PRODUCTS


def test_snapshot_directory_means_its_products_json(snapshot: Path) -> None:
    fetched = client(str(snapshot.parent)).fetch_products()
    assert fetched.payload == PRODUCTS
    assert fetched.source == str(snapshot)


def test_relative_snapshot_path_is_taken_from_the_project_folder(
    snapshot: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    relative = os.path.relpath(snapshot, PROJECT_DIR)
    assert not Path(relative).is_absolute()

    assert client(relative).fetch_products().payload == PRODUCTS


def test_missing_snapshot_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(FakeStoreError) as caught:
        client(str(missing)).fetch_products()
    assert str(missing) in str(caught.value)


def test_directory_without_products_json_names_the_file_looked_for(tmp_path: Path) -> None:
    with pytest.raises(FakeStoreError) as caught:
        client(str(tmp_path)).fetch_products()
    assert str(tmp_path / "products.json") in str(caught.value)


def test_snapshot_holding_an_object_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "products.json"
    path.write_text('{"products": []}', encoding="utf-8")
    with pytest.raises(FakeStoreError) as caught:
        client(path.as_uri()).fetch_products()
    message = str(caught.value)
    assert str(path) in message
    assert "expected a JSON array" in message


def test_unsupported_scheme_is_refused() -> None:
    with pytest.raises(FakeStoreError, match="ftp://example.invalid"):
        client("ftp://example.invalid/products").fetch_products()


def test_max_attempts_below_one_is_refused(serve) -> None:
    server = serve(Reply())
    with pytest.raises(ValueError, match="max_attempts"):
        client(server.base_url, max_attempts=0).fetch_products()
    assert server.seen == []


# --- the deadline ------------------------------------------------------------------------------


def test_a_body_trickling_past_the_deadline_is_cut_at_the_deadline(serve) -> None:
    # One byte a second would take minutes; every single read is well inside the read timeout.
    server = serve(Reply(body=b"[" + b" " * 600 + b"]", trickle=1.0))
    started = time.monotonic()
    with pytest.raises(FakeStoreError) as caught:
        client(server.base_url, deadline_seconds=3.0, read_timeout=5.0).fetch_products()
    elapsed = time.monotonic() - started
    assert 3.0 <= elapsed < 5.0, elapsed
    assert "within 3 s (FAKESTORE_DEADLINE_SECONDS)" in str(caught.value) or "after 3 s" in str(caught.value)


def test_retries_stop_at_the_deadline(serve) -> None:
    server = serve(Reply(503, headers={"Retry-After": "2"}))
    started = time.monotonic()
    with pytest.raises(FakeStoreError):
        client(server.base_url, deadline_seconds=3.0, max_attempts=10).fetch_products()
    assert time.monotonic() - started < 4.5
    assert 2 <= len(server.seen) <= 3
