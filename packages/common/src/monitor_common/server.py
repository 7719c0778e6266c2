"""The MCP server of a `ToolSet`: `MonitorServer`, an `MCPServer` that maps errors, audits calls,
sends a call's log records to its caller, serves the monitor:// resources, and the ui:// views to
clients that declared MCP Apps (`monitor_common.apps`).

    server_for(tools)       the server of a ToolSet, built once, when there is a host to serve
    serve_stdio(server)     run it over stdio, answering lines that are not JSON-RPC

Only this module (with `apps`, `resources`, `_http` and `_jsonrpc`) imports the MCP SDK: `serve`'s
`call` and `tools` run from the declarations without it.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio
from mcp.server import MCPServer
from mcp.server.connection import allowed_log_levels
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.helper_types import ReadResourceContents
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError, UnexpectedToolError
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolResult,
    Completion,
    CompletionArgument,
    CompletionContext,
    EmptyResult,
    GetPromptResult,
    Icon,
    InputRequiredResult,
    LoggingLevel,
    LoggingMessageNotification,
    LoggingMessageNotificationParams,
    PromptReference,
    ResourceTemplateReference,
    SetLevelRequestParams,
    SubscribeRequestParams,
    ToolAnnotations,
    UnsubscribeRequestParams,
)
from mcp_types import Resource as MCPResource
from mcp_types import Tool as MCPTool
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from monitor_common._compact import compact_input, shallow_output
from monitor_common._sdk import connection_state, lowlevel_server
from monitor_common.apps import (
    EXTENSION_ID,
    apps_client,
    model_text,
    note_apps_client,
    tool_meta,
    view_resource,
)
from monitor_common.audit import AuditLog, RedactUrls
from monitor_common.config import Settings, effective_settings, get_settings
from monitor_common.context import session_context
from monitor_common.errors import MonitorError
from monitor_common.notify.targets import SecretsFilter
from monitor_common.targets import redact_url
from monitor_common.toolset import (
    CallContext,
    ToolHints,
    ToolSet,
    ToolSpec,
    monitor_error,
    progress_reporter,
    redacted,
    unknown_tool,
)

if TYPE_CHECKING:
    from monitor_common.watches.service import WatchService

__all__ = [
    "CHECK_ANNOTATIONS",
    "SCHEMA_URI",
    "CallHook",
    "Completer",
    "MonitorServer",
    "build_server",
    "install_call_log_handler",
    "serve_stdio",
    "server_for",
]

logger = logging.getLogger("monitor_common.server")

_F = TypeVar("_F", bound=Callable[..., Any])

# Runs after every successful tool call (e.g. the store recording on-demand results).
CallHook = Callable[[str, dict[str, Any], CallToolResult], Awaitable[None]]

# Offers values for one argument of a prompt or resource template: (what is being completed, the
# argument's name, what the user typed so far) -> candidates, or None when it is not this one's.
Completer = Callable[[PromptReference | ResourceTemplateReference, str, str], Awaitable[list[str] | None]]

# destructiveHint is left out: it means something only for a tool that is not read-only.
CHECK_ANNOTATIONS = ToolAnnotations(read_only_hint=True, open_world_hint=True)  # as toolset.CHECK_HINTS

SCHEMA_URI = "monitor://schemas/{tool}"
MAX_COMPLETIONS = 100  # the protocol's cap on values per completion/complete answer

# MCP log levels, least severe first, and where Python's levels fall among them.
_LOG_LEVELS: tuple[LoggingLevel, ...] = (
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
)
_DEFAULT_LOG_LEVEL: LoggingLevel = "warning"
_LOG_LEVEL_KEY = "monitor_common.log_level"


def _mcp_level(record: logging.LogRecord) -> LoggingLevel:
    if record.levelno >= logging.CRITICAL:
        return "critical"
    if record.levelno >= logging.ERROR:
        return "error"
    if record.levelno >= logging.WARNING:
        return "warning"
    return "info" if record.levelno >= logging.INFO else "debug"


# The log records of the tool call running in this context, to be sent to its caller.
_call_records: ContextVar[list[logging.LogRecord] | None] = ContextVar("_call_records", default=None)


class _CallLogHandler(logging.Handler):
    """Keeps the records logged while a tool call runs (in its context), for its caller."""

    def emit(self, record: logging.LogRecord) -> None:
        records = _call_records.get()
        if records is not None and len(records) < 100:
            records.append(record)


_CALL_LOG_HANDLER = _CallLogHandler()
_CALL_LOG_HANDLER.addFilter(RedactUrls())  # what a call logged is sent to its caller
_CALL_LOG_HANDLER.addFilter(SecretsFilter())


def install_call_log_handler() -> None:
    root = logging.getLogger()
    if _CALL_LOG_HANDLER not in root.handlers:
        root.addHandler(_CALL_LOG_HANDLER)


class MonitorServer(MCPServer):
    """An `MCPServer` whose tools may raise `MonitorError` and whose calls are audited.

    mcp 2.x passes only a `ToolError`'s text to the model; any other exception becomes a bare
    "Error executing tool". Engines raise `MonitorError` subclasses (they know nothing of MCP), so
    the translation happens here, once, for every tool.
    """

    def __init__(self, name: str, *, version: str, instructions: str) -> None:
        # Our own bus, so that background work (the watch scheduler) can publish resource
        # updates to `subscriptions/listen` streams outside any request.
        self.events = InMemorySubscriptionBus()
        super().__init__(
            name=name,
            version=version,
            instructions=instructions,
            log_level="WARNING",
            lifespan=_services_lifespan,
            subscriptions=self.events,
        )
        self.audit: AuditLog | None = AuditLog()
        # Context managers entered for as long as the server runs (`add_service`), and whether
        # their background work should start: `call` runs one tool and leaves it off.
        self.services: list[Callable[[bool], AbstractAsyncContextManager[None]]] = []
        self.run_background = True
        # add_watches: the `watch` CLI runs these; the HTTP transport's status page and /metrics read
        # their store.
        self.watch_services: list[WatchService] = []
        self.call_hooks: list[CallHook] = []
        # How the most recent call ended ("ok", "input", "crash"); the `call` CLI turns it into an
        # exit status. Only meaningful where one call runs at a time.
        self.last_outcome = "ok"
        # Completion sources (the watch store adds watch names and targets); see `complete`.
        self.completers: list[Completer] = [self._complete_tool_name]
        # Per tool, parameters that tools/list shows without their description (they repeat
        # another tool's, e.g. a watch tool's copy of its check's parameters).
        self.brief_parameters: dict[str, frozenset[str]] = {}
        # What a session may set from the query string of /mcp (ToolSet.session_settings).
        self.session_settings: tuple[str, ...] = ()
        # Each tool's full input schema, read from the SDK on first call (see _unusable_number).
        self._input_schemas: dict[str, dict[str, Any]] = {}
        # Per tool, the ui:// view that draws its result, for clients with MCP Apps (`apps`).
        self.views: dict[str, str] = {}
        self.middleware.append(note_apps_client)
        self._register_extras()

    def _register_extras(self) -> None:
        """The full-schema resource, completion/complete and logging/setLevel."""

        @self.resource(
            SCHEMA_URI,
            name="tool-schema",
            description="A tool's full input and output JSON schemas (tools/list shows them abridged)",
            mime_type="application/json",
        )
        async def tool_schema(tool: str) -> str:
            for listed in await super(MonitorServer, self).list_tools():
                if listed.name == tool:
                    schemas = {"inputSchema": listed.input_schema, "outputSchema": listed.output_schema}
                    return json.dumps(schemas, indent=2)
            raise ResourceNotFoundError(f"no tool {tool!r}: tools/list names them")

        @self.resource(
            "monitor://config",
            name="config",
            description="The server's effective settings (secrets hidden)",
            mime_type="application/json",
        )
        def config_resource() -> str:
            return json.dumps(effective_settings(), indent=2)

        @self.completion()
        async def complete(
            ref: PromptReference | ResourceTemplateReference,
            argument: CompletionArgument,
            context: CompletionContext | None,
        ) -> Completion:
            return await self.complete(ref, argument.name, argument.value)

        async def set_level(
            ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams
        ) -> EmptyResult:
            connection_state(ctx.session)[_LOG_LEVEL_KEY] = params.level
            return EmptyResult()

        # On the low-level server: MCPServer has no hook for it (logging is deprecated as of the
        # 2026-07-28 protocol, where a request opts in to log messages itself).
        lowlevel_server(self).add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
        install_call_log_handler()
        del tool_schema, config_resource, complete

    async def complete(
        self, ref: PromptReference | ResourceTemplateReference, argument: str, value: str
    ) -> Completion:
        """Candidates for an argument from every completer, those starting with `value` first."""
        found: list[str] = []
        for completer in self.completers:
            for candidate in await completer(ref, argument, value) or ():
                if candidate not in found:
                    found.append(candidate)
        lowered = value.lower()
        matching = [c for c in found if c.lower().startswith(lowered)]
        matching += [c for c in found if lowered in c.lower() and c not in matching]
        return Completion(
            values=matching[:MAX_COMPLETIONS],
            total=len(matching),
            has_more=len(matching) > MAX_COMPLETIONS,
        )

    async def _complete_tool_name(
        self, ref: PromptReference | ResourceTemplateReference, argument: str, value: str
    ) -> list[str] | None:
        if isinstance(ref, ResourceTemplateReference) and ref.uri == SCHEMA_URI and argument == "tool":
            return [t.name for t in await super().list_tools()]
        return None

    async def list_tools(self) -> list[MCPTool]:
        """The tools as hosts show them to a model: abridged schemas and descriptions.

        See `monitor_common._compact`; the full schemas are the `monitor://schemas/{tool}` resource.
        A tool with a view links it (`_meta.ui`) for a client that declared MCP Apps.
        """
        apps = apps_client.get()
        return [
            tool.model_copy(
                update={
                    "description": inspect.cleandoc(tool.description) if tool.description else None,
                    "input_schema": compact_input(
                        tool.input_schema, brief=self.brief_parameters.get(tool.name, frozenset())
                    ),
                    "output_schema": shallow_output(tool.output_schema) if tool.output_schema else None,
                    "meta": tool_meta(tool.meta, self.views[tool.name])
                    if apps and tool.name in self.views
                    else tool.meta,
                }
            )
            for tool in await super().list_tools()
        ]

    def add_view(self, tool: str, view: str) -> None:
        """Link `tool` to the ui:// `view` drawing its result, and serve the view (`apps`)."""
        if view not in self.views.values():
            self.add_resource(view_resource(view))
        self.views[tool] = view
        # SEP-2133: a server names the extensions it supports in its capabilities (no settings).
        lowlevel_server(self).extensions.setdefault(EXTENSION_ID, {})

    async def list_resources(self) -> list[MCPResource]:
        """The resources; the ui:// views only for a client that declared MCP Apps."""
        listed = await super().list_resources()
        if apps_client.get():
            return listed
        return [r for r in listed if not str(r.uri).startswith("ui://")]

    async def read_resource(
        self, uri: Any, context: Context[Any, Any] | None = None
    ) -> Iterable[ReadResourceContents] | InputRequiredResult:
        if str(uri).startswith("ui://") and not apps_client.get():
            # As for any unknown URI: the view exists only for hosts that can show it.
            raise ResourceNotFoundError(f"Unknown resource: {uri}")
        return await super().read_resource(uri, context)

    def tool(
        self,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        structured_output: bool | None = None,
    ) -> Callable[[_F], _F]:
        """Register a tool; without `annotations` it is marked as a check.

        A check only reads (it changes nothing, here or on the target), reaches the open network,
        and asking again is harmless, so hosts may run it without asking the user each time. Tools
        that change state (watches) pass their own annotations.
        """
        return super().tool(
            name=name,
            title=title,
            description=description,
            annotations=annotations or CHECK_ANNOTATIONS,
            icons=icons,
            meta=meta,
            structured_output=structured_output,
        )

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context[Any, Any] | None = None
    ) -> GetPromptResult | InputRequiredResult:
        """The prompt `name`; an unknown name or a missing required argument is the JSON-RPC error
        -32602 (invalid params) with a message that says what to send, as the specification asks.

        The SDK raises ValueError for both, which reaches the client as -32603 (internal error)
        with a traceback on stderr, as if the server had failed.
        """
        prompts = {prompt.name: prompt for prompt in await self.list_prompts()}
        prompt = prompts.get(name)
        if prompt is None:
            known = ", ".join(sorted(prompts)) or "none"
            raise MCPError(INVALID_PARAMS, f"Unknown prompt: {name}. This server's prompts: {known}")
        given = arguments or {}
        missing = [a.name for a in prompt.arguments or () if a.required and a.name not in given]
        if missing:
            described = "; ".join(
                f"{a.name}: {a.description}" if a.description else a.name
                for a in prompt.arguments or ()
                if a.name in missing
            )
            raise MCPError(
                INVALID_PARAMS, f"Prompt {name} needs the argument {', '.join(missing)} ({described})"
            )
        return await super().get_prompt(name, arguments, context)

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        """Run a tool. An unknown tool is the JSON-RPC error -32602 "Unknown tool" (the 2025-11-25
        specification's protocol error, not a tool result), so that a host does not show the model
        a failed call of a tool that does not exist."""
        if await self._schema_of(name) is None:
            message = unknown_tool(name, self._input_schemas)
            self._finish(name, arguments, time.perf_counter(), error=message, outcome="input")
            raise MCPError(INVALID_PARAMS, message)
        records: list[logging.LogRecord] = []
        token = _call_records.set(records)
        try:
            with session_context(self._session_changes(name, arguments, context)):
                return await self._call_tool(name, arguments, context)
        finally:
            _call_records.reset(token)
            if records and context is not None:
                await self._send_logs(context, records)

    def _session_changes(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None
    ) -> dict[str, Any]:
        """The settings the session of this call set in the query string of /mcp (Smithery's
        session configuration, `session_config`); none over stdio or without a query."""
        if context is None or not self.session_settings:
            return {}
        try:
            request = context.request_context.request
        except ValueError:  # a direct call
            return {}
        query = getattr(request, "query_params", None)  # a Starlette request over HTTP
        if query is None or not query:
            return {}
        from monitor_common.session_config import session_changes

        try:
            return session_changes(
                {key: query.getlist(key) for key in query}, self.session_settings, get_settings()
            )
        except MonitorError as exc:  # the transport refused it already (400); named again here
            self._finish(name, arguments, time.perf_counter(), error=str(exc), outcome="input")
            raise ToolError(str(exc)) from exc

    async def _send_logs(self, context: Context[Any, Any], records: list[logging.LogRecord]) -> None:
        """Send what was logged during a call to its caller as notifications/message.

        Up to the 2025 protocol, at or above the level the client set with logging/setLevel
        (warning until it does); from 2026-07-28, at or above the level the request opted in to.
        """
        try:
            request = context.request_context
        except ValueError:
            return  # a direct call, no client to tell
        session = request.session
        if session.protocol_version in MODERN_PROTOCOL_VERSIONS:
            allowed = allowed_log_levels(session.protocol_version, request.meta)
        else:
            level = connection_state(session).get(_LOG_LEVEL_KEY, _DEFAULT_LOG_LEVEL)
            allowed = frozenset(_LOG_LEVELS[_LOG_LEVELS.index(level) :])
        for record in records:
            level = _mcp_level(record)
            if level not in allowed:
                continue
            try:
                text = record.getMessage()
            except (TypeError, ValueError):  # a log call whose arguments do not fit its format
                text = f"{record.msg!s} {record.args!r}"
            message = LoggingMessageNotification(
                params=LoggingMessageNotificationParams(level=level, logger=record.name, data=text)
            )
            try:
                await session.send_notification(message, related_request_id=request.request_id)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return  # the client has gone; the log line went to stderr anyway

    async def _call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None
    ) -> CallToolResult | InputRequiredResult:
        started = time.perf_counter()
        problem = await self._unusable_number(name, arguments)
        if problem is not None:  # as ToolSpec.validate says it, for `call`
            message = f"Error executing tool {name}: {problem}"
            self._finish(name, arguments, started, error=message, outcome="input")
            raise ToolError(message)
        try:
            result = await super().call_tool(name, arguments, context)
        except UnexpectedToolError as exc:
            cause = monitor_error(exc.__cause__)
            if isinstance(cause, MonitorError):
                message = str(redacted(cause))
                self._finish(name, arguments, started, error=message, outcome="input")
                raise ToolError(message) from cause
            self._finish(
                name, arguments, started, error=f"internal error: {type(cause).__name__}", outcome="crash"
            )
            raise
        except ToolError as exc:
            # Arguments that fail the input schema: the caller's to fix (a tool execution error
            # since 2025-11-25, so the model can correct them). The SDK's message may quote the
            # arguments, a URL's password with them.
            text = redact_url(str(exc))
            self._finish(name, arguments, started, error=text, outcome="input")
            if text != str(exc):
                raise ToolError(text) from exc
            raise
        if isinstance(result, CallToolResult) and name in self.views and apps_client.get():
            result = model_text(result, self.views[name])
        verdict: object = None
        if isinstance(result, CallToolResult) and result.structured_content is not None:
            verdict = cast("dict[str, Any]", result.structured_content).get("verdict")
            for hook in self.call_hooks:
                await hook(name, arguments, result)
        self._finish(name, arguments, started, verdict=str(verdict) if verdict is not None else None)
        return result

    async def _schema_of(self, name: str) -> dict[str, Any] | None:
        """The full input schema of the tool `name`, None when there is no such tool."""
        schema = self._input_schemas.get(name)
        if schema is None:  # a tool added since, or none: read them again
            self._input_schemas = {t.name: t.input_schema for t in await super().list_tools()}
            schema = self._input_schemas.get(name)
        return schema

    async def _unusable_number(self, name: str, arguments: dict[str, Any]) -> str | None:
        """NaN, infinities and booleans given for numbers (`monitor_common._numbers`), which the
        SDK's argument model would take; checked against the tool's full input schema."""
        from monitor_common._numbers import unusable_number

        return unusable_number(arguments, await self._schema_of(name) or {})

    def add_watches(self, service: WatchService) -> None:
        """Offer a watch service's watches as resources and run its scheduler while the server runs."""
        from monitor_common.resources import WATCH_TEMPLATE, WATCHES_URI, WatchResources

        resources = WatchResources(service, self.events)
        self.resource(
            WATCHES_URI,
            name="watches",
            description=resources.watches_description,
            mime_type="application/json",
        )(resources.watches)
        self.resource(
            WATCH_TEMPLATE,
            name="watch",
            description="One watch's last 24 hours: uptime, latency, incidents, last result",
            mime_type="application/json",
        )(resources.watch)
        # Hosts on the 2025 protocol subscribe with resources/subscribe (the 2026 protocol's
        # subscriptions/listen is served by the SDK from `self.events`). MCPServer has no
        # decorator for it, so the handlers go on its low-level server.
        lowlevel = lowlevel_server(self)
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, resources.subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, resources.unsubscribe)
        self.completers.append(resources.complete)
        self.call_hooks.append(resources.record)
        self.add_service(service.running)
        self.watch_services.append(service)

    def add_service(self, service: Callable[[bool], AbstractAsyncContextManager[None]]) -> None:
        """Enter `service(run_background)` while the server runs (stdio, HTTP or an in-process client)."""
        self.services.append(service)

    def _finish(
        self,
        tool: str,
        arguments: dict[str, Any],
        started: float,
        *,
        verdict: str | None = None,
        error: str | None = None,
        outcome: str = "ok",
    ) -> None:
        self.last_outcome = outcome
        if self.audit is not None:
            self.audit.record(
                server=self.name,
                tool=tool,
                arguments=arguments,
                duration_ms=(time.perf_counter() - started) * 1000,
                verdict=verdict,
                error=error,
            )


