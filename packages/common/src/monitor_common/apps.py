"""MCP Apps (extension `io.modelcontextprotocol/ui`, SEP-1865), offered only to the clients that
declare it.

A host that renders MCP Apps says so at initialize (on the 2026 protocol, in each request's
capabilities): `capabilities.extensions["io.modelcontextprotocol/ui"]` with
`"mimeTypes": ["text/html;profile=mcp-app"]`. For such a client, and only for it:

1. `tools/list`: a tool declared with a view (`ToolSpec.view`, the `*_watch_report` tools) carries
   `_meta.ui.resourceUri`, the view's `ui://` URI;
2. `resources/list` and `resources/read`: the `ui://` views (`monitor_common.views`), served as
   `text/html;profile=mcp-app` with `_meta.ui.csp` empty allow-lists: the view loads nothing and
   connects nowhere, it draws the tool result the host hands it over the Apps bridge;
3. `tools/call`: the tool's `CallContext` has `apps=True` (the watch report adds the timeline the
   view draws to its structuredContent); the result's text, which the model reads, is the
   structured result without what only the view draws (`views.for_the_model`), as for any host.

Every other client sees the server exactly as it did before: no `_meta.ui`, no `ui://`
resource (reading one by its URI is refused as unknown), the same results.

Why a middleware: `MCPServer` builds `tools/list` and `resources/list` without the request
(`list_tools()` takes no context), and the SDK's own `Apps` extension offers its tools and
resources to every client alike. A server middleware (`MCPServer.middleware`, public though marked
provisional) sees each request's context before its handler runs; it records in a context
variable whether this request's client declared the extension, and the handlers, which run inside
it in the same task, read it. Would be replaced by: a request context passed to
`MCPServer.list_tools`/`list_resources`, or per-client gating in `mcp.server.apps.Apps`.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, cast

from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID, ResourceCsp, client_supports_apps
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver.resources import TextResource
from mcp_types import CallToolResult, TextContent
from pydantic_core import to_json

from monitor_common.views import VIEWS, for_the_model, view_html

__all__ = [
    "APP_MIME_TYPE",
    "EMPTY_CSP",
    "EXTENSION_ID",
    "apps_client",
    "model_text",
    "note_apps_client",
    "tool_meta",
    "view_resource",
]

# Whether the client of the request being handled declared MCP Apps; False outside requests
# (the `call` command, a direct `list_tools()`), so nothing changes there.
apps_client: ContextVar[bool] = ContextVar("apps_client", default=False)

# Every allow-list empty: the view fetches, loads and frames nothing (the host's CSP then allows
# no origin at all).
EMPTY_CSP = ResourceCsp(connect_domains=[], resource_domains=[], frame_domains=[], base_uri_domains=[])


async def note_apps_client(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Server middleware: run the request with `apps_client` set for its client."""
    token = apps_client.set(client_supports_apps(ctx))
    try:
        return await call_next(ctx)
    finally:
        apps_client.reset(token)


def tool_meta(meta: dict[str, Any] | None, view: str) -> dict[str, Any]:
    """A tool's `_meta` with `ui.resourceUri` linking its view."""
    return {**(meta or {}), "ui": {"resourceUri": view}}


def model_text(result: CallToolResult, view: str) -> CallToolResult:
    """`result` whose text (what the model reads) leaves out what only `view` draws; written as
    the SDK writes a structured result's text (JSON, indented by 2)."""
    raw: object = result.structured_content
    if result.is_error or not isinstance(raw, dict):
        return result
    shown = for_the_model(view, cast("dict[str, Any]", raw))
    text = TextContent(type="text", text=to_json(shown, indent=2).decode())
    return result.model_copy(update={"content": [text]})


def view_resource(uri: str) -> TextResource:
    """The `ui://` resource of a view, with its empty CSP."""
    _, description = VIEWS[uri]
    return TextResource(
        uri=uri,
        name=uri.removeprefix("ui://"),
        description=description,
        mime_type=APP_MIME_TYPE,
        meta={"ui": {"csp": EMPTY_CSP.model_dump(by_alias=True)}},
        text=view_html(uri),
    )
