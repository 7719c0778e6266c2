"""The SDK's stdio transport, with requests whose id is unusable answered instead of dropped.

The SDK parses each line into a JSON-RPC message. A request whose id is neither a string nor an
integer (an object, a boolean, null, NaN, 1e400) is no valid request, but it is a valid
notification, since a notification may carry extra keys: it is served as one, with no answer,
and its sender waits forever. Such lines never reach the SDK here; they are answered -32600 with
id null (`_jsonrpc.unusable_id`, the rule the HTTP transport applies to a body).

Seeing the line takes reading stdin ourselves: the SDK reads a stream it is given as it reads its
own, but then leaves fd 0 alone, so `_private_stdin` diverts it to the null device as the SDK does.
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncGenerator, AsyncIterator, Generator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, cast

import anyio

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectSendStream
    from mcp_types import JSONRPCError

__all__ = ["checked_stdio"]

# Answers waiting to be written: reading stops while this many are queued (a flood of bad lines).
_QUEUED_ANSWERS = 64


@contextmanager
def _private_stdin() -> Generator[anyio.AsyncFile[str]]:
    """fd 0 as UTF-8 lines, read through a duplicate while fd 0 itself reads the null device, so
    that nothing else in the process (a child, a stray `input()`) takes protocol lines."""
    private = os.dup(0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        # closefd=False: the reading thread may still block on it after the transport exits, and
        # a closed descriptor could be reused under it (the SDK's reason for the same choice).
        raw = os.fdopen(private, "rb", closefd=False)
        yield anyio.wrap_file(io.TextIOWrapper(raw, encoding="utf-8", errors="replace"))
    finally:
        os.dup2(private, 0)


async def _checked_lines(
    source: anyio.AsyncFile[str], refused: MemoryObjectSendStream[JSONRPCError]
) -> AsyncIterator[str]:
    """The lines of `source`, less those that are requests with an unusable id, whose answers go
    to `refused`."""
    import pydantic_core

    from monitor_common._jsonrpc import unusable_id

    async with refused:
        async for line in source:
            try:
                parsed: object = pydantic_core.from_json(line)
            except ValueError:  # not JSON: the SDK answers it (-32700)
                yield line
                continue
            error = unusable_id(parsed)
            if error is None:
                yield line
            else:
                await refused.send(error)


class _Lines:
    """What `stdio_server` iterates (`async for line in stdin`), made of `_checked_lines`."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines


@asynccontextmanager
async def checked_stdio() -> AsyncGenerator[tuple[Any, Any]]:
    """`mcp.server.stdio.stdio_server()`, less the requests with an unusable id, which are answered.

    Yields the SDK's (read, write) streams (their types live in a private SDK module).
    """
    from mcp.server.stdio import stdio_server
    from mcp.shared.message import SessionMessage

    refused_send, refused_receive = anyio.create_memory_object_stream["JSONRPCError"](_QUEUED_ANSWERS)
    with _private_stdin() as stdin:
        lines = cast("anyio.AsyncFile[str]", _Lines(_checked_lines(stdin, refused_send)))
        async with (
            stdio_server(stdin=lines) as (read_stream, write_stream),
            anyio.create_task_group() as group,
        ):

            async def answer() -> None:
                async with refused_receive:
                    async for error in refused_receive:
                        try:
                            await write_stream.send(SessionMessage(error))
                        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                            return  # the session has ended

            group.start_soon(answer)
            yield read_stream, write_stream
            group.cancel_scope.cancel()
