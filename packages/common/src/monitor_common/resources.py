"""The MCP side of a server's watches: the watch resources, their subscriptions, completion of
watch names and targets, and recording on-demand results. `server.MonitorServer.add_watches`
registers these on the server; this module holds what they do.

- `monitor://watches` and `monitor://watches/{name}`; a watch's state change publishes
  `resources/updated` for both to `subscriptions/listen` streams (2026 protocol, the server's
  event bus) and to the sessions that sent `resources/subscribe` (2025 protocol).
- completion of the watch resource's `name` (the watches' names) and of a prompt's target
  argument (what is watched, as the user most likely asks about something they watch).
- when `MCP_MONITOR_RECORD=true`, every on-demand check's result is stored (a call hook).

`monitor://config`, the effective settings, is every server's (`server.MonitorServer`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.subscriptions import ResourceUpdated
from mcp_types import (
    CallToolResult,
    EmptyResult,
    PromptReference,
    ResourceTemplateReference,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)

from monitor_common.errors import InputError, StoreError
from monitor_common.watches.models import watch_uri

if TYPE_CHECKING:
    from mcp.server.session import ServerSession

    from monitor_common.watches.service import WatchService

__all__ = ["MAX_LEGACY_SUBSCRIBERS", "WATCHES_URI", "WATCH_TEMPLATE", "WatchResources"]

MAX_LEGACY_SUBSCRIBERS = 256
WATCHES_URI = "monitor://watches"
WATCH_TEMPLATE = "monitor://watches/{name}"


def _same_client(a: ServerSession, b: ServerSession) -> bool:
    return a.client_params is not None and a.client_params is b.client_params


class WatchResources:
    """The resources, subscriptions, completions and recording of one watch service."""

    def __init__(self, service: WatchService, events: InMemorySubscriptionBus) -> None:
        self.service = service
        self.events = events
        # Clients on the 2025 protocol that sent resources/subscribe, per URI: a session of
        # each (the SDK makes one per request; all of a connection's share its client_params).
        self.legacy_subscribers: dict[str, list[ServerSession]] = {}
        service.listeners.append(self.publish)

    @property
    def watches_description(self) -> str:
        return f"Every {self.service.kind.kind} watch of this server with its state; updated when one changes state"

    async def watches(self) -> str:
        """The `monitor://watches` resource."""
        handle = self.service.handle
        try:
            store = await handle.require()
            watches = await store.list_watches(self.service.kind.kind)
        except StoreError as exc:
            await handle.reset()
            raise ResourceError(str(exc)) from exc
        return json.dumps([self.service.info(w).model_dump(mode="json") for w in watches], indent=2)

    async def watch(self, name: str) -> str:
        """The `monitor://watches/{name}` resource."""
        try:
            report = await self.service.report(name, "24h")
        except InputError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except StoreError as exc:
            raise ResourceError(str(exc)) from exc
        return report.model_dump_json(indent=2)

    async def publish(self, name: str) -> None:
        """Tell subscribers that the watch `name` (and so the list) changed."""
        for uri in (WATCHES_URI, watch_uri(name)):
            await self.events.publish(ResourceUpdated(uri=uri))
            for session in list(self.legacy_subscribers.get(uri, ())):
                try:
                    await session.send_resource_updated(uri)
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    self.legacy_subscribers[uri].remove(session)  # the client has gone

    async def subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        """resources/subscribe (2025 protocol)."""
        subscribers = self.legacy_subscribers.setdefault(str(params.uri), [])
        if not any(_same_client(s, ctx.session) for s in subscribers):
            subscribers.append(ctx.session)
            # The SDK drops sends to a client that has gone without telling us; the oldest
            # subscriptions make way so that a long-running HTTP server does not collect them.
            del subscribers[:-MAX_LEGACY_SUBSCRIBERS]
        return EmptyResult()

    async def unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        """resources/unsubscribe (2025 protocol)."""
        subscribers = self.legacy_subscribers.get(str(params.uri), [])
        subscribers[:] = [s for s in subscribers if not _same_client(s, ctx.session)]
        return EmptyResult()

    async def complete(
        self, ref: PromptReference | ResourceTemplateReference, argument: str, value: str
    ) -> list[str] | None:
        """Watch names for the watch resource, watched targets for a prompt's target argument."""
        kind = self.service.kind
        names = (
            isinstance(ref, ResourceTemplateReference) and ref.uri == WATCH_TEMPLATE and argument == "name"
        )
        targets = isinstance(ref, PromptReference) and argument == kind.target_parameter
        if not (names or targets):
            return None
        try:
            store = await self.service.handle.require()
            watches = await store.list_watches(kind.kind)
        except StoreError:
            await self.service.handle.reset()
            return []
        if names:
            return [w.name for w in watches]
        return [t for t in (kind.target_of(w.definition) for w in watches) if t]

    async def record(self, tool: str, arguments: dict[str, Any], result: CallToolResult) -> None:
        """The call hook: store an on-demand check's result when MCP_MONITOR_RECORD is on."""
        await self.service.record_call(
            tool, arguments, cast("dict[str, Any]", result.structured_content or {})
        )
