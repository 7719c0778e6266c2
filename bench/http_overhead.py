"""Per-call overhead: median round trip of `http_check` over stdio against an instant local endpoint.

The baseline is a plain httpx2 request on a fresh connection to the same endpoint (a client
that keeps no connections alive, so each request connects anew, as `http_check` does). Both
are measured in the same run, interleaved call by call so that machine noise hits both alike.
The target is at most 3x the baseline. The HTTP server runs in a process of its own.

First call: the `timings_ms.total` that a fresh process's first `http_check` reports (run as
`mcp-http-monitor call http_check`, a new process each time), against curl's `time_total` for the
same URL, each run paired with a curl run; medians over `--first-calls` runs. The figure must
be the target's time, not the process's set-up: target at most 1.2x curl plus 2 ms.

    uv run python bench/http_overhead.py [--calls 200] [--first-calls 7]

Measured 2026-12-06 on the shared 2-core machine: at load ~1, first call 1.6-2.3 ms against
curl's 0.55-0.8 ms (target 2.7 ms: met); at load 8-9, medians 12.6 ms against 3.4 ms (runs
6.8-22.8 ms against 0.6-11.1 ms: the Python connect and exchange stretch more than curl's under
CPU contention; not met there). Before the fix the first call reported some 125 ms (the imports
and client set-up inside the clock). On this machine PYTHONDONTWRITEBYTECODE=1, so every fresh
process also compiles what it imports; that is set-up too, and stays outside the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_servers import serve, stop

TARGET = 3.0
FIRST_CALL_FACTOR, FIRST_CALL_SLACK_MS = 1.2, 2.0


def first_calls(url: str, env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """(the reported total of a fresh process's first check, curl's time_total), ms, per run."""
    ours: list[float] = []
    curls: list[float] = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-m", "http_monitor", "call", "http_check", f"url={url}"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        result = json.loads(out.stdout)
        assert result["verdict"] == "ok", result["summary"]
        ours.append(float(result["timings_ms"]["total"]))
        curl = subprocess.run(
            ["curl", "-s", "--noproxy", "*", "-o", "/dev/null", "-w", "%{time_total}", url],
            capture_output=True,
            text=True,
            check=True,
        )
        curls.append(float(curl.stdout) * 1000)
    return ours, curls


async def run(calls: int, first_runs: int) -> None:
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
    first_ms: list[float] = []
    curl_ms: list[float] = []
    try:
        if first_runs and shutil.which("curl"):
            first_ms, curl_ms = first_calls(url, env, first_runs)
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
    if first_ms:
        ours, curl = statistics.median(first_ms), statistics.median(curl_ms)
        limit = FIRST_CALL_FACTOR * curl + FIRST_CALL_SLACK_MS
        print(
            f"first call of a fresh process (reported timings_ms.total) vs curl time_total, median of {len(first_ms)}"
        )
        print(f"curl time_total                  {curl:7.2f} ms   1.00x")
        print(
            f"http_check first call, total     {ours:7.2f} ms   {ours / curl:.2f}x "
            f"(target <= {FIRST_CALL_FACTOR}x + {FIRST_CALL_SLACK_MS:g} ms = {limit:.2f} ms): "
            f"{'met' if ours <= limit else 'NOT met'}"
        )
        print(
            f"  runs (ours / curl, ms): {', '.join(f'{a:.2f}/{b:.2f}' for a, b in zip(first_ms, curl_ms, strict=True))}"
        )
    elif first_runs:
        print("first call: not measured (no curl on PATH)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument(
        "--first-calls", type=int, default=7, help="fresh processes for the first-call figure"
    )
    args = parser.parse_args()
    asyncio.run(run(args.calls, args.first_calls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
