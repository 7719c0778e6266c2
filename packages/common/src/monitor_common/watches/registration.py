"""Registration of a server's watches: the `<kind>_watch` and `<kind>_watch_report` tools.

Both tools are built by hand (`inspect.Signature`) rather than declared, because their
parameters and descriptions name this server's check and target: `http_watch` takes every
parameter of `http_check`, `dns_watch` calls dns_lookup's `name` its `domain`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from monitor_common.toolset import CallContext, ToolHints, ToolSet
from monitor_common.views import WATCH_REPORT_VIEW
from monitor_common.watches.kind import WatchKind
from monitor_common.watches.models import Action, WatchActionResult, WatchReport, Window
from monitor_common.watches.service import WatchService

__all__ = [
    "NOTIFY_PARAMETERS",
    "REPORT_HINTS",
    "WATCH_HINTS",
    "register_watches",
    "report_tool",
    "watch_tool",
]

# Destructive: `remove` drops a watch's whole history, which nothing brings back.
WATCH_HINTS = ToolHints(read_only=False, destructive=True, idempotent=False, open_world=True)
REPORT_HINTS = ToolHints(read_only=True, open_world=False)  # idempotent: meaningless when read-only


def _keyword(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


# Who hears of the watch's incidents (monitor_common.notify), besides MCP_MONITOR_NOTIFY. Terse:
# every byte is in every prompt; the README and the full schema say more.
NOTIFY_PARAMETERS = (
    _keyword(
        "notify",
        Annotated[list[str] | None, Field(description="Apprise URLs or target names")],
        None,
    ),
    _keyword("notify_repeat_s", Annotated[float | None, Field(description="Remind while down")], None),
)


def watch_tool(service: WatchService) -> Callable[..., Any]:
    """`<kind>_watch(action, name, interval_s, thresholds, **the check's parameters)`."""
    kind = service.kind

    async def tool(**arguments: Any) -> WatchActionResult:
        return await service.watch(arguments)

    own = [
        _keyword("action", Annotated[Action, Field(description="remove also drops the history")]),
        _keyword(
            "name",
            Annotated[
                str | None,
                Field(description=f"add: defaults to the {kind.target_parameter}"),
            ],
            None,
        ),
        _keyword(
            "interval_s",
            Annotated[float | None, Field(description="Default 300")],
            None,
        ),
        _keyword(
            "failure_threshold",
            Annotated[int, Field(ge=1, le=100, description="Failed checks in a row to go down")],
            2,
        ),
        _keyword(
            "success_threshold",
            Annotated[int, Field(ge=1, le=100, description="Good checks in a row to go up")],
            1,
        ),
    ]
    tool.__signature__ = inspect.Signature(  # pyright: ignore[reportFunctionMemberAccess]
        [*own, *NOTIFY_PARAMETERS, *service.parameters], return_annotation=WatchActionResult
    )
    tool.__name__ = f"{kind.kind}_watch"
    tool.__doc__ = (
        f"Monitor a {kind.noun} continuously: {kind.check_name} every interval_s, incidents when down."
        f"\n\nadd takes {kind.check_name}'s parameters and returns the first result."
    )
    return tool


def report_tool(service: WatchService) -> Callable[..., Any]:
    """`<kind>_watch_report(name, window)`."""
    kind = service.kind

    async def tool(**arguments: Any) -> WatchReport:
        call: CallContext | None = arguments.get("call")
        drawn = call is not None and call.apps  # with the timeline that the view draws
        return await service.report(arguments.get("name"), arguments.get("window", "24h"), drawn=drawn)

    tool.__signature__ = inspect.Signature(  # pyright: ignore[reportFunctionMemberAccess]
        [
            _keyword(
                "name",
                Annotated[
                    str | None, Field(description=f"A watch or recorded {kind.noun}; none: all, worst first")
                ],
                None,
            ),
            _keyword("window", Window, "24h"),
            _keyword("call", CallContext | None, None),
        ],
        return_annotation=WatchReport,
    )
    tool.__name__ = f"{kind.kind}_watch_report"
    tool.__doc__ = (
        f'Answer "has it been up, since when is it broken?" for watched {kind.noun}s: uptime, incidents.'
    )
    return tool


def register_watches(tools: ToolSet, kind: WatchKind) -> WatchService:
    """Declare `<kind>_watch` and `<kind>_watch_report` on `tools` and return the service behind them.

    The MCP server built from `tools` adds the watch resources, the recording hook and the
    scheduler (`MonitorServer.add_watches`); `call` records through the service too.
    """
    service = WatchService(kind, tools.call_json)
    # The check's parameters are described in the check's own listing; saying it twice would cost
    # every prompt of every host (the full schema keeps them: monitor://schemas/<tool>).
    brief = frozenset(p.name for p in service.parameters)
    label = kind.label or kind.noun
    tools.add_tool(
        watch_tool(service), title=f"Watch {label}s", hints=WATCH_HINTS, structured_output=True, brief=brief
    )
    service.tool_spec = tools.tools[f"{kind.kind}_watch"]
    tools.add_tool(
        report_tool(service),
        title=f"{label[:1].upper()}{label[1:]} watch report",
        hints=REPORT_HINTS,
        structured_output=True,
        view=WATCH_REPORT_VIEW,
    )
    tools.watches.append(service)
    return service