@asynccontextmanager
async def _services_lifespan(server: MCPServer[Any]) -> AsyncGenerator[None]:
    assert isinstance(server, MonitorServer)
    async with AsyncExitStack() as stack:
        for service in server.services:
            await stack.enter_async_context(service(server.run_background))
        yield


async def serve_stdio(server: MonitorServer) -> None:
    """`run_stdio_async`, but lines that are not JSON-RPC messages get the error the spec asks for.

    The SDK's stdio transport hands such lines to the session as exceptions, which drops them
    silently: a client that sent a malformed request would wait for an answer forever.
    """
    from mcp.shared.message import SessionMessage

    from monitor_common._jsonrpc import protocol_error
    from monitor_common._stdio import checked_stdio  # the SDK's stdio_server, answering bad ids

    async with checked_stdio() as (read_stream, write_stream):
        relay_send, relay_receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def relay() -> None:
            async with relay_send:
                async for item in read_stream:
                    if isinstance(item, Exception):
                        await write_stream.send(SessionMessage(protocol_error(item)))
                    else:
                        await relay_send.send(item)

        async with anyio.create_task_group() as group:
            group.start_soon(relay)
            lowlevel = lowlevel_server(server)  # as run_stdio_async does, on our streams
            await lowlevel.run(relay_receive, write_stream, lowlevel.create_initialization_options())


