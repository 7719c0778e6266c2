"""Launching the servers as real subprocesses, the way an MCP host or a terminal does."""

from __future__ import annotations

import os
import subprocess
import sys

LOOPBACK_ENV = {"MCP_MONITOR_ALLOW_NETWORKS": "127.0.0.0/8,::1/128"}

MODULES = {
    "mcp-http-monitor": "http_monitor",
    "mcp-ssl-monitor": "ssl_monitor",
    "mcp-dns-monitor": "dns_monitor",
}


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment (already cleared of proxies and MCP_MONITOR_*) plus `extra`."""
    env = dict(os.environ)
    env.update(extra or {})
    return env


def run_cli(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS...`, capturing stdout and stderr separately."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env=child_env(env),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
