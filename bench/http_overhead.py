"""Per-call overhead: median round trip of `http_check` over stdio against an instant local endpoint.

The baseline is a plain httpx2 request on a fresh connection to the same endpoint (a client
that keeps no connections alive, so each request connects anew, as `http_check` does). Both
are measured in the same run, interleaved call by call so that machine noise hits both alike.
The target is at most 3x the baseline. The HTTP server runs in a process of its own.

    uv run python bench/http_overhead.py [--calls 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_servers import serve, stop

TARGET = 3.0


async def run(calls: int) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    proc, port = serve(["127.0.0.1"])
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "MCP_MONITOR_ALLOW_NETWORKS": "127.0.0.0/8", "MCP_MONITOR_AUDIT_LOG": os.devnull}
    env["MCP_MONITOR_RATE_LIMIT_PER_HOST"] = "0"  # the overhead per call is measured, not the per-host limit
    params = StdioServerParameters(command=sys.executable, args=["-m", "http_monitor"], env=env)
    mcp_ms: list[float] = []
    plain_ms: list[float] = []
    try:
        limits = httpx2.Limits(max_keepalive_connections=0)
        async with Client(params) as client, httpx2.AsyncClient(limits=limits, trust_env=False) as plain:
            for _ in range(5):  # warm both: imports, TLS contexts, code paths
                await client.call_tool("http_check", {"url": url})
                await plain.get(url)
            for _ in range(calls):
                started = time.perf_counter()
                result = await client.call_tool("http_check", {"url": url})
                mcp_ms.append((time.perf_counter() - started) * 1000)
                assert result.structured_content is not None and result.structured_content["verdict"] == "ok"
                started = time.perf_counter()
                response = await plain.get(url)
                plain_ms.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
    finally:
        stop(proc)
    mcp_median, plain_median = statistics.median(mcp_ms), statistics.median(plain_ms)
    ratio = mcp_median / plain_median
    print(
        f"http_check round trip over stdio vs a plain httpx2 request on a fresh connection, median of {calls}"
    )
    print(f"plain httpx2, fresh connection   {plain_median:7.2f} ms   1.00x")
    print(
        f"http_check over stdio            {mcp_median:7.2f} ms   {ratio:.2f}x (target <= {TARGET}x): "
        f"{'met' if ratio <= TARGET else 'NOT met'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=200)
    asyncio.run(run(parser.parse_args().calls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
