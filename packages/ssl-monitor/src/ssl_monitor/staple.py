"""Does the server staple an OCSP response? A TLS 1.2 probe that reads the answer in the clear.

    probe_staple(host, port, ...)   StapleProbe: stapled True/False, the response (DER), or None

Python's ssl module cannot ask for OCSP stapling, so this sends its own TLS 1.2 ClientHello with
the status_request extension and reads the server's first flight up to ServerHelloDone: in TLS
1.2 the CertificateStatus message travels unencrypted. It then hangs up; no keys are made and no
application data is sent. A server that speaks only TLS 1.3 (where the staple is encrypted)
answers with an alert, and the probe reports that it could not tell (None).
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import anyio.abc
from monitor_common.netpolicy import ResolutionError, open_tcp
from monitor_common.ratelimit import RateLimited

from ssl_monitor.starttls import StartTLSError, negotiate

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["StapleProbe", "client_hello", "probe_staple"]

_HANDSHAKE, _ALERT = 22, 21
_SERVER_HELLO, _CERTIFICATE_STATUS, _SERVER_HELLO_DONE = 2, 22, 14
_MAX_FLIGHT = 256 * 1024
# ECDHE and RSA suites with AES-GCM, ChaCha20 and AES-CBC: what any TLS 1.2 server accepts.
_SUITES = bytes.fromhex("c02bc02fc02cc030cca9cca8c009c013c00ac014009c009d002f0035009e009f")
_GROUPS = bytes.fromhex("001d00170018")  # x25519, secp256r1, secp384r1
_SIGNATURES = bytes.fromhex("040305030603080408050806040105010601020302010804")


@dataclass(frozen=True)
class StapleProbe:
    stapled: bool | None
    """True: a response was stapled; False: the server did not staple; None: could not tell."""
    response: bytes | None = None
    detail: str | None = None


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def client_hello(server_name: str | None) -> bytes:
    """A TLS 1.2 ClientHello record asking for OCSP stapling (status_request)."""
    extensions = b""
    if server_name:
        name = server_name.encode("idna")
        entry = b"\x00" + struct.pack("!H", len(name)) + name
        extensions += _ext(0, struct.pack("!H", len(entry)) + entry)
    extensions += _ext(5, b"\x01\x00\x00\x00\x00")  # status_request: ocsp, no responder ids or extensions
    extensions += _ext(10, struct.pack("!H", len(_GROUPS)) + _GROUPS)
    extensions += _ext(11, b"\x01\x00")  # ec_point_formats: uncompressed
    extensions += _ext(13, struct.pack("!H", len(_SIGNATURES)) + _SIGNATURES)
    extensions += _ext(23, b"")  # extended_master_secret
    extensions += _ext(0xFF01, b"\x00")  # renegotiation_info
    body = (
        b"\x03\x03"
        + os.urandom(32)
        + b"\x00"
        + struct.pack("!H", len(_SUITES))
        + _SUITES
        + b"\x01\x00"
        + struct.pack("!H", len(extensions))
        + extensions
    )
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


class _ProbeError(Exception):
    """The server's answer is not the TLS 1.2 first flight the probe expects."""


class _Flight:
    """Handshake messages out of TLS records, as they arrive."""

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.stream = stream
        self.raw = b""
        self.messages = b""
        self.total = 0

    async def _record(self) -> tuple[int, bytes]:
        while len(self.raw) < 5 or len(self.raw) < 5 + int.from_bytes(self.raw[3:5], "big"):
            self.raw += await self.stream.receive()
            if len(self.raw) > _MAX_FLIGHT:
                raise _ProbeError("the server's first flight is implausibly large")
        length = int.from_bytes(self.raw[3:5], "big")
        kind, payload, self.raw = self.raw[0], self.raw[5 : 5 + length], self.raw[5 + length :]
        return kind, payload

    async def message(self) -> tuple[int, bytes]:
        while len(self.messages) < 4 or len(self.messages) < 4 + int.from_bytes(self.messages[1:4], "big"):
            kind, payload = await self._record()
            if kind == _ALERT:
                raise _ProbeError(f"the server answered with TLS alert {payload[-1:].hex() or '?'}")
            if kind != _HANDSHAKE:
                raise _ProbeError(f"unexpected TLS record type {kind}")
            self.messages += payload
        length = int.from_bytes(self.messages[1:4], "big")
        kind, body = self.messages[0], self.messages[4 : 4 + length]
        self.messages = self.messages[4 + length :]
        return kind, body


async def _read_staple(stream: anyio.abc.ByteStream) -> StapleProbe:
    flight = _Flight(stream)
    kind, body = await flight.message()
    if kind != _SERVER_HELLO or body[:2] != b"\x03\x03":
        return StapleProbe(None, detail="the server did not answer with a TLS 1.2 ServerHello")
    while True:
        kind, body = await flight.message()
        if kind == _CERTIFICATE_STATUS and body[:1] == b"\x01":
            length = int.from_bytes(body[1:4], "big")
            return StapleProbe(True, response=body[4 : 4 + length])
        if kind == _SERVER_HELLO_DONE:
            return StapleProbe(False)


async def probe_staple(
    host: str,
    port: int,
    ctx: CheckContext,
    *,
    timeout_s: float,
    sni: str | None,
    connect_ip: str | None = None,
    starttls: str | None = None,
) -> StapleProbe:
    """Ask `host:port` (or `connect_ip`) for a stapled OCSP response over TLS 1.2, as `ctx` permits.

    Never raises for the target's behaviour: a failed probe is `StapleProbe(None, detail=...)`.
    PolicyError and TargetError propagate (the caller's target is refused or malformed).
    """
    try:
        with anyio.fail_after(timeout_s):
            stream = await open_tcp(host, port, ctx, timeout=timeout_s, connect_ip=connect_ip)
            async with stream:
                if starttls is not None:
                    await negotiate(stream, starttls, sni or host)
                await stream.send(client_hello(sni))
                return await _read_staple(stream)
    except TimeoutError:
        return StapleProbe(None, detail=f"no answer to the stapling probe within {timeout_s:g} s")
    except (ResolutionError, StartTLSError, _ProbeError, RateLimited) as exc:
        return StapleProbe(None, detail=f"stapling probe failed: {exc}")
    except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
        return StapleProbe(None, detail="the server closed the connection during the stapling probe")
