"""MonitorServer's services (entered while it runs) and call hooks (after each successful call)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from mcp_types import CallToolResult
from monitor_common.results import CheckResult, Stopwatch
from monitor_common.serve import main
from monitor_common.server import MonitorServer


def server_with_probes() -> tuple[MonitorServer, list[str], list[tuple[str, dict[str, Any]]]]:
    server = MonitorServer("svc-test", version="0", instructions="A server to test services and hooks.")
    events: list[str] = []
    calls: list[tuple[str, dict[str, Any]]] = []

    @server.tool()
    async def ping_check(fail: bool = False) -> CheckResult:
        """Answer ok, or raise when asked to fail."""
        if fail:
            from monitor_common.errors import InputError

            raise InputError("asked to fail")
        return CheckResult.build(summary="pong", findings=[], started=Stopwatch())

    @asynccontextmanager
    async def service(run_background: bool) -> AsyncGenerator[None]:
        events.append(f"enter background={run_background}")
        try:
            yield
        finally:
            events.append("exit")

    async def hook(tool: str, arguments: dict[str, Any], result: CallToolResult) -> None:
        calls.append((tool, arguments))

    server.add_service(service)
    server.call_hooks.append(hook)
    return server, events, calls


async def test_services_run_with_the_server_and_hooks_see_successful_calls() -> None:
    server, events, calls = server_with_probes()
    async with Client(server) as client:
        assert events == ["enter background=True"]
        assert not (await client.call_tool("ping_check", {})).is_error
        assert (await client.call_tool("ping_check", {"fail": True})).is_error
    assert events == ["enter background=True", "exit"]
    assert calls == [("ping_check", {})]  # failed calls are not handed to hooks


def test_the_call_command_runs_no_background_work(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    server, events, _ = server_with_probes()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with pytest.raises(SystemExit) as exited:
            main(server, ["call", "ping_check"])
    finally:  # main() configures logging for a process; give the test session its own back
        root.handlers[:] = handlers
        root.setLevel(level)
    assert exited.value.code == 0
    assert events == ["enter background=False", "exit"]
    assert '"summary": "pong"' in capsys.readouterr().out


def test_the_call_command_names_an_unknown_tool(capsys: pytest.CaptureFixture[str]) -> None:
    # A hand-built server answers an unknown tool with the protocol error -32602: `call` prints
    # its message and exits 64 (the caller's mistake), as it does from the declarations.
    import logging

    server, _, _ = server_with_probes()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        with pytest.raises(SystemExit) as exited:
            main(server, ["call", "no_such_tool"])
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert exited.value.code == 64
    err = capsys.readouterr().err
    assert "Unknown tool: no_such_tool. This server's tools: " in err and "ping_check" in err
    assert '"error":"Unknown tool: no_such_tool' in err  # the audit line
