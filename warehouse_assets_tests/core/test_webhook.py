"""Posting to a webhook on 127.0.0.1: the JSON arrives, errors are retried a bounded number of
times within bounded time, and no error message or log line gives the webhook's path away."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from warehouse_assets.core.webhook import WebhookClient, WebhookError
from warehouse_assets_tests.support.http_server import Reply

SECRET = "/services/T0/B0/s3cr3t"
OK = Reply(status=200, body=b"ok", content_type="text/plain")


def test_the_payload_arrives_as_json(serve, no_proxies):
    server = serve(OK)
    assert WebhookClient(server.base_url + SECRET).post({"text": "hi"}) == 200
    (seen,) = server.seen
    assert seen.path == SECRET and seen.json() == {"text": "hi"}
    assert seen.headers["Content-Type"] == "application/json"


def test_a_5xx_is_retried_and_a_recovery_delivers(serve, no_proxies):
    server = serve(Reply(status=503, body=b"busy", content_type="text/plain"), OK)
    assert WebhookClient(server.base_url + SECRET, backoff_seconds=0.01).post({"text": "x"}) == 200
    assert len(server.seen) == 2


def test_a_refusal_is_not_retried(serve, no_proxies):
    server = serve(Reply(status=404, body=b"no such hook", content_type="text/plain"))
    with pytest.raises(WebhookError, match="refused the alert: HTTP 404"):
        WebhookClient(server.base_url + SECRET).post({"text": "x"})
    assert len(server.seen) == 1


@pytest.mark.parametrize("reply", [Reply(status=500, body=b"", content_type="text/plain"), Reply(delay=30)])
def test_a_webhook_that_is_down_fails_in_bounded_time_without_its_secret(serve, no_proxies, reply, caplog):
    server = serve(reply)
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    with pytest.raises(WebhookError) as caught:
        WebhookClient(server.base_url + SECRET, timeout_seconds=0.3, backoff_seconds=0.01).post({"text": "x"})
    assert time.monotonic() - started < 5
    assert len(server.seen) == 3
    assert "s3cr3t" not in str(caught.value) and server.base_url in str(caught.value)
    assert not any("s3cr3t" in r.getMessage() for r in caplog.records)


def test_nothing_listening_fails_quickly_without_its_secret(no_proxies):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(WebhookError, match="could not reach the webhook") as caught:
        WebhookClient(f"http://127.0.0.1:{port}{SECRET}", backoff_seconds=0.01).post({"text": "x"})
    assert "s3cr3t" not in str(caught.value)
