"""Bulk certificate checks: 200 local TLS endpoints, three ways, in one run.

1. `cert_check_many` through a real stdio MCP session (the server is a subprocess, as a host runs
   it), at its default concurrency of 20; every check validates the chain and judges it;
2. the naive check in a sequential loop: a blocking `SSLContext.wrap_socket` and `getpeercert()`
   (the modern spelling of `ssl.wrap_socket`), one endpoint after the other;
3. the near-limit: plain asyncio `open_connection(ssl=...)` handshakes, `gather`ed under a
   semaphore at the same concurrency, reading `getpeercert()` and nothing else.

The endpoints (see bench/ssl_servers.py) run in a process of their own, each on its own loopback
address, and wait `--delay-ms` before answering the ClientHello, a stand-in for the round trip a
real network adds. Targets: at least 10x faster than the loop, at most 1.5x the plain gather.

    uv run python bench/ssl_bulk.py [--count 200] [--delay-ms 50] [--concurrency 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters

HERE = Path(__file__).resolve().parent


def start_farm(count: int, delay_ms: float) -> tuple[subprocess.Popen[str], list[str], str]:
    farm = subprocess.Popen(
        [sys.executable, str(HERE / "ssl_servers.py"), "--count", str(count), "--delay-ms", str(delay_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert farm.stdout is not None
    ready: dict[str, Any] = json.loads(farm.stdout.readline())
    return farm, ready["endpoints"], ready["ca_pem"]


def split(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host, int(port)


def sequential(endpoints: list[str], context: ssl.SSLContext) -> tuple[float, int]:
    """The naive check, one endpoint after the other. Returns (seconds, certificates read)."""
    started = time.perf_counter()
    read = 0
    for endpoint in endpoints:
        host, port = split(endpoint)
        with (
            socket.create_connection((host, port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            cert = tls.getpeercert()
            if cert and ssl.cert_time_to_seconds(str(cert["notAfter"])) > time.time():
                read += 1
    return time.perf_counter() - started, read


async def gather(endpoints: list[str], context: ssl.SSLContext, concurrency: int) -> tuple[float, int]:
    """Plain asyncio handshakes under a semaphore. Returns (seconds, certificates read)."""
    slots = asyncio.Semaphore(concurrency)

    async def one(endpoint: str) -> bool:
        host, port = split(endpoint)
        async with slots:
            _, writer = await asyncio.open_connection(host, port, ssl=context, server_hostname=host)
            cert = writer.get_extra_info("peercert")
            writer.close()
            return bool(cert and ssl.cert_time_to_seconds(str(cert["notAfter"])) > time.time())

    started = time.perf_counter()
    results = await asyncio.gather(*(one(e) for e in endpoints))
    return time.perf_counter() - started, sum(results)


async def many(client: Client, endpoints: list[str], ca_pem: str, concurrency: int) -> tuple[float, int]:
    started = time.perf_counter()
    result = await client.call_tool(
        "cert_check_many", {"targets": endpoints, "ca_bundle_pem": ca_pem, "concurrency": concurrency}
    )
    elapsed = time.perf_counter() - started
    if result.is_error:
        raise RuntimeError(f"cert_check_many failed: {result.content}")
    content: dict[str, Any] = result.structured_content or {}
    return elapsed, int(content["counts"]["ok"])


async def run(count: int, delay_ms: float, concurrency: int, rounds: int) -> None:
    farm, endpoints, ca_pem = start_farm(count, delay_ms)
    try:
        context = ssl.create_default_context(cadata=ca_pem)
        env = {
            "MCP_MONITOR_ALLOW_NETWORKS": "127.0.0.0/8",
            "MCP_MONITOR_CONCURRENCY": str(concurrency),
            "MCP_MONITOR_AUDIT_LOG": "/dev/null",
            "MCP_MONITOR_RATE_LIMIT_PER_HOST": "0",  # the engine's speed is measured, not the limit
        }
        server = StdioServerParameters(
            command=sys.executable, args=["-m", "ssl_monitor"], env={**os.environ, **env}
        )
        many_times: list[float] = []
        gather_times: list[float] = []
        async with Client(server) as client:
            await many(client, endpoints[:5], ca_pem, concurrency)  # warm-up: imports, trust store
            for _ in range(rounds):  # interleaved, so machine noise hits both alike
                seconds, ok = await many(client, endpoints, ca_pem, concurrency)
                assert ok == count, f"only {ok} of {count} endpoints were ok"
                many_times.append(seconds)
                seconds, read = await gather(endpoints, context, concurrency)
                assert read == count
                gather_times.append(seconds)
        loop_seconds, read = await asyncio.get_running_loop().run_in_executor(
            None, sequential, endpoints, context
        )
        assert read == count
    finally:
        assert farm.stdin is not None
        farm.stdin.close()
        farm.wait(10)

    many_s, gather_s = statistics.median(many_times), statistics.median(gather_times)
    print(f"endpoints: {count} on {count} loopback addresses, {delay_ms:g} ms before each ServerHello, "
          f"concurrency {concurrency}, median of {rounds} rounds")  # fmt: skip
    print(f"sequential blocking loop (wrap_socket + getpeercert): {loop_seconds:7.3f} s")
    print(f"plain asyncio gather (open_connection, semaphore):   {gather_s:7.3f} s")
    print(f"cert_check_many over stdio (validated, judged):      {many_s:7.3f} s")
    speedup, overhead = loop_seconds / many_s, many_s / gather_s
    print(
        f"speed-up vs sequential loop: {speedup:5.1f}x (target >= 10x) {'PASS' if speedup >= 10 else 'MISS'}"
    )
    print(
        f"cost vs plain gather:        {overhead:5.2f}x (target <= 1.5x) {'PASS' if overhead <= 1.5 else 'MISS'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.count, args.delay_ms, args.concurrency, args.rounds))


if __name__ == "__main__":
    main()
