"""A real HTTP/1.1 and HTTP/2 server on loopback for tests: hypercorn's protocols, in a thread.

`HttpServer` binds a socket on a loopback address with port 0, so the port is known before the
server thread starts, and serves a small ASGI app in its own event loop. Sync and async callers use
it alike; stopping never waits on the callers' event loop, and a handler that is still waiting
(`/hang`, `/delay`) is released as soon as the server stops or its client goes away.

Routes (any method; `HEAD` gets the headers without a body):

- `/`: 200 `ok`.
- `/status/{code}`: that status with a short text body.
- `/delay/{ms}`: waits `ms` before sending anything, then 200.
- `/slow-body/{ms}`: sends 200 headers at once, then the body after `ms`.
- `/endless`: 200 headers, then a chunked body that never ends (until the client leaves).
- `/drip/{ms}`: 200 headers, then one byte every `ms` milliseconds, for ever (anything after
  `{ms}` is ignored, so that it can stand for a base URL).
- `/redirect/{n}`: a chain of `n` 302 hops ending at `/status/200`; relative `Location`, or
  absolute with `?absolute=1`. `/redirect/0` answers 200 itself.
- `/redirect-to?url=...&status=302`: one redirect anywhere (301, 302, 303, 307 or 308).
- `/redirect-loop`: 302 to itself.
- `/bytes/{n}`: `n` bytes of `x` with a Content-Length, or chunked with `?chunked=1`.
- `/json`: `{"data": {"status": "ok", "count": 3}, "args": {query parameters}}`.
- `/text?body=...&content_type=text/plain&status=200`: the given text.
- `/headers`: the request as JSON: method, path, query, headers, HTTP version, Host, client, scheme.
- `/hang`: never answers, until the client leaves or the server stops.
- `/whoami`: 200 with the address the server is bound to as the body (which backend answered);
  `?status_on=IP:CODE` and `?delay_on=IP:MS` change the status or delay on that backend only.
- `/big-headers/{n}`: 200 with one `x-big` response header of `n` bytes.
- `/cycle/{key}?codes=200,500`: the next status of that list on each request, per `key` (a
  target that flaps on its own).
- `/switch/{key}`: the status last set with `HttpServer.switch(key, code)` (200 until then).
- anything else: 404.

`aliases={"/.well-known/mta-sts.txt": "/endless"}` serves a path a client cannot choose with one
of these routes (the query string stays the request's).

`?header=Name: value` (repeatable) adds a response header on `/`, `/status`, `/bytes`, `/json`
and `/text`. Every request is recorded in `HttpServer.requests`, in arrival order;
`wait_for_request(path)` blocks until one for `path` has arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.utils import wrap_app

__all__ = ["HttpServer", "RecordedRequest", "TLSFiles"]

logger = logging.getLogger("support.http_server")

# Loose ASGI shapes: hypercorn's TypedDicts are exact, and these routes only read a few keys.
Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Any], Awaitable[None]]

PemOrPath = str | bytes | os.PathLike[str]

# Generous caps that keep a typo in a test from allocating gigabytes or sleeping for an hour.
MAX_BYTES = 64 * 1024 * 1024
MAX_DELAY_MS = 120_000
_CHUNK = 64 * 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# How long stop() lets connections close before aborting them (twice at most), and how long it
# waits for the thread before cancelling everything in the server's loop.
GRACEFUL_TIMEOUT = 0.5
STOP_TIMEOUT = 5.0
START_TIMEOUT = 10.0
HANDSHAKE_TIMEOUT = 10.0


def _is_pem(value: PemOrPath) -> bool:
    if isinstance(value, bytes):
        return b"-----BEGIN" in value
    return isinstance(value, str) and "-----BEGIN" in value


@dataclass(frozen=True)
class TLSFiles:
    """The server's certificate chain and private key, as file paths or PEM text.

    `cert_chain` holds the leaf first, then any intermediates. A value that contains
    `-----BEGIN` is taken as PEM text and written to a private temporary file while the server
    runs; anything else is a path. `ca_pem` is optional: the CA that clients should trust, kept
    here so a test can build its client from the server it was handed.
    """

    cert_chain: PemOrPath
    key: PemOrPath
    ca_pem: bytes | None = None

    @classmethod
    def from_trustme(cls, ca: Any, *identities: str) -> TLSFiles:
        """Mint a leaf for `identities` (default: loopback names) from a `trustme.CA`."""
        leaf = ca.issue_cert(*(identities or ("localhost", "127.0.0.1", "127.0.0.2", "::1")))
        chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
        return cls(cert_chain=chain, key=leaf.private_key_pem.bytes(), ca_pem=ca.cert_pem.bytes())

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts `ca_pem` only (raises if there is none)."""
        if self.ca_pem is None:
            raise ValueError("these TLS files carry no CA to trust")
        context = ssl.create_default_context(cadata=self.ca_pem.decode("ascii"))
        return context


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it. Header names are lower case, in arrival order."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    http_version: str  # "1.0", "1.1" or "2", as in the ASGI scope
    scheme: str
    client: tuple[str, int] | None
    server: tuple[str, int] | None

    def header(self, name: str) -> str | None:
        """The first value of header `name` (any case), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)


def _require_loopback(host: str) -> None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"the test server binds loopback IP addresses only, not {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"the test server binds loopback addresses only, not {host}")


class HttpServer:
    """A hypercorn server on `host` (a loopback IP) and an ephemeral port (or `port`), in a thread.

    `tls=None` serves cleartext HTTP/1.1 and h2c (prior knowledge or Upgrade); with `tls` it
    serves HTTPS and offers `alpn_protocols` in the handshake. Use it as a context manager (sync
    or async) or call `start()` and `stop()`.
    """

    def __init__(
        self,
        tls: TLSFiles | None = None,
        host: str = "127.0.0.1",
        *,
        alpn_protocols: Sequence[str] = ("h2", "http/1.1"),
        port: int = 0,
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        _require_loopback(host)
        self.host = host
        self.aliases = dict(aliases or {})
        self.tls = tls
        self.alpn_protocols = list(alpn_protocols)
        self.port = port
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._main_task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._tmpdir: Path | None = None
        self._cycles: dict[str, int] = {}
        self._switches: dict[str, int] = {}

    # -- addresses ---------------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def url(self) -> str:
        """The base URL without a trailing slash, e.g. `http://127.0.0.1:40123`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def url_for(self, path: str) -> str:
        """`url` joined with `path` (which starts with `/`)."""
        return self.url + path

    @property
    def ca_pem(self) -> bytes | None:
        """The CA PEM that clients should trust, when the TLS files carry one."""
        return self.tls.ca_pem if self.tls is not None else None

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client SSL context trusting this server's CA only."""
        if self.tls is None:
            raise ValueError("this server does not use TLS")
        return self.tls.client_ssl_context()

    # -- what happened -------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def count(self, path: str | None = None) -> int:
        """How many requests arrived for `path` (exact, without query), or in all."""
        with self._lock:
            return sum(1 for request in self._requests if path is None or request.path == path)

    def wait_for_request(self, path: str, timeout: float = 5.0) -> RecordedRequest:
        """Block until a request for `path` has arrived (or already had); TimeoutError if none.

        For a test whose client is still waiting on its response, from async code through
        `await asyncio.to_thread(server.wait_for_request, "/hang")`.
        """

        def find() -> RecordedRequest | None:
            return next((request for request in self._requests if request.path == path), None)

        with self._lock:
            if not self._lock.wait_for(lambda: find() is not None, timeout):
                raise TimeoutError(f"no request for {path} within {timeout} s")
            found = find()
            assert found is not None
            return found

    def switch(self, key: str, status: int) -> None:
        """Make `/switch/{key}` answer `status` from now on."""
        with self._lock:
            self._switches[key] = status

    def _next_cycle(self, key: str, length: int) -> int:
        with self._lock:
            index = self._cycles.get(key, 0)
            self._cycles[key] = index + 1
        return index % length

    def _switch_status(self, key: str) -> int:
        with self._lock:
            return self._switches.get(key, 200)

    def clear(self) -> None:
        """Forget the requests recorded so far."""
        with self._lock:
            self._requests.clear()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind, start the server thread and return once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the server was already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.bind((self.host, self.port))
            # Listening now means connections made before the loop accepts simply queue.
            sock.listen(128)
            self.port = sock.getsockname()[1]
            config = self._config()
        except BaseException:
            sock.close()
            self._cleanup_files()
            raise
        self._thread = threading.Thread(
            target=self._run, args=(sock, config), name=f"http-server-{self.port}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT) or self._error is not None:
            error = self._error
            with contextlib.suppress(RuntimeError):
                self.stop()
            raise RuntimeError("the test HTTP server did not start") from error
        return self

    def stop(self) -> None:
        """Stop the server and join its thread; safe to call twice. Never waits long."""
        thread = self._thread
        if thread is None:
            self._cleanup_files()
            return
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed in the meantime
                loop.call_soon_threadsafe(stopping.set)
        thread.join(GRACEFUL_TIMEOUT + STOP_TIMEOUT)
        if thread.is_alive() and loop is not None and self._main_task is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._main_task.cancel)
            thread.join(STOP_TIMEOUT)
        self._cleanup_files()
        if thread.is_alive():
            raise RuntimeError(f"the test HTTP server on port {self.port} did not stop")
        if self._error is not None:
            error, self._error = self._error, None
            raise RuntimeError("the test HTTP server failed") from error

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Off the caller's loop, so its own connections can close while the server stops.
        await asyncio.to_thread(self.stop)

    def __repr__(self) -> str:
        return f"HttpServer({self.url!r})"

    # -- internals ---------------------------------------------------------------------------

    def _config(self) -> Config:
        config = Config()
        config.accesslog = None
        config.errorlog = logger
        config.alpn_protocols = self.alpn_protocols
        if self.tls is not None:
            config.certfile = self._tls_path(self.tls.cert_chain, "chain.pem")
            config.keyfile = self._tls_path(self.tls.key, "key.pem")
        return config

    def _tls_path(self, value: PemOrPath, name: str) -> str:
        if not _is_pem(value):
            return os.fsdecode(value)
        if self._tmpdir is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="http-server-tls-"))
        path = self._tmpdir / name
        path.write_bytes(value if isinstance(value, bytes) else str(value).encode("ascii"))
        return str(path)

    def _cleanup_files(self) -> None:
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def _run(self, sock: socket.socket, config: Config) -> None:
        try:
            asyncio.run(self._serve(sock, config))
        except BaseException as error:  # reported by start() or stop(), in the caller's thread
            self._error = error
        finally:
            sock.close()  # a no-op once the asyncio server has closed it
            self._ready.set()

    async def _serve(self, sock: socket.socket, config: Config) -> None:
        """Accept connections until `stop()`, then close or abort every one of them.

        This stands in for `hypercorn.asyncio.serve`, around hypercorn's own `TCPServer`, for one
        reason: hypercorn waits for each TLS peer's close_notify (up to 30 s) and then leaves
        unclosed transports behind, and a test's client may be parked on the very loop that
        is calling `stop()`. Here TLS starts inside the connection handler, so every connection,
        even one still in its handshake, can be aborted after a short grace period.
        """
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_quiet_exception_handler)
        self._stopping = stopping = asyncio.Event()
        self._main_task = asyncio.current_task()
        self._loop = loop
        ssl_context = config.create_ssl_context()
        context = WorkerContext(None)
        app = wrap_app(self._app, config.wsgi_max_body_size, "asgi")
        connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

        async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            connections[task] = writer
            try:
                if ssl_context is not None:
                    try:
                        await writer.start_tls(ssl_context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT)
                    except OSError:  # includes ssl.SSLError: a client that rejected us, or left
                        writer.transport.abort()
                        return
                await TCPServer(app, loop, config, context, {}, reader, writer)
            finally:
                connections.pop(task, None)

        server = await asyncio.start_server(on_connection, sock=sock, backlog=128)
        try:
            self._ready.set()
            await stopping.wait()
        finally:
            await context.terminated.set()  # idle keep-alive connections close themselves
            server.close()
            if connections:
                await asyncio.wait(list(connections), timeout=GRACEFUL_TIMEOUT)
            for writer in connections.values():
                writer.transport.abort()
            if connections:
                await asyncio.wait(list(connections), timeout=GRACEFUL_TIMEOUT)
            leftovers = list(connections)
            for task in leftovers:
                task.cancel()
            await asyncio.gather(*leftovers, return_exceptions=True)
            await server.wait_closed()

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self._record(scope)
            await _Exchange(self, scope, receive, send).route()

    def _record(self, scope: Scope) -> None:
        client, server = scope.get("client"), scope.get("server")
        request = RecordedRequest(
            method=scope["method"],
            path=scope["path"],
            query=scope["query_string"].decode("latin-1"),
            headers=tuple(
                (name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in scope["headers"]
            ),
            http_version=scope["http_version"],
            scheme=scope["scheme"],
            client=(client[0], client[1]) if client else None,
            server=(server[0], server[1]) if server else None,
        )
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()

    async def _pause(self, receive: Receive, seconds: float | None) -> bool:
        """Wait `seconds` (None: forever); False if the client left or the server stopped first."""
        assert self._stopping is not None
        gone = asyncio.ensure_future(_until_disconnect(receive))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            done, _ = await asyncio.wait({gone, stopping}, timeout=seconds, return_when="FIRST_COMPLETED")
        finally:
            for task in (gone, stopping):
                task.cancel()
            await asyncio.gather(gone, stopping, return_exceptions=True)
        return not done


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _quiet_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # Failed handshakes and clients that hang up are what TLS and timeout tests provoke on
    # purpose; anything else is logged to the test's captured log.
    if isinstance(context.get("exception"), ssl.SSLError | ConnectionError):
        return
    logger.error("test HTTP server: %s", context.get("message"), exc_info=context.get("exception"))


class _Exchange:
    """One request and its response: routing and the route handlers."""

    def __init__(self, server: HttpServer, scope: Scope, receive: Receive, send: Send) -> None:
        self.server = server
        self.scope = scope
        self.receive = receive
        self.send = send
        path: str = scope["path"]
        self.path = server.aliases.get(path, path)
        self.params = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        self.query = dict(self.params)

    async def route(self) -> None:
        head, _, rest = self.path.lstrip("/").partition("/")
        handlers: dict[str, Callable[[str], Awaitable[None]]] = {
            "": self._root,
            "status": self._status,
            "delay": self._delay,
            "slow-body": self._slow_body,
            "endless": self._endless,
            "drip": self._drip,
            "redirect": self._redirect,
            "redirect-to": self._redirect_to,
            "redirect-loop": self._redirect_loop,
            "bytes": self._bytes,
            "json": self._json,
            "text": self._text,
            "headers": self._headers,
            "hang": self._hang,
            "whoami": self._whoami,
            "big-headers": self._big_headers,
            "cycle": self._cycle,
            "switch": self._switch,
        }
        handler = handlers.get(head)
        if handler is None:
            await self._respond(404, b"not found\n")
            return
        try:
            await handler(rest)
        except _BadRequest as error:
            await self._respond(400, f"{error}\n".encode())

    # -- helpers -----------------------------------------------------------------------------

    def _extra_headers(self) -> list[tuple[bytes, bytes]]:
        headers: list[tuple[bytes, bytes]] = []
        for key, value in self.params:
            if key == "header":
                name, sep, text = value.partition(":")
                if not sep or not name.strip():
                    raise _BadRequest(f"header wants 'Name: value', not {value!r}")
                headers.append((name.strip().lower().encode("latin-1"), text.strip().encode("latin-1")))
        return headers

    async def _start(
        self,
        status: int,
        content_type: str = "text/plain; charset=utf-8",
        length: int | None = None,
        headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        head = [(b"content-type", content_type.encode("latin-1"))]
        if length is not None:
            head.append((b"content-length", str(length).encode("ascii")))
        head.extend(headers)
        await self.send({"type": "http.response.start", "status": status, "headers": head})

    async def _body(self, data: bytes, more: bool = False) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": more})

    async def _respond(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        no_body = status in (204, 304)
        await self._start(status, content_type, None if no_body else len(body), headers)
        await self._body(b"" if no_body else body)

    def _int(self, text: str, what: str, low: int, high: int) -> int:
        try:
            value = int(text)
        except ValueError:
            raise _BadRequest(f"{what} must be an integer, not {text!r}") from None
        if not low <= value <= high:
            raise _BadRequest(f"{what} must be between {low} and {high}, not {value}")
        return value

    def _host(self) -> str:
        for name, value in self.scope["headers"]:
            if name.lower() in (b"host", b":authority"):
                return value.decode("latin-1")
        return f"{self.server.host}:{self.server.port}"

    # -- routes ------------------------------------------------------------------------------

    async def _root(self, rest: str) -> None:
        if rest:
            await self._respond(404, b"not found\n")
            return
        await self._respond(200, b"ok", headers=self._extra_headers())

    async def _status(self, rest: str) -> None:
        code = self._int(rest, "status", 200, 599)
        await self._respond(code, f"status {code}\n".encode(), headers=self._extra_headers())

    async def _delay(self, rest: str) -> None:
        ms = self._int(rest, "delay", 0, MAX_DELAY_MS)
        if await self.server._pause(self.receive, ms / 1000):
            await self._respond(200, f"delayed {ms} ms\n".encode())

    async def _slow_body(self, rest: str) -> None:
        ms = self._int(rest, "delay", 0, MAX_DELAY_MS)
        body = f"slow body after {ms} ms\n".encode()
        await self._start(200, length=len(body))
        if await self.server._pause(self.receive, ms / 1000):
            await self._body(body)

    async def _endless(self, rest: str) -> None:
        await self._start(200, "application/octet-stream")
        chunk = b"x" * _CHUNK
        # Sends block while the client does not read (flow control); the watcher ends the loop
        # once the client has gone or the server stops.
        watcher = asyncio.ensure_future(self.server._pause(self.receive, None))
        try:
            while not watcher.done():
                await self._body(chunk, more=True)
                await asyncio.sleep(0)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)

    async def _drip(self, rest: str) -> None:
        ms = self._int(rest.partition("/")[0], "interval", 1, MAX_DELAY_MS)
        await self._start(200, "application/octet-stream")
        while await self.server._pause(self.receive, ms / 1000):
            await self._body(b"x", more=True)

    async def _redirect(self, rest: str) -> None:
        hops = self._int(rest, "hops", 0, 1000)
        if hops == 0:
            await self._respond(200, b"redirects done\n")
            return
        target = f"/redirect/{hops - 1}" if hops > 1 else "/status/200"
        if hops > 1 and self.query.get("absolute") == "1":
            target += "?absolute=1"
        if self.query.get("absolute") == "1":
            target = f"{self.scope['scheme']}://{self._host()}{target}"
        await self._redirect_response(302, target)

    async def _redirect_to(self, rest: str) -> None:
        url = self.query.get("url")
        if rest or url is None:
            raise _BadRequest("redirect-to wants ?url=...")
        status = self._int(self.query.get("status", "302"), "status", 300, 399)
        if status not in REDIRECT_STATUSES:
            raise _BadRequest(f"status must be one of {sorted(REDIRECT_STATUSES)}")
        await self._redirect_response(status, url)

    async def _redirect_loop(self, rest: str) -> None:
        await self._redirect_response(302, "/redirect-loop")

    async def _redirect_response(self, status: int, location: str) -> None:
        header = (b"location", location.encode("latin-1"))
        await self._respond(status, f"redirecting to {location}\n".encode(), headers=[header])

    async def _bytes(self, rest: str) -> None:
        size = self._int(rest, "size", 0, MAX_BYTES)
        chunked = self.query.get("chunked") == "1"
        headers = self._extra_headers()
        await self._start(200, "application/octet-stream", None if chunked else size, headers)
        remaining = size
        while remaining > 0:
            part = min(remaining, _CHUNK)
            remaining -= part
            await self._body(b"x" * part, more=remaining > 0)
        if size == 0:
            await self._body(b"")

    async def _json(self, rest: str) -> None:
        document = {"data": {"status": "ok", "count": 3}, "args": self.query}
        body = json.dumps(document).encode()
        await self._respond(200, body, "application/json", self._extra_headers())

    async def _text(self, rest: str) -> None:
        status = self._int(self.query.get("status", "200"), "status", 200, 599)
        content_type = self.query.get("content_type", "text/plain; charset=utf-8")
        body = self.query.get("body", "").encode()
        await self._respond(status, body, content_type, self._extra_headers())

    async def _headers(self, rest: str) -> None:
        header_list = [
            [name.decode("latin-1").lower(), value.decode("latin-1")] for name, value in self.scope["headers"]
        ]
        merged: dict[str, str] = {}
        for name, value in header_list:
            merged[name] = f"{merged[name]}, {value}" if name in merged else value
        client = self.scope.get("client")
        document = {
            "method": self.scope["method"],
            "path": self.path,
            "query": self.scope["query_string"].decode("latin-1"),
            "http_version": self.scope["http_version"],
            "scheme": self.scope["scheme"],
            "host": self._host(),
            "client": list(client) if client else None,
            "headers": merged,
            "header_list": header_list,
        }
        await self._respond(200, json.dumps(document).encode(), "application/json")

    def _for_this_backend(self, name: str) -> str | None:
        for key, value in self.params:
            address, sep, setting = value.rpartition(":")
            if key == name and sep and address == self.server.host:
                return setting
        return None

    async def _whoami(self, rest: str) -> None:
        delay = self._for_this_backend("delay_on")
        seconds = 0.0 if delay is None else self._int(delay, "delay", 0, MAX_DELAY_MS) / 1000
        if seconds and not await self.server._pause(self.receive, seconds):
            return
        status = self._for_this_backend("status_on")
        code = 200 if status is None else self._int(status, "status", 200, 599)
        await self._respond(code, self.server.host.encode())

    async def _big_headers(self, rest: str) -> None:
        size = self._int(rest, "size", 0, 1024 * 1024)
        await self._respond(200, b"big headers\n", headers=[(b"x-big", b"y" * size)])

    async def _cycle(self, rest: str) -> None:
        codes = [self._int(c, "status", 200, 599) for c in self.query.get("codes", "200,500").split(",") if c]
        if not codes:
            raise _BadRequest("cycle wants ?codes=200,500")
        code = codes[self.server._next_cycle(rest, len(codes))]
        await self._respond(code, f"status {code}\n".encode())

    async def _switch(self, rest: str) -> None:
        code = self.server._switch_status(rest)
        await self._respond(code, f"status {code}\n".encode())

    async def _hang(self, rest: str) -> None:
        # No response at all: when the server stops, hypercorn answers 500 on connections that
        # are still open, but by then the client has given up.
        await self.server._pause(self.receive, None)


class _BadRequest(Exception):
    """A route parameter the server cannot use: answered with 400 and the message."""
