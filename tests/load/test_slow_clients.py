"""Slow clients (slowloris) against the HTTP transport as `serve` runs it (uvicorn, our protocol and
middleware), in a thread with the request bound lowered to 2 s: a client that sends its head or its
body a byte a second is answered 408 and closed within the bound, an idle connection too, and
meanwhile other clients are served at once.

Before, uvicorn bounded neither: such a client held its connection for as long as it kept sending.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest
import uvicorn
from monitor_common._http import build_app, uvicorn_config
from monitor_common.config import Settings
from support.mcp_http import INIT, MCP_HEADERS
from support.ports import free_port

BOUND_S = 2.0


@dataclass
class Running:
    port: int

    @property
    def mcp_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


@pytest.fixture
def running() -> Iterator[Running]:
    from dns_monitor.server import mcp

    settings = Settings(port=free_port())
    app = build_app(mcp, settings, request_timeout_s=BOUND_S)
    server = uvicorn.Server(uvicorn_config(app, settings, request_timeout_s=BOUND_S))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield Running(settings.port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _drip(port: int, head: bytes, drip: bytes) -> tuple[float, bytes]:
    """Send `head` at once, then `drip` a byte a second until the server closes the connection:
    the seconds it took and what the server sent."""
    started = time.monotonic()
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        if head:
            sock.sendall(head)
        for byte in drip:
            try:
                chunk = sock.recv(4096)
            except TimeoutError:  # nothing yet: the next byte, a second later
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    break
                continue
            except OSError:
                break
            answer += chunk
            if not chunk:
                break
    return time.monotonic() - started, answer


def _served_meanwhile(running: Running, times: list[float], stop: threading.Event) -> None:
    """Post initialize every 0.3 s until `stop`, recording how long each took."""
    with httpx2.Client(timeout=10) as http:
        while not stop.is_set():
            started = time.monotonic()
            response = http.post(running.mcp_url, json=INIT, headers=MCP_HEADERS)
            assert response.status_code == 200
            times.append(time.monotonic() - started)
            stop.wait(0.3)


HEAD = b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
BODY_HEAD = (
    b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    b"accept: application/json, text/event-stream\r\ncontent-length: 1000\r\n\r\n"
)


@pytest.mark.parametrize(
    ("head", "drip"),
    [
        (b"", b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n" * 3),  # the head a byte a second
        (HEAD, b"x-slow: " + b"a" * 60),  # one endless header
        (BODY_HEAD, b'{"jsonrpc":"2.0","id":1,"method":"ping"' + b" " * 60),  # the body a byte a second
    ],
    ids=["head", "header", "body"],
)
def test_a_slow_request_is_closed_while_others_are_served(running: Running, head: bytes, drip: bytes) -> None:
    times: list[float] = []
    stop = threading.Event()
    other = threading.Thread(target=_served_meanwhile, args=(running, times, stop))
    other.start()
    try:
        took, answer = _drip(running.port, head, drip)
    finally:
        stop.set()
        other.join(timeout=15)
    assert took < BOUND_S + 2, f"held for {took:.1f} s"
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert len(times) >= 3 and max(times) < 1.0, times


def test_an_idle_connection_is_closed(running: Running) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", running.port), timeout=BOUND_S + 3) as sock:
        answer = sock.recv(4096)
        assert sock.recv(4096) == b""
    assert time.monotonic() - started < BOUND_S + 2
    assert answer.startswith(b"HTTP/1.1 408")


def test_a_request_within_the_bound_is_served(running: Running) -> None:
    # The bound is on arrival, not on the whole exchange: a body sent in two parts a second apart
    # (inside the bound) is served.
    body = b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
    rest = b'"capabilities":{},"clientInfo":{"name":"t","version":"0"}}}'
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
        sock.sendall(BODY_HEAD.replace(b"1000", str(len(body + rest)).encode()) + body)
        time.sleep(1)
        sock.sendall(rest)
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
