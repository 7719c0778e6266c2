"""The catalogue of misbehaving servers the fault-injection campaign points the tools at.

Every fault is a real server on loopback, started by the test, in a background thread with its own
event loop (so a stdio subprocess under test and the in-process client can both reach it):

    with FaultServers() as faults:
        faults.url("slow_headers")         # http://127.0.0.1:PORT/
        faults.port("tls_stall")

HTTP (plain TCP, hand-written HTTP/1.1 so that each misbehaviour is exact):

    refused          a port nothing listens on (bound, then closed)
    silent           accepts, reads, never answers
    slow_headers     the response head at one byte per second
    reset_body       the head and part of a 100 KB body, then a TCP reset
    malformed_status a status line that is not HTTP ("HTTP/1.1 2OO OK")
    huge_headers     1 MB of response headers
    endless_body     200 OK, then a chunked body that never ends
    redirect_loop    /a -> /b -> /a
    redirect_chain   /hop/0 -> /hop/1 -> ... -> /hop/50 (200 OK)
    healthy          200 OK with a small body: what "the next call" is made against

TLS:

    tls_stall        accepts, reads the ClientHello, never answers
    tls_garbage      answers the ClientHello with bytes that are not TLS
    tls_chain20      a valid handshake whose chain is the leaf and 20 intermediates
    tls_revocation_faults  a valid leaf whose CRL URL is `slow_headers` and OCSP URL `malformed_status`
    tls_healthy      a valid handshake with a leaf from the session CA (ca_pem)

DNS (`support.dns_server.DNSServer`, each on its own loopback address, port 53, so that root hints,
which carry no port, can name it as well; the addresses are in a random 127.x.y.0/24, away from
BIND9's 127.0.x.y, so that concurrent runs do not collide):

    dns_silent       never answers
    dns_servfail     SERVFAIL to everything
    dns_refused      REFUSED to everything
    dns_truncated    UDP: an empty answer with TC set; TCP: never answers
    dns_wrong_id     answers with a message ID that is not the query's
    dns_other_name   answers about another name than the one asked
    dns_big_tcp      UDP: TC; TCP: a 64 KB TXT answer (legitimate, if unusual)
    dns_healthy      a small zone that answers normally
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
import socket
import ssl
import struct
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import dns.message
import dns.rdatatype
import dns.rrset
from support.certs import CertAuthority, Leaf
from support.dns_server import (
    DNSServer,
    Handler,
    Response,
    Transport,
    answer_for,
    big_txt,
    drop,
    refused,
    servfail,
    truncate_udp,
    wrong_id,
    zone,
)
from support.ports import free_port

__all__ = [
    "DNS_FAULTS",
    "DNS_NAME",
    "HTTP_FAULTS",
    "TLS_FAULTS",
    "FaultServers",
    "chain_of",
]

HTTP_FAULTS = (
    "refused",
    "silent",
    "slow_headers",
    "reset_body",
    "malformed_status",
    "huge_headers",
    "endless_body",
    "redirect_loop",
    "redirect_chain",
)
TLS_FAULTS = ("tls_stall", "tls_garbage", "tls_chain20", "tls_revocation_faults")
DNS_FAULTS = (
    "dns_silent",
    "dns_servfail",
    "dns_refused",
    "dns_truncated",
    "dns_wrong_id",
    "dns_other_name",
    "dns_big_tcp",
)

DNS_NAME = "www.fault.test."
"""The name the DNS faults are asked about (the healthy server answers 127.0.0.1 for it)."""

CHAIN_HOPS = 50
BIG_TXT_BYTES = 64_000

StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


# --- HTTP faults ------------------------------------------------------------------------------------


async def _request_head(reader: asyncio.StreamReader) -> str:
    """The request line and headers ('' when the client went away first)."""
    try:
        return (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return ""


def _path(head: str) -> str:
    parts = head.split(" ", 2)
    return parts[1] if len(parts) > 1 else "/"


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(65536):
        pass


async def _slow_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request_head(reader)
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(1.0)


async def _reset_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
    writer.write(b"x" * 4096)
    await writer.drain()
    await asyncio.sleep(0.05)
    _reset(writer)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0) instead of a FIN."""
    sock: socket.socket | None = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _malformed_status(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request_head(reader)
    writer.write(b"HTTP/1.1 2OO OK\r\nContent-Length: 2\r\n\r\nok")
    await writer.drain()


async def _huge_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n")
    line = b"X-Filler-%06d: " + b"y" * 1000 + b"\r\n"
    for index in range(1024):  # 1024 lines of about 1 KB: 1 MB of headers
        if writer.transport.is_closing():
            return  # the client stopped reading at its cap
        writer.write(line % index)
        if index % 64 == 0:
            await writer.drain()
    writer.write(b"\r\nok")
    await writer.drain()


async def _endless_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _request_head(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (16384, b"z" * 16384)
    while not writer.transport.is_closing():  # until the client has read enough and left
        writer.write(chunk)
        await writer.drain()


def _respond(writer: asyncio.StreamWriter, status: str, headers: str = "", body: bytes = b"") -> None:
    writer.write(
        f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nContent-Type: text/plain\r\n{headers}\r\n".encode()
        + body
    )


async def _keep_alive(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: Callable[[str], None]
) -> None:
    while head := await _request_head(reader):
        answer(_path(head))
        await writer.drain()


async def _redirect_loop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    def answer(path: str) -> None:
        _respond(writer, "302 Found", f"Location: {'/b' if path != '/b' else '/a'}\r\n")

    await _keep_alive(reader, writer, answer)


async def _redirect_chain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    def answer(path: str) -> None:
        hop = int(path.rsplit("/", 1)[-1]) if path.startswith("/hop/") else 0
        if hop >= CHAIN_HOPS:
            _respond(writer, "200 OK", body=b"the end")
        else:
            _respond(writer, "301 Moved Permanently", f"Location: /hop/{hop + 1}\r\n")

    await _keep_alive(reader, writer, answer)


async def _healthy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    def answer(path: str) -> None:
        _respond(writer, "200 OK", body=b"ok")

    await _keep_alive(reader, writer, answer)


# --- TLS faults -------------------------------------------------------------------------------------


async def _tls_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(4096)  # the ClientHello
    writer.write(b"\xde\xad\xbe\xef" * 256)  # content type 0xde: not a TLS record
    await writer.drain()
    await asyncio.sleep(0.2)


def chain_of(ca: CertAuthority, length: int) -> Leaf:
    """A leaf under `length` intermediates of `ca` (no path length limits), served with all of them."""
    issuer = ca
    for depth in range(length):
        issuer = CertAuthority(f"fault intermediate {depth + 1}", parent=issuer)
    return issuer.issue_leaf()


async def _tls_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """After a completed handshake: answer any HTTP request, then close."""
    head = await _request_head(reader)
    if head:
        _respond(writer, "200 OK", "Connection: close\r\n", b"ok")
        await writer.drain()


# --- DNS faults -------------------------------------------------------------------------------------


def _healthy_zone() -> Handler:
    return zone(
        {
            (DNS_NAME, "A"): ["127.0.0.1"],
            ("mail.fault.test.", "A"): ["127.0.0.1"],
            ("fault.test.", "MX"): ["10 mail.fault.test."],
            ("fault.test.", "TXT"): ['"v=spf1 -all"'],
            ("_dmarc.fault.test.", "TXT"): ['"v=DMARC1; p=reject"'],
            ("1.0.0.127.in-addr.arpa.", "PTR"): ["www.fault.test."],
        },
        origin="fault.test.",
    )


def _dns_handlers() -> dict[str, Handler]:
    healthy = _healthy_zone()
    big = zone({(DNS_NAME, "TXT"): big_txt(BIG_TXT_BYTES)})

    def big_txt_everywhere(request: dns.message.Message, transport: Transport) -> Response:
        # A TXT question about any name gets the 64 KB TXT set (too big for UDP); others, the zone.
        question = request.question[0]
        if question.rdtype != dns.rdatatype.TXT:
            return healthy(request, transport)
        template = big(dns.message.make_query(DNS_NAME, "TXT", id=request.id), transport)
        assert isinstance(template, dns.message.Message)
        reply = dns.message.make_response(request)
        for rrset in template.answer:
            reply.answer.append(dns.rrset.from_rdata_list(question.name, rrset.ttl, list(rrset)))
        return reply

    return {
        "dns_silent": drop,
        "dns_servfail": servfail,
        "dns_refused": refused,
        "dns_truncated": truncate_udp(drop),
        "dns_wrong_id": wrong_id(healthy),
        "dns_other_name": answer_for("elsewhere.example.", healthy),
        "dns_big_tcp": truncate_udp(big_txt_everywhere),
        "dns_healthy": healthy,
    }


class _Port53DNSServer(DNSServer):
    """`DNSServer` on port 53 of its loopback address (root hints name servers without a port)."""

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            udp.bind((self.host, 53))
            tcp.bind((self.host, 53))
        except OSError as exc:
            udp.close()
            tcp.close()
            if exc.errno == errno.EACCES:
                raise OSError(exc.errno, "the DNS faults bind port 53 and need root (as CI runs)") from exc
            raise
        tcp.listen(64)
        udp.setblocking(False)
        tcp.setblocking(False)
        return udp, tcp


# --- the catalogue ----------------------------------------------------------------------------------


@dataclass
class FaultServers:
    """Every fault of the catalogue, running until the context exits."""

    ca: CertAuthority = field(default_factory=CertAuthority)
    ports: dict[str, int] = field(default_factory=lambda: dict[str, int]())
    dns: dict[str, DNSServer] = field(default_factory=lambda: dict[str, DNSServer]())
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _servers: list[asyncio.Server] = field(default_factory=lambda: list[asyncio.Server]())
    _tasks: set[asyncio.Task[Any]] = field(default_factory=lambda: set[asyncio.Task[Any]]())

    @property
    def ca_pem(self) -> str:
        return self.ca.cert_pem

    def port(self, fault: str) -> int:
        return self.ports[fault]

    def url(self, fault: str, path: str = "/", *, scheme: str | None = None) -> str:
        tls = fault.startswith("tls_")
        first = {"redirect_loop": "/a", "redirect_chain": "/hop/0"}.get(fault, path)
        return f"{scheme or ('https' if tls else 'http')}://127.0.0.1:{self.ports[fault]}{first}"

    def dns_address(self, fault: str) -> str:
        return self.dns[fault].host

    # Life cycle -----------------------------------------------------------------------------------

    def __enter__(self) -> FaultServers:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-servers", daemon=True)
        self._thread.start()
        try:
            self._run(self._start_streams())
            self._start_dns()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _start_dns(self) -> None:
        # Port 53 on a /24 of loopback picked at random, so that two runs on one machine (CI and
        # a developer, parallel helpers) do not collide; taken already: try another.
        rng = random.Random()
        for _ in range(20):
            network = f"127.{rng.randrange(100, 250)}.{rng.randrange(1, 250)}."
            try:
                for index, (name, handler) in enumerate(_dns_handlers().items(), start=1):
                    self.dns[name] = _Port53DNSServer(handler, host=f"{network}{index}").start()
                return
            except OSError as exc:
                for server in self.dns.values():
                    server.stop()
                self.dns.clear()
                if exc.errno != errno.EADDRINUSE:
                    raise
        raise OSError(errno.EADDRINUSE, "no free loopback /24 for the DNS faults")

    def __exit__(self, *exc_info: object) -> None:
        for server in self.dns.values():
            server.stop()
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):
                self._run(self._stop_streams())
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._loop is not None and not self._loop.is_running():
            self._loop.close()

    def _run(self, coroutine: Awaitable[Any]) -> Any:
        assert self._loop is not None
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)  # pyright: ignore[reportArgumentType]
        return future.result(timeout=30)

    async def _start_streams(self) -> None:
        plain: dict[str, StreamHandler] = {
            "silent": _silent,
            "slow_headers": _slow_headers,
            "reset_body": _reset_body,
            "malformed_status": _malformed_status,
            "huge_headers": _huge_headers,
            "endless_body": _endless_body,
            "redirect_loop": _redirect_loop,
            "redirect_chain": _redirect_chain,
            "healthy": _healthy,
            "tls_stall": _silent,
            "tls_garbage": _tls_garbage,
        }
        for name, handler in plain.items():
            await self._serve(name, handler)
        await self._serve("tls_chain20", _tls_close, tls=chain_of(self.ca, 20).server_ssl_context())
        await self._serve("tls_healthy", _tls_close, tls=self.ca.valid().server_ssl_context())
        # The leaf sends revocation checkers to misbehaving servers: a CRL that trickles in,
        # an OCSP responder whose status line is not HTTP.
        revocation = self.ca.issue_leaf(
            crl_url=self.url("slow_headers", "/crl"), ocsp_url=self.url("malformed_status", "/ocsp")
        )
        await self._serve("tls_revocation_faults", _tls_close, tls=revocation.server_ssl_context())
        self.ports["refused"] = free_port()

    async def _serve(self, name: str, handler: StreamHandler, *, tls: ssl.SSLContext | None = None) -> None:
        async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, OSError, asyncio.CancelledError):
                pass
            finally:
                self._tasks.discard(task)
                writer.transport.abort()

        server = await asyncio.start_server(guarded, "127.0.0.1", 0, ssl=tls, backlog=512)
        self._servers.append(server)
        self.ports[name] = server.sockets[0].getsockname()[1]

    async def _stop_streams(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2)
