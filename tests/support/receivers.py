"""Local receivers of real Apprise deliveries: a JSON webhook and an SMTP server, on loopback.

`WebhookReceiver` is an HTTP server (the standard library's, in a thread) that records every
JSON body POSTed to it with the path, answering `status` (200 until set otherwise): Apprise's
`json://127.0.0.1:PORT/path` posts `{"version", "title", "message", "type"}`. `url(path)` gives
the Apprise URL; `wait_for(count)` blocks until that many messages arrived. A message counts
as received once its whole body was read and answered with a 2xx.

`SmtpReceiver` is aiosmtpd's threaded `Controller` on 127.0.0.1, no TLS and no login; Apprise
reaches it as `mailto://127.0.0.1:PORT?from=...&to=...&mode=insecure`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from support.ports import free_port

__all__ = ["Received", "SmtpReceiver", "WebhookReceiver", "smtp_receiver", "webhook_receiver"]


@dataclass(frozen=True)
class Received:
    path: str
    title: str
    message: str
    headers: dict[str, str]
    at: float  # time.time() when it was received


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 200
        self.delay_s = 0.0  # how long each POST waits, once read, before it is answered
        self.arrived = threading.Event()  # set when a POST has been read (before the delay)
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                receiver.arrived.set()
                time.sleep(receiver.delay_s)
                status = receiver.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if 200 <= status < 300:
                    body: dict[str, Any] = json.loads(raw or b"{}")
                    item = Received(
                        self.path,
                        str(body.get("title", "")),
                        str(body.get("message", "")),
                        {k.lower(): v for k, v in self.headers.items()},
                        time.time(),
                    )
                    with receiver._cond:
                        receiver.received.append(item)
                        receiver._cond.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: stderr belongs to the test run

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "/hook", *, scheme: str = "json") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def titles(self) -> list[str]:
        with self._cond:
            return [r.title for r in self.received]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The first `count` messages, once they have arrived; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} of {count} messages arrived: {self.received}"
                self._cond.wait(left)
            return list(self.received[:count])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


class SmtpReceiver:
    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                with receiver._cond:
                    receiver.messages.append(message_from_bytes(envelope.content))
                    receiver._cond.notify_all()
                return "250 OK"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def url(self, to: str = "ops@example.com") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=monitor@example.com&to={to}&mode=insecure"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.messages)} of {count} mails arrived"
                self._cond.wait(left)
            return list(self.messages[:count])

    def close(self) -> None:
        self._controller.stop()


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    try:
        yield receiver
    finally:
        receiver.close()
