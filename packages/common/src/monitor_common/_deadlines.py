"""Slow clients: a request's head and its body must each arrive within a bound, or 408 and close.

uvicorn bounds the idle time between two requests on a connection (`timeout_keep_alive`) and the
size of a head (h11's limit), but not the time a head or a body takes to arrive: a client that
sends a byte a second (slowloris) holds its connection, and the server's buffers and tasks for it,
for as long as it likes, and a few hundred such clients exhaust the server. So:

1. the head (request line and headers) must be complete within `REQUEST_TIMEOUT_S` of the
   connection's opening, or of the first byte after the previous response (`head_deadline`, a
   uvicorn h11 protocol: no ASGI app runs before the head is complete, so only the protocol can
   time it), so a connection that sends nothing is closed too; between two requests the idle
   time stays keep-alive's (5 s);
2. the body must be complete within `REQUEST_TIMEOUT_S` of the head (`BodyDeadline`, ASGI): the app
   is told the client left, and the client gets 408 with `connection: close`.

Neither bound concerns the response: a tool call may take longer, and a stream stays open.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["REQUEST_TIMEOUT_S", "BodyDeadline", "head_deadline"]

REQUEST_TIMEOUT_S = 10.0

_TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


def head_deadline(timeout_s: float = REQUEST_TIMEOUT_S) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol (`Config(http=...)`), closing a connection whose request head has not
    arrived within `timeout_s`. It reads only the protocol's public state (`conn`, h11's view of the
    exchange, and `transport`)."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadDeadline(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._head_timer is None and self.conn.their_state is h11.IDLE:
                self._arm()  # the first byte of the next request on a kept-alive connection
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(timeout_s, self._expired)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _expired(self) -> None:
            self._head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                # Written directly: h11 sends no response before it has a request to answer.
                self.transport.write(_TIMED_OUT)
                self.transport.close()

    return HeadDeadline


class BodyDeadline:
    """ASGI middleware: the request body must be complete within `timeout_s` of the head.

    When it is not, the app's next `receive()` returns `http.disconnect` (the client is as good as
    gone) and, unless the app has begun a response, the client gets 408 and the connection closes.
    Once the body is complete, `receive()` is passed through unbounded (a stream waits on it for
    the client's disconnect).
    """

    def __init__(self, app: ASGIApp, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self._app = app
        self._timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        deadline = anyio.current_time() + self._timeout_s
        body_done = timed_out = responded = False

        async def bounded_receive() -> Message:
            nonlocal body_done, timed_out
            if body_done:
                return await receive()
            if timed_out:
                return {"type": "http.disconnect"}
            with anyio.move_on_after(deadline - anyio.current_time()):
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    body_done = True
                return message
            timed_out = True
            return {"type": "http.disconnect"}

        async def tracking_send(message: Message) -> None:
            nonlocal responded
            responded = responded or message["type"] == "http.response.start"
            await send(message)

        await self._app(scope, bounded_receive, tracking_send)
        if timed_out and not responded:
            headers: list[Any] = [(b"content-length", b"0"), (b"connection", b"close")]
            await send({"type": "http.response.start", "status": 408, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
