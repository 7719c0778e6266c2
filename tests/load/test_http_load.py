"""Streamable HTTP under load, through the bearer token; and what the transport refuses.

100 MCP clients at once, each with its own session, make 20 `http_check` calls each against a
loopback HTTP server: every call must succeed. The latency of each call (p50, p99) and the
server's peak resident memory (VmHWM) are printed and recorded for docs/reliability.md.
"""

from __future__ import annotations

import hmac
import statistics
import time
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from monitor_common import _http
from support.http_server import HttpServer
from support.mcp_http import INIT, MCP_HEADERS, Served, serving
from support.reliability import record

TOKEN = "load-token-" + "0123456789abcdef" * 2
CLIENTS = 100
CALLS = 20


def _server_env() -> dict[str, str]:
    # 2000 calls to one target host would otherwise be paced by the per-host rate limit (10/s by
    # default): this measures the transport, so the limit is off.
    return {
        "MCP_MONITOR_AUTH_TOKEN": TOKEN,
        "MCP_MONITOR_ALLOW_NETWORKS": "127.0.0.0/8",
        "MCP_MONITOR_RATE_LIMIT_PER_HOST": "0",
    }


async def _client(served: Served, url: str, latencies: list[float], failures: list[str]) -> None:
    async with (
        httpx2.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"}, timeout=60) as http,
        Client(streamable_http_client(served.mcp_url, http_client=http)) as client,
    ):
        for _ in range(CALLS):
            started = time.perf_counter()
            try:
                result = await client.call_tool("http_check", {"url": url, "timeout_s": 30})
            except Exception as exc:  # a failed call is counted, and the run goes on
                failures.append(f"{type(exc).__name__}: {exc}")
                continue
            latencies.append(time.perf_counter() - started)
            content: dict[str, Any] = result.structured_content or {}
            if result.is_error or content.get("verdict") != "ok":
                failures.append(str(result.content)[:200])


async def test_100_clients_20_calls_each(http_server: HttpServer) -> None:
    url = http_server.url_for("/status/200")
    latencies: list[float] = []
    failures: list[str] = []
    with serving("http_monitor", env=_server_env()) as served:
        baseline_kib = served.peak_rss_kib()
        started = time.perf_counter()
        with anyio.fail_after(150):
            async with anyio.create_task_group() as group:
                for _ in range(CLIENTS):
                    group.start_soon(_client, served, url, latencies, failures)
        wall = time.perf_counter() - started
        peak_kib = served.peak_rss_kib()
        assert served.alive()
    assert not failures, f"{len(failures)} failed calls, e.g. {failures[:3]}"
    assert len(latencies) == CLIENTS * CALLS
    cuts = statistics.quantiles(latencies, n=100)
    p50, p99 = cuts[49] * 1000, cuts[98] * 1000
    print(
        f"\n{CLIENTS} clients x {CALLS} calls: {len(latencies)} ok in {wall:.1f} s "
        f"({len(latencies) / wall:.0f} calls/s), p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
        f"server peak RSS {peak_kib / 1024:.0f} MiB (idle {baseline_kib / 1024:.0f} MiB)"
    )
    detail = {"clients": CLIENTS, "calls_per_client": CALLS, "tool": "http_check"}
    record("load", "calls", len(latencies), "calls", failed=len(failures), **detail)
    record("load", "p50 latency", round(p50, 1), "ms", **detail)
    record("load", "p99 latency", round(p99, 1), "ms", **detail)
    record("load", "throughput", round(len(latencies) / wall, 1), "calls/s", **detail)
    record(
        "load", "server peak RSS", round(peak_kib / 1024, 1), "MiB", idle_mib=round(baseline_kib / 1024, 1)
    )


async def test_token_host_and_size_are_enforced() -> None:
    with serving("http_monitor", env=_server_env()) as served:
        auth = {"authorization": f"Bearer {TOKEN}"}
        async with httpx2.AsyncClient(timeout=30) as http:
            missing = await http.post(served.mcp_url, json=INIT, headers=MCP_HEADERS)
            wrong = await http.post(
                served.mcp_url, json=INIT, headers={**MCP_HEADERS, "authorization": "Bearer x"}
            )
            prefix = await http.post(
                served.mcp_url, json=INIT, headers={**MCP_HEADERS, "authorization": f"Bearer {TOKEN[:-1]}"}
            )
            basic = await http.post(
                served.mcp_url, json=INIT, headers={**MCP_HEADERS, "authorization": f"Basic {TOKEN}"}
            )
            foreign = await http.post(
                served.mcp_url, json=INIT, headers={**MCP_HEADERS, **auth, "host": "evil.example"}
            )
            big = await http.post(
                served.mcp_url, content=b" " * (10 * 1024 * 1024), headers={**MCP_HEADERS, **auth}
            )
            ok = await http.post(served.mcp_url, json=INIT, headers={**MCP_HEADERS, **auth})
        assert served.alive()
    assert [r.status_code for r in (missing, wrong, prefix, basic)] == [401] * 4
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert foreign.status_code == 421
    assert big.status_code == 413
    assert ok.status_code == 200 and "mcp-http-monitor" in ok.text
    record("load", "refusals", 6, "requests", unauthorized=4, foreign_host=1, too_large=1)


async def test_token_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every request's Authorization header goes through hmac.compare_digest, whose time does not
    # depend on where the first differing byte is (a `==` would be a timing oracle on the token).
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    guard = _http.BearerAuth(app, TOKEN)
    for path, header in (("/wrong", b"Bearer nope"), ("/right", f"Bearer {TOKEN}".encode())):
        scope = {"type": "http", "path": path, "headers": [(b"authorization", header)]}
        await guard(scope, receive, send)
    assert compared == [(b"Bearer nope", f"Bearer {TOKEN}".encode()), (f"Bearer {TOKEN}".encode(),) * 2]
    assert reached == ["/right"] and sent[0]["status"] == 401
