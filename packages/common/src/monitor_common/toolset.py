"""A server's tools as declarations (`ToolSet`), and running one of them without the MCP SDK.

Each `server.py` declares its tools on a `ToolSet`:

    tools = ToolSet("mcp-http-monitor", version=__version__, instructions="...")

    @tools.tool(title="Check a URL")
    async def http_check(url: str, ...) -> HttpCheckResult: ...

The MCP server (`monitor_common.server.MonitorServer`) is built from the declarations only when
there is a host to serve (`server_for(tools)`). `call` and `tools` on the command line run the
engine straight from them (`ToolSet.call`): the same argument validation as the SDK's (a
pydantic model of the signature, built the same way, with the same messages), the same JSON
result, without importing the SDK (about half a second of every cron run).

A tool that reports progress takes a `CallContext` parameter; the MCP adapter fills it from the
SDK's request context, a direct call passes one without progress. Nothing here imports `mcp`.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

from monitor_common.callcontext import CallContext, is_injected, progress_reporter
from monitor_common.errors import InputError, MonitorError
from monitor_common.targets import redact_url

if TYPE_CHECKING:
    from pydantic import BaseModel

    from monitor_common.config import Settings
    from monitor_common.watches.service import WatchService

__all__ = [
    "CHECK_HINTS",
    "CallContext",
    "HintsRule",
    "PromptSpec",
    "ToolCrashed",
    "ToolHints",
    "ToolSet",
    "ToolSpec",
    "is_injected",
    "monitor_error",
    "progress_reporter",
    "unknown_tool",
]

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ToolHints:
    """What a tool does to the world, for hosts deciding whether to ask the user first (MCP's
    ToolAnnotations; None: not said)."""

    read_only: bool | None = None
    destructive: bool | None = None
    idempotent: bool | None = None
    open_world: bool | None = None


# A check only reads (it changes nothing, here or on the target) and reaches the open network, so
# hosts may run it without asking the user each time. destructiveHint and idempotentHint are left
# out: the specification gives them a meaning only for a tool that is not read-only.
CHECK_HINTS = ToolHints(read_only=True, open_world=True)

# A tool's hints, or how the operator's settings decide them (http_check is read-only only while
# the server sends nothing but safe methods).
HintsRule = ToolHints | Callable[["Settings"], ToolHints]


def unknown_tool(name: str, known: Iterable[str]) -> str:
    """The message for a call of a tool that does not exist, the same from `call` and from a host."""
    return f"Unknown tool: {name}. This server's tools: {', '.join(known)}"


class ToolCrashed(MonitorError):
    """A tool raised something that is not a MonitorError: a bug. Its message, like the SDK's, says
    no more than that (the exception's text stays on the server), and it is the cause."""


def monitor_error(exc: BaseException | None) -> BaseException | None:
    """`exc`, or the MonitorError inside it when a task group wrapped only MonitorErrors.

    Engines that ask several servers at once (anyio task groups) get their errors back as an
    ExceptionGroup; a refused address found by one of the tasks is still the caller's to fix.
    """
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    group = cast("BaseExceptionGroup[BaseException]", exc)
    matched, rest = group.split(MonitorError)
    while rest is None and matched is not None:
        first = matched.exceptions[0]
        if not isinstance(first, BaseExceptionGroup):
            return first
        matched = cast("BaseExceptionGroup[BaseException]", first)
    return group


def redacted(error: MonitorError) -> MonitorError:
    """`error` with the password of every URL in its message hidden. The message goes to the
    caller, the log and the audit line, and often quotes the arguments it refuses."""
    text = str(error)
    shown = redact_url(text)
    if shown != text:
        error.args = (shown, *error.args[1:])
    return error


@dataclass
class ToolSpec:
    """One declared tool: its function and what the MCP listing says about it."""

    fn: Callable[..., Any]
    name: str
    hints: HintsRule = CHECK_HINTS
    structured_output: bool | None = None
    # Parameters tools/list shows without their description (they repeat another tool's).
    brief: frozenset[str] = frozenset()
    # The ui:// view (`monitor_common.views`) that draws its result, for hosts with MCP Apps.
    view: str | None = None
    title: str | None = None  # what a host shows a person (the name is for the model)

    @property
    def description(self) -> str:
        return inspect.cleandoc(self.fn.__doc__ or "")

    def hints_for(self, settings: Settings) -> ToolHints:
        """The tool's hints under `settings`."""
        return self.hints if isinstance(self.hints, ToolHints) else self.hints(settings)

    @cached_property
    def _signature(self) -> inspect.Signature:
        return inspect.signature(self.fn, eval_str=True)

    @cached_property
    def injected(self) -> str | None:
        """The parameter that receives the `CallContext`, if any."""
        return next((p.name for p in self._signature.parameters.values() if is_injected(p.annotation)), None)

    @cached_property
    def arguments_model(self) -> type[BaseModel]:
        """The pydantic model of the arguments, built as the SDK builds it (func_metadata), so that
        a value is accepted, converted and refused with the same message either way."""
        from pydantic import BaseModel, ConfigDict, Field, create_model

        class ArgModelBase(BaseModel):
            model_config = ConfigDict(arbitrary_types_allowed=True)

        fields: dict[str, Any] = {}
        for parameter in self._signature.parameters.values():
            if parameter.name == self.injected:
                continue
            annotation = Any if parameter.annotation is inspect.Parameter.empty else parameter.annotation
            name, alias = parameter.name, None
            if hasattr(BaseModel, name) and callable(getattr(BaseModel, name)):
                name, alias = f"field_{name}", name  # as the SDK does, not to shadow BaseModel's own
            field_type = Annotated[(annotation, Field(alias=alias))]  # pyright: ignore[reportInvalidTypeArguments]
            has_default = parameter.default is not inspect.Parameter.empty
            fields[name] = (field_type, parameter.default) if has_default else field_type
        return create_model(f"{self.fn.__name__}Arguments", __base__=ArgModelBase, **fields)

    @cached_property
    def arguments_schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments, as the SDK derives the tool's input schema."""
        return self.arguments_model.model_json_schema()

    @cached_property
    def string_parameters(self) -> frozenset[str]:
        """The parameters whose only value is a string (or null): the command line keeps what is
        written for them as text (`serve.parse_call_arguments`)."""
        names: set[str] = set()
        properties = cast("dict[str, dict[str, Any]]", self.arguments_schema.get("properties", {}))
        for name, schema in properties.items():
            options = cast("list[dict[str, Any]]", schema.get("anyOf", [schema]))
            types = {option.get("type") for option in options}
            if "string" in types and types <= {"string", "null"}:
                names.add(name)
        return frozenset(names)

    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments for the function; InputError with the SDK's message when invalid."""
        from pydantic import ValidationError

        from monitor_common._numbers import unusable_number

        problem = unusable_number(arguments, self.arguments_schema)
        if problem is not None:  # as MonitorServer.call_tool says it
            raise InputError(f"Error executing tool {self.name}: {problem}")
        model = self.arguments_model
        data = dict(arguments)
        for key, value in arguments.items():
            # As the SDK does for hosts that send lists and objects as JSON text.
            info = model.model_fields.get(key)
            if isinstance(value, str) and info is not None and info.annotation is not str:
                try:
                    parsed = json.loads(value)
                except (ValueError, RecursionError):
                    continue
                if not isinstance(parsed, str | int | float):
                    data[key] = parsed
        try:
            validated = model.model_validate(data)
        except ValidationError as exc:
            raise redacted(InputError(f"Error executing tool {self.name}: {exc}")) from exc
        return {
            (info.alias or name): getattr(validated, name)
            for name, info in type(validated).model_fields.items()
        }

    async def run(self, arguments: Mapping[str, Any], context: CallContext | None = None) -> Any:
        """Validate `arguments` and await the function; its MonitorError is raised as is, any
        other exception as ToolCrashed."""
        kwargs = self.validate(arguments)
        if self.injected is not None:
            kwargs[self.injected] = context or CallContext()
        try:
            if inspect.iscoroutinefunction(self.fn):
                return await self.fn(**kwargs)
            # A plain function (CPU work, e.g. decoding) runs on a worker thread, as the SDK runs it.
            import anyio.to_thread

            return await anyio.to_thread.run_sync(functools.partial(self.fn, **kwargs))
        except Exception as exc:
            cause = monitor_error(exc)
            if isinstance(cause, MonitorError):
                raise redacted(cause) from None
            raise ToolCrashed(f"Error executing tool {self.name}") from exc


@dataclass
class PromptSpec:
    fn: Callable[..., Any]
    title: str | None = None


@dataclass
class ToolSet:
    """The tools, prompts and watches of one server, declared without the MCP SDK."""

    name: str
    version: str
    instructions: str
    tools: dict[str, ToolSpec] = field(default_factory=lambda: dict[str, ToolSpec]())
    prompts: list[PromptSpec] = field(default_factory=lambda: list[PromptSpec]())
    watches: list[WatchService] = field(default_factory=lambda: list["WatchService"]())
    # What a hosted session may set from the query string of /mcp (`session_config`): the
    # settings this server's checks read, among session_config.SESSION_SETTINGS.
    session_settings: tuple[str, ...] = ("timeout_s",)

    def __hash__(self) -> int:
        return id(self)

    def tool(
        self, title: str | None = None, hints: HintsRule | None = None, structured_output: bool | None = None
    ) -> Callable[[_F], _F]:
        """Declare a tool with the `title` hosts show a person (every served tool has one:
        tests/e2e/test_tool_schemas.py); without `hints` it is marked as a check (`CHECK_HINTS`).
        Tools that change state (watches) pass their own."""

        def decorator(fn: _F) -> _F:
            self.add_tool(fn, title=title, hints=hints, structured_output=structured_output)
            return fn

        return decorator

    def add_tool(
        self,
        fn: Callable[..., Any],
        *,
        title: str | None = None,
        hints: HintsRule | None = None,
        structured_output: bool | None = None,
        brief: frozenset[str] = frozenset(),
        view: str | None = None,
    ) -> ToolSpec:
        name = fn.__name__
        if name in self.tools:
            raise ValueError(f"{self.name} already has a tool named {name!r}")
        spec = ToolSpec(fn, name, hints or CHECK_HINTS, structured_output, brief, view, title)
        self.tools[name] = spec
        return spec

    def prompt(self, title: str | None = None) -> Callable[[_F], _F]:
        """Declare a prompt (its text is the function's return value)."""

        def decorator(fn: _F) -> _F:
            self.prompts.append(PromptSpec(fn, title))
            return fn

        return decorator

    async def call(self, name: str, arguments: Mapping[str, Any], context: CallContext | None = None) -> Any:
        """Run the tool `name` (InputError when there is none): its result object."""
        spec = self.tools.get(name)
        if spec is None:
            raise InputError(unknown_tool(name, self.tools))
        return await spec.run(arguments, context)

    async def call_json(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Run the tool `name` and return its result as the JSON an MCP host would receive
        (`structuredContent`)."""
        from pydantic import BaseModel

        result = await self.call(name, arguments)
        if isinstance(result, BaseModel):
            return result.model_dump(mode="json", by_alias=True)
        raise InputError(f"{name} returned no structured result")
