"""STARTTLS: the plaintext exchange that turns a mail, file, chat or database connection into TLS.

    negotiate(stream, protocol, host)   run the protocol's upgrade dialogue on a connected stream

Each dialogue is the minimum a client must say (RFC 3207 SMTP, RFC 2595 IMAP and POP3, RFC 4217
FTP, RFC 6120 XMPP, the PostgreSQL SSLRequest). After it the server expects a ClientHello, so
nothing the server sends may still be buffered: leftover bytes are a protocol error.
"""

from __future__ import annotations

import re
from typing import Final, Literal

import anyio.abc

__all__ = ["DEFAULT_PORTS", "PROTOCOLS", "StartTLSError", "StartTLSProtocol", "negotiate"]

StartTLSProtocol = Literal["smtp", "imap", "pop3", "ftp", "xmpp", "postgres"]
PROTOCOLS: Final[tuple[str, ...]] = ("smtp", "imap", "pop3", "ftp", "xmpp", "postgres")
DEFAULT_PORTS: Final[dict[str, int]] = {
    "smtp": 25,
    "imap": 143,
    "pop3": 110,
    "ftp": 21,
    "xmpp": 5222,
    "postgres": 5432,
}

_MAX_LINE = 8192
_POSTGRES_SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")


class StartTLSError(Exception):
    """The server did not agree to upgrade: the message says what it answered."""


class _Reader:
    """Line and tag reads on a byte stream, remembering what arrived past the current read."""

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def _more(self) -> None:
        try:
            chunk = await self.stream.receive()
        except anyio.EndOfStream:
            raise StartTLSError("the server closed the connection during STARTTLS") from None
        self.buffer += chunk
        if len(self.buffer) > 4 * _MAX_LINE:
            raise StartTLSError("the server sent too much before agreeing to TLS")

    async def line(self) -> str:
        while b"\n" not in self.buffer:
            await self._more()
        raw, _, self.buffer = self.buffer.partition(b"\n")
        return raw.rstrip(b"\r").decode("utf-8", "replace")

    async def until(self, pattern: re.Pattern[bytes]) -> tuple[bytes, re.Match[bytes]]:
        """Everything up to and including the first match of `pattern`, and the match."""
        while (match := pattern.search(self.buffer)) is None:
            await self._more()
        consumed, self.buffer = self.buffer[: match.end()], self.buffer[match.end() :]
        return consumed, match

    async def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            await self._more()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def ensure_drained(self) -> None:
        if self.buffer:
            raise StartTLSError("the server sent data after agreeing to TLS (a STARTTLS injection risk)")


async def _reply(reader: _Reader, what: str) -> tuple[str, str]:
    """A (possibly multi-line) SMTP or FTP reply: its code and its last line."""
    while True:
        line = await reader.line()
        if len(line) < 3 or not line[:3].isdigit():
            raise StartTLSError(f"unexpected answer to {what}: {line[:120]!r}")
        if len(line) == 3 or line[3] != "-":
            return line[:3], line


async def _smtp(stream: anyio.abc.ByteStream, reader: _Reader) -> None:
    code, line = await _reply(reader, "connecting")
    if code != "220":
        raise StartTLSError(f"the SMTP greeting was {line[:120]!r}")
    await stream.send(b"EHLO mcp-ssl-monitor.invalid\r\n")
    code, line = await _reply(reader, "EHLO")
    if code != "250":
        raise StartTLSError(f"EHLO was answered with {line[:120]!r}")
    await stream.send(b"STARTTLS\r\n")
    code, line = await _reply(reader, "STARTTLS")
    if code != "220":
        raise StartTLSError(f"the SMTP server refused STARTTLS: {line[:120]!r}")


async def _imap(stream: anyio.abc.ByteStream, reader: _Reader) -> None:
    greeting = await reader.line()
    if not greeting.upper().startswith("* OK"):
        raise StartTLSError(f"the IMAP greeting was {greeting[:120]!r}")
    await stream.send(b"a1 STARTTLS\r\n")
    while True:
        line = await reader.line()
        if line.startswith("a1 "):
            break
    if not line.upper().startswith("A1 OK"):
        raise StartTLSError(f"the IMAP server refused STARTTLS: {line[:120]!r}")


async def _pop3(stream: anyio.abc.ByteStream, reader: _Reader) -> None:
    greeting = await reader.line()
    if not greeting.startswith("+OK"):
        raise StartTLSError(f"the POP3 greeting was {greeting[:120]!r}")
    await stream.send(b"STLS\r\n")
    line = await reader.line()
    if not line.startswith("+OK"):
        raise StartTLSError(f"the POP3 server refused STLS: {line[:120]!r}")


async def _ftp(stream: anyio.abc.ByteStream, reader: _Reader) -> None:
    code, line = await _reply(reader, "connecting")
    if code != "220":
        raise StartTLSError(f"the FTP greeting was {line[:120]!r}")
    await stream.send(b"AUTH TLS\r\n")
    code, line = await _reply(reader, "AUTH TLS")
    if code != "234":
        raise StartTLSError(f"the FTP server refused AUTH TLS: {line[:120]!r}")


_XMPP_FEATURES = re.compile(rb"</stream:features>|<stream:features\s*/>")
_XMPP_ANSWER = re.compile(rb"<(proceed|failure)\b[^>]*?(/>|>.*?</\1>)", re.DOTALL)


async def _xmpp(stream: anyio.abc.ByteStream, reader: _Reader, host: str) -> None:
    await stream.send(
        b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='" + host.encode("idna") + b"'>"
    )
    features, _ = await reader.until(_XMPP_FEATURES)
    if b"urn:ietf:params:xml:ns:xmpp-tls" not in features:
        raise StartTLSError("the XMPP server does not offer STARTTLS in its stream features")
    await stream.send(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    _, answer = await reader.until(_XMPP_ANSWER)
    if answer.group(1) != b"proceed":
        raise StartTLSError("the XMPP server answered <failure/> to <starttls/>")


async def _postgres(stream: anyio.abc.ByteStream, reader: _Reader) -> None:
    await stream.send(_POSTGRES_SSL_REQUEST)
    answer = await reader.exactly(1)
    if answer != b"S":
        raise StartTLSError("the PostgreSQL server does not accept TLS (it answered the SSLRequest with 'N')")


async def negotiate(stream: anyio.abc.ByteStream, protocol: str, host: str) -> None:
    """Run `protocol`'s upgrade dialogue on `stream`; afterwards the server expects a ClientHello.

    Raises StartTLSError when the server refuses or answers something else, and anyio's
    stream errors when the connection breaks.
    """
    reader = _Reader(stream)
    if protocol == "smtp":
        await _smtp(stream, reader)
    elif protocol == "imap":
        await _imap(stream, reader)
    elif protocol == "pop3":
        await _pop3(stream, reader)
    elif protocol == "ftp":
        await _ftp(stream, reader)
    elif protocol == "xmpp":
        await _xmpp(stream, reader, host)
    elif protocol == "postgres":
        await _postgres(stream, reader)
    else:
        raise ValueError(f"unknown STARTTLS protocol {protocol!r}")
    reader.ensure_drained()
