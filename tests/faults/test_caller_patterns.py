"""A caller's regular expression must not stop the server (issue 19).

`(a+)+$` against thirty `a`s and a `!` backtracks for minutes in a backtracking engine, and the
stdlib `re` holds the GIL while it does: even in a worker thread it froze the whole process, so
`ping` went unanswered and a watch with such a pattern froze every process sharing the store.
Each case here runs a real stdio server, makes the call and pings the server every 20 ms while
it runs: every ping must be answered within `PING_LIMIT_S`, and the call within its timeout with a
clear result (a match or no-match from RE2, which does not backtrack, or `pattern_too_slow` for a
pattern that is slow even in linear time). The longest ping wait is recorded for the reliability
report, as the longest stall of the event loop seen.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from http_monitor.server import mcp
from mcp import Client
from monitor_common.config import Settings, set_settings
from support.reliability import record
from support.stdio_lines import StdioServer

CATASTROPHIC = "(a+)+$"
VICTIM = "a" * 30 + "!"
# Linear in RE2 too, but a thousand states a byte: seconds over a MiB of random a/b.
SLOW_LINEAR = "[ab]*a[ab]{999}c"
PING_LIMIT_S = 0.1
WARM_UP: list[tuple[str, dict[str, Any]]] = [
    ("http_check", {"url": "http://127.0.0.1:9/", "body_regex": "x"}),  # port 9: refused
    ("tcp_check", {"host": "127.0.0.1", "port": 9, "expect_regex": "x"}),
    ("http_watch", {"action": "list"}),
]
TIMEOUT_S = 3.0
SLACK_S = 1.0  # a loaded CI machine; the campaign's rule is "within the timeout plus one second"


class PayloadServer:
    """Loopback TCP on port 0 that sends `payload` to each connection and closes it; with
    `http=True` it first reads the request head and answers 200 with `payload` as the body."""

    def __init__(self, payload: bytes, *, http: bool) -> None:
        self.payload = payload
        self.http = http
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(10)
                if self.http:
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        head += chunk
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                        + f"Content-Length: {len(self.payload)}\r\n\r\n".encode()
                    )
                conn.sendall(self.payload)
            except OSError:
                pass

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def victim_http() -> Iterator[PayloadServer]:
    server = PayloadServer(VICTIM.encode(), http=True)
    yield server
    server.close()


@pytest.fixture
def victim_tcp() -> Iterator[PayloadServer]:
    server = PayloadServer(VICTIM.encode(), http=False)
    yield server
    server.close()


@pytest.fixture
def stdio_http_monitor(tmp_path: Path) -> Iterator[StdioServer]:
    env = {
        "MCP_MONITOR_ALLOW_NETWORKS": "127.0.0.0/8",
        "MCP_MONITOR_RATE_LIMIT_PER_HOST": "0",
        "MCP_MONITOR_DB": str(tmp_path / "monitor.db"),
        "MCP_MONITOR_WATCH_MIN_INTERVAL_S": "0.2",
    }
    with StdioServer.started("http_monitor", env=env) as server:
        # The first call of each tool imports its engine (httpx2 and friends) and opens the store:
        # a stall of some 100 ms that is not the pattern's, so it is paid before the measurements.
        # The stall is expected here and measures nothing: on a loaded machine the imports alone
        # outlast the measurements' ping timeout, so the warm-up's pings get the call's deadline.
        for tool, arguments in WARM_UP:
            server.call_with_pings(tool, arguments, ping_timeout=30.0)
        yield server


def _structured(result: dict[str, Any]) -> dict[str, Any]:
    assert not result.get("isError"), result
    return result["structuredContent"]


def _timed_call(
    server: StdioServer, tool: str, arguments: dict[str, Any], case: str
) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    result, pings = server.call_with_pings(tool, arguments, timeout=TIMEOUT_S + 10)
    elapsed = time.monotonic() - started
    print(f"{case}: {len(pings.latencies)} pings, longest wait {pings.worst_ms} ms, call {elapsed:.2f} s")
    record("faults", f"event-loop stall: {case}", pings.worst_ms, "ms (longest ping wait)",
           pattern=arguments.get("body_regex") or arguments.get("expect_regex"))  # fmt: skip
    assert pings.latencies, "no ping was sent during the call"
    assert max(pings.latencies) < PING_LIMIT_S, f"a ping waited {pings.worst_ms} ms"
    assert elapsed < TIMEOUT_S + SLACK_S, f"{tool} took {elapsed:.2f} s"
    return _structured(result), elapsed


def test_tcp_check_with_a_catastrophic_pattern_answers_and_ping_is_answered(
    stdio_http_monitor: StdioServer, victim_tcp: PayloadServer
) -> None:
    arguments = {
        "host": "127.0.0.1",
        "port": victim_tcp.port,
        "expect_regex": CATASTROPHIC,
        "timeout_s": TIMEOUT_S,
    }
    result, _ = _timed_call(stdio_http_monitor, "tcp_check", arguments, "tcp_check expect_regex (a+)+$")
    assert result["banner"] == VICTIM
    assert result["matched"] is False  # RE2's answer: there is no match
    assert [f["code"] for f in result["findings"]] == ["tcp_banner_mismatch"]
    assert stdio_http_monitor.answers_ping()


def test_http_check_with_a_catastrophic_pattern_answers_and_ping_is_answered(
    stdio_http_monitor: StdioServer, victim_http: PayloadServer
) -> None:
    arguments = {"url": victim_http.url, "body_regex": CATASTROPHIC, "timeout_s": TIMEOUT_S}
    result, _ = _timed_call(stdio_http_monitor, "http_check", arguments, "http_check body_regex (a+)+$")
    assert result["verdict"] == "critical"
    assert [f["code"] for f in result["findings"]] == ["http_body_mismatch"]
    (row,) = [a for a in result["assertions"] if a["what"] == "body matches"]
    assert row == {"what": "body matches", "expected": CATASTROPHIC, "actual": None, "passed": False}
    # And a pattern that does match still says what it matched.
    arguments = {"url": victim_http.url, "body_regex": "(a+)+!$", "timeout_s": TIMEOUT_S}
    result, _ = _timed_call(stdio_http_monitor, "http_check", arguments, "http_check body_regex (a+)+!$")
    assert result["verdict"] == "ok"
    assert stdio_http_monitor.answers_ping()


def test_a_pattern_slow_even_in_linear_time_is_pattern_too_slow_within_the_timeout(
    stdio_http_monitor: StdioServer,
) -> None:
    rng = random.Random(19)
    body = "".join(rng.choice("ab") for _ in range(1024 * 1024)).encode()
    server = PayloadServer(body, http=True)
    try:
        arguments = {"url": server.url, "body_regex": SLOW_LINEAR, "timeout_s": TIMEOUT_S}
        result, _ = _timed_call(
            stdio_http_monitor, "http_check", arguments, "http_check body_regex [ab]*a[ab]{999}c, 1 MiB"
        )
    finally:
        server.close()
    assert [(f["code"], f["severity"]) for f in result["findings"]] == [("pattern_too_slow", "unknown")], (
        result
    )
    assert result["verdict"] == "unknown"
    (finding,) = result["findings"]
    assert "did not finish within" in finding["message"] and SLOW_LINEAR in finding["message"]
    assert stdio_http_monitor.answers_ping()


def test_a_watch_with_a_catastrophic_pattern_does_not_stall_the_process(
    stdio_http_monitor: StdioServer, victim_http: PayloadServer
) -> None:
    arguments = {"action": "add", "name": "victim", "url": victim_http.url, "body_regex": CATASTROPHIC,
                 "interval_s": 0.3, "timeout_s": TIMEOUT_S}  # fmt: skip
    added, _ = _timed_call(stdio_http_monitor, "http_watch", arguments, "http_watch add body_regex (a+)+$")
    assert added["result"]["verdict"] == "critical"
    # The scheduler runs it every 0.3 s; pings go on meanwhile, for about three seconds.
    report, pings = stdio_http_monitor.call_with_pings(
        "http_watch_report", {"name": "victim", "window": "1h"}, at_least=100
    )
    print(f"watch runs: {len(pings.latencies)} pings, longest wait {pings.worst_ms} ms")
    record(
        "faults", "event-loop stall: http_watch runs with (a+)+$", pings.worst_ms, "ms (longest ping wait)"
    )
    assert max(pings.latencies) < PING_LIMIT_S, f"a ping waited {pings.worst_ms} ms"
    report, _ = stdio_http_monitor.call_with_pings("http_watch_report", {"name": "victim", "window": "1h"})
    (watch,) = _structured(report)["watches"]
    assert watch["checks"] >= 4, watch  # the runs happened, and were judged


@pytest.mark.parametrize(
    ("tool", "arguments", "words"),
    [
        ("http_check", {"url": "http://127.0.0.1:9/", "body_regex": "(?<=a)b"}, "lookarounds"),
        ("http_check", {"url": "http://127.0.0.1:9/", "body_regex": r"(a)\1"}, "backreferences"),
        ("http_check", {"url": "http://127.0.0.1:9/", "body_regex": "a{1000000}"}, "above {1000}"),
        (
            "http_check",
            {"url": "http://127.0.0.1:9/", "body_regex": "["},
            "is not a valid regular expression",
        ),
        ("tcp_check", {"host": "127.0.0.1", "port": 9, "expect_regex": "(?!x)y"}, "lookarounds"),
        (
            "tcp_check",
            {"host": "127.0.0.1", "port": 9, "expect_regex": "(unclosed"},
            "is not a valid regular expression",
        ),
        ("http_watch", {"action": "add", "url": "http://127.0.0.1:9/", "body_regex": r"\Z"}, r"write \z"),
    ],
)
async def test_an_unsupported_or_invalid_pattern_is_a_tool_error_at_input(
    tool: str, arguments: dict[str, Any], words: str, tmp_path: Path
) -> None:
    # Loopback allowed and a store of the test's own: a watch that were wrongly added stays here.
    set_settings(Settings(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),), db=str(tmp_path / "m.db")))
    async with Client(mcp) as client:
        result = await client.call_tool(tool, arguments)
    text = " ".join(c.text for c in result.content if c.type == "text")
    assert result.is_error, text
    field = "expect_regex" if tool == "tcp_check" else "body_regex"
    assert field in text and words in text, text
    if words in ("lookarounds", "backreferences"):
        assert "Not supported:" in text and "Rewrite it without them" in text
