"""The one wait for a server's models (runtime.serving.serve_protocol.wait_until_ready, models_not_ready),
against a small HTTP server that answers Triton's per-model readiness: a model still loading is
waited for, said once, bounded by the timeout, and the wait ends when the server is gone."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ifan_trt.runtime.serving.serve_protocol import models_not_ready, wait_until_ready


@pytest.fixture
def server():
    """Answers GET /v2/models/NAME/ready with 200 once NAME is in `ready`, else 400."""
    ready: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            name = self.path.split("/")[3] if self.path.startswith("/v2/models/") else ""
            self.send_response(200 if name in ready and self.path.endswith("/ready") else 400)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1], ready
    httpd.shutdown()
    httpd.server_close()


def test_models_not_ready_asks_each_model(server):
    port, ready = server
    ready.add("ifan")
    assert models_not_ready("127.0.0.1", port) == ["ifan_uint16"]
    assert models_not_ready("0.0.0.0", port, ["ifan"]) == []  # a server on every interface is asked locally


def test_no_server_has_no_model_ready(server):
    port, _ = server
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    assert models_not_ready("127.0.0.1", free) == ["ifan", "ifan_uint16"]


def test_a_loading_model_is_waited_for_and_said_once(server):
    port, ready = server
    ready.add("ifan")
    threading.Timer(0.3, lambda: ready.add("ifan_uint16")).start()
    said = []
    start = time.monotonic()
    assert wait_until_ready(lambda: models_not_ready("127.0.0.1", port), 10, on_wait=said.append) == []
    assert 0.3 <= time.monotonic() - start < 5
    assert said == [["ifan_uint16"]]


def test_the_wait_is_bounded_and_ends_when_the_server_is_gone(server):
    port, _ = server
    start = time.monotonic()
    assert wait_until_ready(lambda: models_not_ready("127.0.0.1", port), 0.4) == ["ifan", "ifan_uint16"]
    assert 0.4 <= time.monotonic() - start < 3
    start = time.monotonic()
    assert wait_until_ready(lambda: models_not_ready("127.0.0.1", port), 30, alive=lambda: False) == ["ifan", "ifan_uint16"]
    assert time.monotonic() - start < 1
