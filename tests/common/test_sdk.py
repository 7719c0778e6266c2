"""The private SDK and httpx2 attributes that `monitor_common._sdk` relies on are still there.

Each failure names the attribute and the `_sdk` function to fix: an upgrade that renames one
must fail here, loudly, not as a log level silently ignored or a policy silently bypassed.
"""

from __future__ import annotations

from typing import Any

import httpcore2
import httpx2
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from monitor_common import _sdk
from monitor_common.context import CheckContext
from monitor_common.httpclient import GuardedTransport
from monitor_common.netpolicy import NetworkPolicy


def renamed(library: str, owner: str, attribute: str) -> str:
    return (
        f"{library} no longer has {owner}.{attribute}: monitor_common._sdk relies on it "
        f"(see the function there that uses it for what public API could replace it)"
    )


def test_every_private_attribute_is_listed_once() -> None:
    assert len(set(_sdk.PRIVATE_ATTRIBUTES)) == len(_sdk.PRIVATE_ATTRIBUTES) == 3


def test_mcpserver_has_its_lowlevel_server() -> None:
    server = MCPServer(name="sdk-check")
    assert hasattr(server, "_lowlevel_server"), renamed("mcp", "MCPServer", "_lowlevel_server")
    lowlevel = _sdk.lowlevel_server(server)
    for method in ("add_request_handler", "run", "create_initialization_options"):
        assert callable(getattr(lowlevel, method, None)), renamed("mcp", "lowlevel Server", method)


async def test_a_request_session_has_its_connection_state() -> None:
    server = MCPServer(name="sdk-check")
    seen: list[Any] = []

    @server.tool()
    async def probe(ctx: Context[Any, Any]) -> str:
        session = ctx.request_context.session
        connection = getattr(session, "_connection", None)
        seen.append(getattr(connection, "state", None))
        if connection is not None and isinstance(connection.state, dict):
            _sdk.connection_state(session)["k"] = "v"
        return "ok"

    async with Client(server) as client:
        await client.call_tool("probe", {})
        await client.call_tool("probe", {})
    assert seen[0] is not None, renamed("mcp", "ServerSession", "_connection.state")
    assert isinstance(seen[0], dict)
    # The state outlives the request: the second call sees what the first one set.
    assert seen[1].get("k") == "v", "mcp: Connection.state is no longer per connection"


def test_transport_sends_through_the_pool_it_is_given() -> None:
    transport = httpx2.AsyncHTTPTransport(verify=False)
    assert isinstance(getattr(transport, "_pool", None), httpcore2.AsyncConnectionPool), renamed(
        "httpx2", "AsyncHTTPTransport", "_pool"
    )
    # GuardedTransport skips AsyncHTTPTransport.__init__: it must set nothing else.
    assert set(vars(transport)) == {"_pool"}, (
        f"httpx2's AsyncHTTPTransport.__init__ now sets {sorted(vars(transport))}: "
        "monitor_common._sdk.replace_pool and httpclient.GuardedTransport must set those too"
    )
    guarded = GuardedTransport(CheckContext(policy=NetworkPolicy()))
    pools: Any = getattr(guarded, "_pool", None)
    assert pools is not None and pools.plain._network_backend is guarded.backend, renamed(
        "httpx2", "AsyncHTTPTransport", "_pool"
    )


async def test_guarded_transport_refuses_through_the_replaced_pool() -> None:
    # End to end: if the pool were not replaced, this would dial loopback.
    from monitor_common.errors import PolicyError

    async with httpx2.AsyncClient(transport=GuardedTransport(CheckContext(policy=NetworkPolicy()))) as client:
        with pytest.raises(PolicyError):
            await client.get("http://localhost:9/")
