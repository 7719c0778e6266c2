"""`ToolSet.call` (what `call` runs, without the SDK) refuses and answers as the MCP server does.

The same arguments go to a server's tool both ways: directly through its ToolSet and through an
in-process MCP client session on the server built from it. The messages of refused arguments
and the JSON of a result must be the same, so that `call` from a terminal and a host's call
cannot disagree.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from monitor_common.errors import InputError
from monitor_common.results import CheckResult, Stopwatch
from monitor_common.server import server_for
from monitor_common.toolset import CallContext, ToolSet, is_injected, progress_reporter
from pydantic import BaseModel

tools = ToolSet("toolset-test", version="0", instructions="for tests")


class Echo(CheckResult):
    seen: dict[str, Any]


@tools.tool()
async def echo(
    name: str,
    count: int = 1,
    tags: list[str] | None = None,
    mode: str = "fast",
    ctx: CallContext | None = None,
) -> Echo:
    """Echo the arguments as validated."""
    progress = progress_reporter(ctx)
    if progress is not None:
        await progress(1, 1, None)
    return Echo.build(
        summary="echo", findings=[], started=Stopwatch(), seen={"name": name, "count": count, "tags": tags}
    )


@tools.tool()
def schema(model_dump: int = 0) -> Echo:
    """A plain function whose parameter shadows a BaseModel method (the SDK renames it)."""
    return Echo.build(summary="sync", findings=[], started=Stopwatch(), seen={"model_dump": model_dump})


async def via_mcp(name: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
    async with Client(server_for(tools)) as client:
        try:
            result = await client.call_tool(name, arguments)
        except MCPError as exc:  # an unknown tool is a protocol error, -32602
            assert exc.error.code == INVALID_PARAMS
            return False, exc.error.message
    if result.is_error:
        return False, " ".join(c.text for c in result.content if c.type == "text")
    return True, result.structured_content


async def via_toolset(name: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
    try:
        return True, await tools.call_json(name, arguments)
    except InputError as exc:
        return False, str(exc)


def stable(outcome: tuple[bool, Any]) -> tuple[bool, Any]:
    ok, value = outcome
    if ok:
        value = {k: v for k, v in value.items() if k not in ("checked_at", "duration_ms")}
    return ok, value


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("echo", {"name": "a"}),
        ("echo", {"name": "a", "count": "3", "tags": '["x", "y"]'}),  # JSON text, as some hosts send
        ("echo", {}),
        ("echo", {"name": "a", "count": "many"}),
        ("echo", {"name": ["not", "a", "string"]}),
        ("no_such_tool", {}),
        ("schema", {"model_dump": 5}),
    ],
)
async def test_direct_calls_answer_as_the_mcp_server(tool: str, arguments: dict[str, Any]) -> None:
    assert stable(await via_toolset(tool, arguments)) == stable(await via_mcp(tool, arguments))


def test_the_call_context_is_no_argument() -> None:
    assert is_injected(CallContext) and is_injected(CallContext | None) and not is_injected(int)
    model: type[BaseModel] = tools.tools["echo"].arguments_model
    assert "ctx" not in model.model_fields