def annotations_of(hints: ToolHints) -> ToolAnnotations:
    """The MCP annotations of a tool's hints (a hint not given is left out, not sent as null)."""
    given: dict[str, bool | None] = {
        "read_only_hint": hints.read_only,
        "destructive_hint": hints.destructive,
        "idempotent_hint": hints.idempotent,
        "open_world_hint": hints.open_world,
    }
    return ToolAnnotations.model_validate({k: v for k, v in given.items() if v is not None})


def _adapted(spec: ToolSpec) -> Callable[..., Awaitable[Any]]:
    """The function the SDK registers for `spec`: the tool itself, or, when it takes a
    `CallContext`, a wrapper that takes the SDK's Context there and passes on its progress."""
    injected = spec.injected
    if injected is None:
        return spec.fn
    fn = spec.fn
    signature = inspect.signature(fn, eval_str=True)

    @functools.wraps(fn)
    async def tool(*args: Any, **kwargs: Any) -> Any:
        ctx = kwargs.get(injected)
        kwargs[injected] = CallContext(
            progress=progress_reporter(ctx) if ctx is not None else None, apps=apps_client.get()
        )
        return await fn(*args, **kwargs)

    parameters = [
        p.replace(annotation=Context[Any, Any] | None if p.default is None else Context[Any, Any])
        if p.name == injected
        else p
        for p in signature.parameters.values()
    ]
    tool.__signature__ = signature.replace(parameters=parameters)  # pyright: ignore[reportAttributeAccessIssue]
    # The SDK finds the Context parameter with get_type_hints, which reads __annotations__.
    tool.__annotations__ = {p.name: p.annotation for p in parameters} | {
        "return": signature.return_annotation
    }
    del tool.__wrapped__  # pyright: ignore[reportFunctionMemberAccess]
    return tool


@functools.cache
def server_for(tools: ToolSet) -> MonitorServer:
    """The MCP server of `tools` under the settings in force (`build_server`). Built once per
    ToolSet, so that `server.mcp` is one object however often it is read."""
    return build_server(tools, get_settings())


def build_server(tools: ToolSet, settings: Settings) -> MonitorServer:
    """A new MCP server of `tools`: its tools in declaration order, with the annotations
    `settings` give them, then the watches' resources, then the prompts."""
    server = MonitorServer(tools.name, version=tools.version, instructions=tools.instructions)
    server.session_settings = tools.session_settings
    for spec in tools.tools.values():
        server.add_tool(
            _adapted(spec),
            name=spec.name,
            title=spec.title,
            annotations=annotations_of(spec.hints_for(settings)),
            structured_output=spec.structured_output,
        )
        if spec.brief:
            server.brief_parameters[spec.name] = spec.brief
        if spec.view:
            server.add_view(spec.name, spec.view)
    for service in tools.watches:
        server.add_watches(service)
    for prompt in tools.prompts:
        server.prompt(title=prompt.title)(prompt.fn)
    return server
