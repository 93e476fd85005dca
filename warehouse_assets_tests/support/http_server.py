"""A scripted HTTP server on 127.0.0.1 for the FakeStore and webhook tests: plays a list of
replies and records when each request arrived (and what was posted), so retries, Retry-After,
timeouts and alert payloads are checked on the wire.

`serve` and `no_proxies` are fixtures (registered through support.fixtures).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

PRODUCTS = [{"id": 1, "title": "Backpack", "price": 109.95, "rating": {"rate": 3.9, "count": 120}}]


@dataclass
class Reply:
    status: int = 200
    body: bytes = json.dumps(PRODUCTS).encode()
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0  # seconds between the bytes of the body (0: all at once)


@dataclass
class Seen:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes = b""

    def json(self):
        return json.loads(self.body)


class ScriptedServer(ThreadingHTTPServer):
    # Non-daemon handler threads are joined by server_close(), so none outlives its test.
    daemon_threads = False

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies = list(replies)
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        self.open_connections = 0
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def products_url(self) -> str:
        return self.base_url + "/products"

    def next_reply(self, handler: BaseHTTPRequestHandler, body: bytes = b"") -> Reply:
        with self._lock:
            self.seen.append(Seen(time.monotonic(), handler.path, dict(handler.headers), body))
            # The last reply repeats, so "always 503" is a script of one.
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def count_connection(self, change: int) -> None:
        with self._lock:
            self.open_connections += change

    def wait_until_no_connections(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self.open_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.open_connections == 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5  # an idle keep-alive connection cannot hold up server_close() for long

    def setup(self) -> None:
        super().setup()
        self.server.count_connection(+1)  # type: ignore[attr-defined]

    def finish(self) -> None:
        self.server.count_connection(-1)  # type: ignore[attr-defined]
        super().finish()

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def _answer(self, body: bytes) -> None:
        server: ScriptedServer = self.server  # type: ignore[assignment]
        reply = server.next_reply(self, body)
        if reply.delay and server.stopping.wait(reply.delay):
            self.close_connection = True
            return
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if not reply.trickle:
                self.wfile.write(reply.body)
                return
            for i in range(len(reply.body)):
                self.wfile.write(reply.body[i : i + 1])
                self.wfile.flush()
                if server.stopping.wait(reply.trickle):
                    return
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up on us, as the timeout test wants

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy from the developer's environment would stand between the client and 127.0.0.1.
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def serve() -> Iterator:
    started: list[tuple[ScriptedServer, threading.Thread]] = []

    def start(*replies: Reply) -> ScriptedServer:
        server = ScriptedServer(list(replies))
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        started.append((server, thread))
        return server

    yield start
    for server, thread in started:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        assert not thread.is_alive()
