"""Every tool of every server, driven through the in-process client with generated hostile input.

The answer must be a result or a `ToolError` with a message of its own: the SDK's bare
"Error executing tool X" means an exception escaped the tool (a crash), and a call that takes
longer than its timeout plus a margin counts as a hang. Everything stays on loopback (see
`fuzz.strategies` and `fuzz_settings`).
"""

from __future__ import annotations

import importlib
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import assume, given
from mcp import Client
from monitor_common.config import Settings
from monitor_common.server import MonitorServer
from support.reliability import record

from fuzz.conftest import CALL_BOUND_S, PROFILE
from fuzz.strategies import arguments_for, reaches_public

SERVERS = {"http": "http_monitor.server", "ssl": "ssl_monitor.server", "dns": "dns_monitor.server"}


def _server(name: str) -> MonitorServer:
    server = importlib.import_module(SERVERS[name]).mcp
    assert isinstance(server, MonitorServer)
    return server


def _tools() -> list[tuple[str, str, dict[str, Any]]]:
    found: list[tuple[str, str, dict[str, Any]]] = []
    for name in SERVERS:
        tools = anyio.run(_server(name).list_tools)
        found += [(name, tool.name, tool.input_schema) for tool in tools]
    return found


TOOLS = _tools()


# What the SDK says, and all it says, when a tool raised something other than a ToolError.
_CRASH = re.compile(r"Error executing tool \w+(: Error executing tool \w+)*")


async def answer(client: Client, server: MonitorServer, tool: str, arguments: dict[str, Any]) -> str:
    """Call `tool`; "result" or "tool_error", or an AssertionError saying what went wrong."""
    with anyio.fail_after(CALL_BOUND_S):
        result = await client.call_tool(tool, arguments)
    if result.is_error:
        text = " ".join(c.text for c in result.content if c.type == "text").strip()
        assert text and not _CRASH.fullmatch(text), f"{tool} crashed (no message of its own): {text!r}"
        assert server.last_outcome != "crash", text
        return "tool_error"
    assert isinstance(result.structured_content, dict), result.content
    return "result"


def test_every_server_is_fuzzed() -> None:
    by_server = Counter(server for server, _, _ in TOOLS)
    assert set(by_server) == set(SERVERS) and all(count >= 8 for count in by_server.values()), by_server
    assert {"http_watch", "cert_watch", "dns_watch"} <= {tool for _, tool, _ in TOOLS}


@pytest.fixture(scope="module")
def tally() -> Iterator[Counter[str]]:
    """Cases run per server, recorded when the module is done."""
    cases: Counter[str] = Counter()
    yield cases
    for server, count in sorted(cases.items()):
        tools = sum(1 for s, _, _ in TOOLS if s == server)
        record("fuzz", f"{server} cases", count, "cases", tools=tools, profile=PROFILE)


@pytest.mark.parametrize(("server", "tool", "schema"), TOOLS, ids=[f"{s}.{t}" for s, t, _ in TOOLS])
def test_tool_answers_hostile_input(
    server: str, tool: str, schema: dict[str, Any], fuzz_settings: Settings, tally: Counter[str]
) -> None:
    mcp = _server(server)
    mcp.run_background = False  # the watch scheduler would run generated watches meanwhile
    outcomes: Counter[str] = Counter()
    try:
        with start_blocking_portal() as portal, portal.wrap_async_context_manager(Client(mcp)) as client:

            @given(arguments=arguments_for(schema))
            def case(arguments: dict[str, Any]) -> None:
                assume(not reaches_public(arguments))
                outcomes[portal.call(answer, client, mcp, tool, arguments)] += 1

            try:
                case()
            finally:
                if server == "http":
                    from http_monitor.session import close_shared_clients

                    portal.call(close_shared_clients)
    finally:
        mcp.run_background = True
    tally[server] += outcomes.total()
    record("fuzz", f"{server}.{tool}", outcomes.total(), "cases", server=server, profile=PROFILE, **outcomes)
    # Both kinds of answer are reached: the generator exercises the checks, not only validation.
    assert outcomes["tool_error"] > 0, outcomes
