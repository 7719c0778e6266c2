"""Each server as a stdio subprocess answers 1000 fault calls without its memory growing by 20 MB.

The fast faults (refused, reset, malformed, garbage instead of a ServerHello, SERVFAIL, ...) are
mixed per server and sent ten at a time over one session, as an agent in a loop would. Resident
memory (VmRSS) is read from /proc after a warm-up, so that imports, caches and pools already
exist, and again after the 1000 calls.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from support.reliability import record

from faults.servers import DNS_NAME, FaultServers

CALLS = 1000
WARM_UP = 200
IN_FLIGHT = 10
LIMIT_MB = 20.0
T = 2.0

Call = tuple[str, dict[str, Any]]


def http_calls(faults: FaultServers) -> list[Call]:
    return [
        ("http_check", {"url": faults.url("refused"), "timeout_s": T}),
        ("http_check", {"url": faults.url("reset_body"), "timeout_s": T}),
        ("http_check", {"url": faults.url("malformed_status"), "timeout_s": T}),
        ("http_check", {"url": faults.url("huge_headers"), "timeout_s": T}),
        ("http_check", {"url": faults.url("tls_garbage"), "timeout_s": T}),
        (
            "http_check_many",
            {"urls": [faults.url("refused"), faults.url("malformed_status")], "timeout_s": T},
        ),
        ("tcp_check", {"host": "127.0.0.1", "port": faults.port("refused"), "timeout_s": T}),
        ("http_redirects", {"url": faults.url("redirect_loop"), "timeout_s": T}),
    ]


def ssl_calls(faults: FaultServers) -> list[Call]:
    trust = {"ca_bundle_pem": faults.ca_pem}
    return [
        ("cert_check", {"host": "127.0.0.1", "port": faults.port("refused"), "timeout_s": T}),
        ("cert_check", {"host": "127.0.0.1", "port": faults.port("tls_garbage"), "timeout_s": T}),
        ("cert_check", {"host": "127.0.0.1", "port": faults.port("tls_chain20"), "timeout_s": T, **trust}),
        (
            "cert_check_many",
            {"targets": [f"127.0.0.1:{faults.port(f)}" for f in ("refused", "tls_garbage")], "timeout_s": T},
        ),
        ("cert_compare_endpoints", {"host": "127.0.0.1", "port": faults.port("tls_garbage"), "timeout_s": T}),
        ("cert_revocation", {"host": "127.0.0.1", "port": faults.port("refused"), "timeout_s": T}),
    ]


def dns_calls(faults: FaultServers) -> list[Call]:
    servfail, refused = faults.dns_address("dns_servfail"), faults.dns_address("dns_refused")
    return [
        ("dns_lookup", {"name": DNS_NAME, "server": servfail, "timeout_s": T}),
        ("dns_lookup", {"name": DNS_NAME, "server": refused, "timeout_s": T}),
        ("reverse_dns", {"target": "127.0.0.1", "server": servfail, "timeout_s": T}),
        ("dns_propagation", {"name": DNS_NAME, "resolvers": [servfail, refused], "timeout_s": T}),
        ("email_auth_check", {"domain": "fault.test", "server": refused, "timeout_s": T}),
    ]


SERVERS: dict[str, tuple[str, Callable[[FaultServers], list[Call]]]] = {
    "mcp-http-monitor": ("http_monitor", http_calls),
    "mcp-ssl-monitor": ("ssl_monitor", ssl_calls),
    "mcp-dns-monitor": ("dns_monitor", dns_calls),
}


def rss_mb(marker: str) -> float:
    """VmRSS of the process whose command line holds `marker`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() not in (entry / "cmdline").read_bytes():
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            continue
    raise AssertionError(f"no process with {marker} in its command line")


async def hammer(client: Client, calls: list[Call], count: int) -> list[str]:
    """`count` calls cycling through `calls`, IN_FLIGHT at a time; what went wrong with any."""
    problems: list[str] = []
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(index: int) -> None:
        tool, arguments = calls[index % len(calls)]
        async with gate:
            result = await client.call_tool(tool, arguments)
        verdict = (result.structured_content or {}).get("verdict")
        if result.is_error or verdict in (None, "ok"):
            problems.append(f"{tool} {arguments}: error={result.is_error} verdict={verdict}")

    await asyncio.gather(*(one(i) for i in range(count)))
    return problems


@pytest.mark.parametrize("name", sorted(SERVERS))
async def test_memory_after_1000_fault_calls(name: str, faults: FaultServers) -> None:
    module, make_calls = SERVERS[name]
    marker = f"faults-memory-{uuid.uuid4().hex}"
    code = f"import sys; sys.argv = [{name!r}]; from {module}.server import main; main()"
    env = {
        **os.environ,
        "MCP_MONITOR_ALLOW_NETWORKS": "127.0.0.0/8",
        "MCP_MONITOR_AUDIT_LOG": os.devnull,
        "MCP_MONITOR_RATE_LIMIT_PER_HOST": "0",  # 1000 calls to 127.0.0.1 as fast as they go
    }
    calls = make_calls(faults)
    params = StdioServerParameters(command=sys.executable, args=["-c", code, marker], env=env)
    async with Client(params) as client:
        assert not await hammer(client, calls, WARM_UP)
        before = rss_mb(marker)
        problems = await hammer(client, calls, CALLS)
        after = rss_mb(marker)
        # And it still answers the next call.
        tool, arguments = calls[0]
        last = await client.call_tool(tool, arguments)
    assert not problems, "\n".join(problems[:10])
    assert not last.is_error
    growth = after - before
    record("faults", f"memory_growth_{name}", round(growth, 2), "MB over 1000 fault calls",
           rss_before_mb=round(before, 1), rss_after_mb=round(after, 1))  # fmt: skip
    assert growth < LIMIT_MB, (
        f"{name}: RSS grew {growth:.1f} MB over {CALLS} fault calls ({before:.1f} -> {after:.1f})"
    )
