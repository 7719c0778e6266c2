"""What the tool machinery hands a tool that asks for it (`CallContext`), without the MCP SDK.

A tool that reports progress, or answers differently for a host that draws its result (an MCP
Apps view), declares a parameter annotated `CallContext`; it is not an argument the caller gives.
The MCP adapter (`server`) fills it from the SDK's request context, a direct call
(`toolset.ToolSet.call`, the `call` command) passes one without progress or view.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor_common.fanout import ProgressCallback

__all__ = ["CallContext", "is_injected", "progress_reporter"]


@dataclass(frozen=True)
class CallContext:
    """What the tool machinery gives a tool that asks for it: a progress callback or None, and
    whether the caller's host shows the tool's MCP Apps view (`monitor_common.apps`)."""

    progress: ProgressCallback | None = None
    apps: bool = False


def is_injected(annotation: Any) -> bool:
    """Whether a parameter annotated so receives the `CallContext` instead of an argument."""
    candidates = (annotation, *typing.get_args(annotation))
    return any(inspect.isclass(a) and issubclass(a, CallContext) for a in candidates)


def progress_reporter(ctx: Any) -> ProgressCallback | None:
    """The progress callback of a call: a `CallContext`'s, or one that sends MCP progress
    notifications through the SDK's `Context` (for tools declared directly on an MCPServer).

    None outside a request (a direct call from a test, a script or the command line).
    """
    if ctx is None or isinstance(ctx, CallContext):
        return ctx.progress if ctx is not None else None
    try:
        _ = ctx.request_context
    except ValueError:
        return None

    async def report(done: int, total: int, message: str | None) -> None:
        await ctx.report_progress(done, total, message)

    return report
