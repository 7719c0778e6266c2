"""A server of this repository serving streamable HTTP as a real subprocess, for the HTTP campaigns.

with serving("http_monitor", env={"MCP_MONITOR_AUTH_TOKEN": token}) as served:
    httpx2.post(served.mcp_url, ...)
    served.peak_rss_kib()      # VmHWM of the server process
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from support.ports import free_port

__all__ = ["INIT", "MCP_HEADERS", "Served", "serving"]

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}
MCP_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mcp_url(self) -> str:
        return f"{self.url}/mcp"

    def alive(self) -> bool:
        return self.process.poll() is None

    def peak_rss_kib(self) -> int:
        """The server's peak resident set size so far (VmHWM), in KiB."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmHWM in /proc status")


@contextmanager
def serving(module: str, *args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """`python -m module serve --transport http` on a free loopback port, stopped afterwards.

    `env` is added to this process's environment (which the tests have cleared of proxies and
    MCP_MONITOR_*). Nothing may appear on the server's stdout: over HTTP it carries no protocol.
    """
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", module, "serve", "--transport", "http", "--port", str(port), *args],
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{module} did not start serving HTTP on port {port}") from None
                time.sleep(0.05)
        yield Served(process, port)
    finally:
        process.terminate()
        try:
            out, _ = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate()
    assert out == b"", out[:500]
