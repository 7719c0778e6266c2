"""Every use of a private attribute of the MCP SDK or httpx2, each with why and what would replace it.

The project otherwise uses public API only. When an upgrade renames one of these,
`tests/common/test_sdk.py` fails and names the function here to fix; nothing else should reach
into the libraries' internals. The libraries are not imported here (only their types, for pyright):
callers already hold the objects, and `call`/`tools` must not load the SDK.

    lowlevel_server(server)          MCPServer._lowlevel_server
    connection_state(session)        ServerSession._connection.state
    replace_pool(transport, pool)    httpx2.AsyncHTTPTransport._pool
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx2
    from mcp.server import MCPServer
    from mcp.server.lowlevel import Server
    from mcp.server.session import ServerSession

__all__ = ["PRIVATE_ATTRIBUTES", "connection_state", "lowlevel_server", "replace_pool"]

# (library, owner, attribute): what the test checks, in the order of the functions below.
PRIVATE_ATTRIBUTES = (
    ("mcp", "MCPServer", "_lowlevel_server"),
    ("mcp", "ServerSession", "_connection"),
    ("httpx2", "AsyncHTTPTransport", "_pool"),
)


def lowlevel_server(server: MCPServer[Any]) -> Server[Any]:
    """The low-level `Server` under an `MCPServer`.

    Why: MCPServer has no way to add a request handler for a method it does not serve itself
    (`resources/subscribe`, `resources/unsubscribe`, `logging/setLevel`), no way to run
    over streams other than its own stdio transport (`server.serve_stdio` answers malformed lines),
    and no way to advertise an extension (`Server.extensions`, MCP Apps) after construction.
    Would be replaced by: a public `MCPServer.add_request_handler(method, params_type, handler)` (the
    SDK's `Extension.methods()` is public but adds methods only at construction and cannot replace
    one), `MCPServer.run(read_stream, write_stream)` and an `MCPServer.extensions` to advertise in.
    """
    return server._lowlevel_server  # pyright: ignore[reportPrivateUsage]


def connection_state(session: ServerSession) -> dict[str, Any]:
    """The per-connection scratch state (`Connection.state`) of a request's session.

    Why: the log level a 2025-protocol client sets with `logging/setLevel` holds for the rest of
    its connection, and the request context our handlers receive (`ServerRequestContext`) carries
    the session but not the connection that owns the state.
    Would be replaced by: `ServerRequestContext.connection` (the newer `mcp.server.context.Context`
    has it) or a public `ServerSession.connection`.
    """
    return session._connection.state  # pyright: ignore[reportPrivateUsage]


def replace_pool(transport: httpx2.AsyncHTTPTransport, pool: object) -> None:
    """Make `transport` send through `pool` (anything with httpcore2's pool interface:
    handle_async_request, aclose, __aenter__, __aexit__) instead of the pool it would build.

    Why: the network policy is enforced by the httpcore2 network backend that dials each
    connection (`httpclient.GuardedBackend`), and `AsyncHTTPTransport` builds its pool itself
    without taking a backend - and builds an SSL context at once, which an http:// check does not
    need. `GuardedTransport` therefore does not call `AsyncHTTPTransport.__init__`, which sets
    nothing but `_pool`, and sets `_pool` here.
    Would be replaced by: a `network_backend=` argument of `httpx2.AsyncHTTPTransport` and a
    lazily built SSL context (or a transport that wraps an httpcore2 pool given to it).
    """
    transport._pool = pool  # pyright: ignore[reportPrivateUsage, reportAttributeAccessIssue]
