"""Watches from a terminal and over stdio: the store outlives each process."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, cast

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from support.http_server import HttpServer

from e2e.helpers import LOOPBACK_ENV, child_env, run_cli


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {**LOOPBACK_ENV, "MCP_MONITOR_DB": str(tmp_path / "monitor.db"), **extra}


def test_watches_added_from_the_terminal_persist(tmp_path: Path, http_server: HttpServer) -> None:
    env = env_for(tmp_path)
    url = http_server.url_for("/status/200")
    added = run_cli("http_monitor", "call", "http_watch", "action=add", "name=home", f"url={url}", env=env)
    assert added.returncode == 0, added.stderr
    result = json.loads(added.stdout)
    assert result["watch"]["name"] == "home" and result["result"]["status_code"] == 200
    assert http_server.count("/status/200") == 1  # `call` ran the first check only, no scheduler

    listed = run_cli("http_monitor", "call", "http_watch", "action=list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [w["name"] for w in json.loads(listed.stdout)["watches"]] == ["home"]

    refused = run_cli(
        "http_monitor", "call", "http_watch", "action=add", f"url={url}", "interval_s=1", env=env
    )
    assert refused.returncode == 64 and "below the minimum of 10 s" in refused.stderr


def test_recorded_on_demand_checks_answer_what_was_seen_last(tmp_path: Path, http_server: HttpServer) -> None:
    env = env_for(tmp_path, MCP_MONITOR_RECORD="true")
    url = http_server.url_for("/status/503")
    assert run_cli("http_monitor", "call", "http_check", f"url={url}", env=env).returncode == 2
    report = run_cli("http_monitor", "call", "http_watch_report", f"name={url}", env=env)
    assert report.returncode == 2, report.stderr
    (seen,) = json.loads(report.stdout)["recorded"]
    assert seen["verdict"] == "critical" and seen["figures"]["status_code"] == 503


async def test_a_stdio_server_runs_the_stored_watches(tmp_path: Path, http_server: HttpServer) -> None:
    env = env_for(tmp_path, MCP_MONITOR_WATCH_MIN_INTERVAL_S="0.2")
    url = http_server.url_for("/status/200?watched=1")
    added = run_cli(
        "http_monitor", "call", "http_watch", "action=add", "name=w", f"url={url}", "interval_s=0.3", env=env
    )
    assert added.returncode == 0, added.stderr
    params = StdioServerParameters(command=sys.executable, args=["-m", "http_monitor"], env=child_env(env))
    async with Client(params) as client:
        with anyio.fail_after(15):
            while True:
                result = await client.call_tool("http_watch_report", {"name": "w", "window": "1h"})
                report = cast("dict[str, Any]", result.structured_content)
                if report["watches"][0]["checks"] >= 4:
                    break
                await anyio.sleep(0.2)
    assert report["watches"][0]["uptime_percent"] == 100.0


def test_an_http_server_runs_the_stored_watches(tmp_path: Path, http_server: HttpServer) -> None:
    import time

    from support.mcp_http import serving

    env = env_for(tmp_path, MCP_MONITOR_WATCH_MIN_INTERVAL_S="0.2")
    url = http_server.url_for("/status/200?over=http")
    added = run_cli(
        "http_monitor", "call", "http_watch", "action=add", "name=h", f"url={url}", "interval_s=0.3", env=env
    )
    assert added.returncode == 0, added.stderr
    with serving("http_monitor", env=env):
        deadline = time.monotonic() + 15
        while http_server.count("/status/200") < 4:
            assert time.monotonic() < deadline, "the HTTP server ran no watches"
            time.sleep(0.1)
