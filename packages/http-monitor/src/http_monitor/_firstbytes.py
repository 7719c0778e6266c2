"""The first bytes a server sent on a connection, kept so that a port that is not HTTP can say what it is.

A mail or SSH server on the port a check asks for sends its banner ("220 mail.example.com
ESMTP", "SSH-2.0-OpenSSH_9.6") and closes when it reads an HTTP request; the HTTP client then
reports only that the server "disconnected without sending a response". `FirstBytesBackend`
dials through `monitor_common.httpclient.ClosingBackend` (httpcore2's AnyIO backend) and hands
out streams that keep the first `KEPT` bytes they read (one length check per read after that),
so that the check can quote what came (`not_http_finding`). Written by hand: httpcore2 keeps no copy of what its parser rejected, and
h11's buffer is not reachable from the exception.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2
from monitor_common.httpclient import ClosingBackend
from monitor_common.results import Finding, Verdict

__all__ = ["KEPT", "FirstBytesBackend", "first_bytes", "not_http_finding", "quote"]

KEPT = 64
"""Bytes kept per connection: enough for a banner's first line, short enough to quote."""

# What a banner says the port is, by its start; the hint names the protocol.
_PROTOCOLS: tuple[tuple[bytes, str], ...] = (
    (b"SSH-", "SSH"),
    (b"220", "SMTP or FTP"),
    (b"+OK", "POP3"),
    (b"* OK", "IMAP"),
    (b"* PREAUTH", "IMAP"),
    (b"\x15\x03", "TLS (an alert): use https://"),
    (b"\x16\x03", "TLS: use https://"),
    (b"RFB ", "VNC"),
    (b"-ERR", "Redis"),
)


class _Recorded(httpcore2.AsyncNetworkStream):
    def __init__(self, stream: httpcore2.AsyncNetworkStream) -> None:
        self._stream = stream
        self.first = b""

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        data = await self._stream.read(max_bytes, timeout)
        if len(self.first) <= KEPT:  # one byte more than is quoted: says whether more came
            self.first += data[: KEPT + 1 - len(self.first)]
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore2.AsyncNetworkStream:
        return await self._stream.start_tls(ssl_context, server_hostname, timeout)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class FirstBytesBackend(ClosingBackend):
    """`ClosingBackend`, with streams that keep the first bytes they read (plain TCP;
    after TLS starts, httpcore2 reads the TLS stream, which keeps nothing)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        stream = await super().connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _Recorded(stream)


def first_bytes(stream: object) -> bytes:
    """What a stream from `FirstBytesBackend` has read first (b"" for any other stream)."""
    return stream.first if isinstance(stream, _Recorded) else b""


def quote(data: bytes) -> str:
    """`data` as a quoted, escaped string (bytes outside printable ASCII as \\xNN, line breaks as
    \\r\\n), at most `KEPT` bytes of it: safe to show whatever a server sent."""
    text = repr(bytes(data[:KEPT]))[1:]  # b'...' -> '...', with every unsafe byte escaped
    return text + ("…" if len(data) > KEPT else "")


def not_http_finding(data: bytes, where: str) -> Finding | None:
    """`not_http` when a server's first bytes are not an HTTP response; None when they are (or
    nothing came): the caller's own finding stands then."""
    if not data or data.startswith(b"HTTP/"):
        return None
    protocol = next((name for start, name in _PROTOCOLS if data.startswith(start)), None)
    hint = (
        f"it looks like {protocol}: check the port and the scheme of the URL"
        if protocol
        else "another service listens on that port: check the port and the scheme of the URL"
    )
    return Finding(
        severity=Verdict.CRITICAL,
        code="not_http",
        message=f"{where} answered with something other than HTTP: {quote(data)}",
        hint=hint,
    )
