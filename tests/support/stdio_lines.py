"""A server as a real stdio subprocess, spoken to in raw JSON-RPC lines.

Raw lines rather than the SDK's client: the fuzz campaign writes malformed messages byte for byte,
and `call_with_pings` times each `ping` while a tool call is in flight, which is how a stall of the
server's event loop shows (a ping is answered by the loop itself, whatever the tools are doing).

    with StdioServer.started("http_monitor", env={...}) as server:
        result, latencies = server.call_with_pings("http_check", {...})
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

INIT = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"},
    },
}
PING = b'{"jsonrpc":"2.0","id":"ping","method":"ping"}'


@dataclass
class PingTimes:
    """How long each ping sent during a call waited for its answer, in seconds."""

    latencies: list[float] = field(default_factory=lambda: list[float]())

    @property
    def worst_ms(self) -> float:
        return round(max(self.latencies, default=0.0) * 1000, 1)


class StdioServer:
    """A server subprocess spoken to in raw lines. `env` replaces the MCP_MONITOR_* variables."""

    def __init__(self, module: str, env: Mapping[str, str] | None = None) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("MCP_MONITOR_")}
        environment.update(env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-m", module],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=environment,
        )
        self._buffer = b""
        self._next_id = 1000

    @classmethod
    @contextlib.contextmanager
    def started(cls, module: str, env: Mapping[str, str] | None = None) -> Iterator[StdioServer]:
        """The server, initialized; closed (killed if it does not stop) on leaving."""
        served = cls(module, env)
        try:
            answer = served.request(json.dumps(INIT).encode(), timeout=30)
            assert answer["id"] == 0 and "result" in answer, answer
            served.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
            yield served
        finally:
            served.close()

    def send(self, line: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + b"\n")
        self.process.stdin.flush()

    def receive(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next message on stdout; fails after `timeout` seconds without one."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise AssertionError(
                    f"no answer within {timeout} s (server alive: {self.process.poll() is None})"
                )
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise AssertionError(f"the server closed stdout (exit status {self.process.wait()})")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def request(self, line: bytes, timeout: float = 10.0) -> dict[str, Any]:
        self.send(line)
        return self.receive(timeout)

    def answers_ping(self) -> bool:
        return self.request(PING) == {"jsonrpc": "2.0", "id": "ping", "result": {}}

    def call_with_pings(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        *,
        timeout: float = 30.0,
        every_s: float = 0.02,
        ping_timeout: float = 5.0,
        at_least: int = 0,
    ) -> tuple[dict[str, Any], PingTimes]:
        """Call `tool` and ping the server every `every_s` until its answer (and `at_least` pings).

        Returns the call's JSON-RPC `result` and how long each ping waited. A ping with no answer
        within `ping_timeout` fails, as does a call with none within `timeout`."""
        self._next_id += 1
        call_id = self._next_id
        message = {"jsonrpc": "2.0", "id": call_id, "method": "tools/call",
                   "params": {"name": tool, "arguments": dict(arguments)}}  # fmt: skip
        self.send(json.dumps(message).encode())
        deadline = time.monotonic() + timeout
        result: dict[str, Any] | None = None
        times = PingTimes()
        while result is None or len(times.latencies) < at_least:
            assert time.monotonic() < deadline, f"{tool} did not answer within {timeout} s"
            time.sleep(every_s)
            self._next_id += 1
            ping_id = self._next_id
            sent = time.perf_counter()
            self.send(json.dumps({"jsonrpc": "2.0", "id": ping_id, "method": "ping"}).encode())
            while True:
                answer = self.receive(ping_timeout)
                if answer.get("id") == call_id:
                    assert "result" in answer, answer
                    result = answer["result"]
                elif answer.get("id") == ping_id:
                    times.latencies.append(time.perf_counter() - sent)
                    break
        return result, times

    def close(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
