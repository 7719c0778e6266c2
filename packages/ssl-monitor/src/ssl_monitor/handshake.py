"""One TLS handshake that accepts whatever the server sends, and what it revealed.

    client_context(...)       an SSLContext that verifies nothing and offers old versions too
    handshake(host, port, ctx, ...) connect (as the check context permits), STARTTLS if asked, handshake
    Handshake                 remote address, version, cipher, ALPN and the chain as served (DER)
    HandshakeFailure          why there is no handshake, as a finding code, message and hint

Verification is off during the handshake and the security level is 0, so that an expired,
self-signed, SHA-1 or 1024-bit certificate is still described in full: judging it is the job of
`validate`, in-process, afterwards. The chain as served comes from `get_unverified_chain()`,
public on `SSLObject` from Python 3.13 and on its `_sslobj` before.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import anyio
import anyio.abc
from anyio.streams.tls import TLSAttribute, TLSStream
from monitor_common.findings import (
    CONNECT_FAILED,
    CONNECT_REFUSED,
    CONNECT_RESET,
    DNS_RESOLUTION_FAILED,
    MONITOR_NETWORK_UNAVAILABLE,
    RATE_LIMITED,
    TIMEOUT,
    tls_failure_text,
)
from monitor_common.netpolicy import ResolutionError, monitor_side, open_tcp
from monitor_common.ratelimit import RateLimited
from monitor_common.results import Verdict
from monitor_common.targets import Host

from ssl_monitor.starttls import StartTLSError, negotiate

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = [
    "Handshake",
    "HandshakeFailure",
    "client_context",
    "connection_failure",
    "default_sni",
    "handshake",
]

_DER = 2  # _ssl.ENCODING_DER


@dataclass(frozen=True)
class Handshake:
    """What one completed handshake showed."""

    remote_ip: str
    tls_version: str | None
    cipher: str | None
    alpn: str | None
    chain: tuple[bytes, ...]
    """The certificates as the server sent them, leaf first, DER."""


class HandshakeFailure(Exception):
    """No handshake: `code` is the finding code (a shared one from `monitor_common.findings`:
    timeout, connect_refused, rate_limited, monitor_network_unavailable, ...; or
    tls_handshake_failed, starttls_failed)."""

    def __init__(
        self,
        code: str,
        message: str,
        hint: str,
        *,
        ssl_reason: str | None = None,
        severity: Verdict = Verdict.CRITICAL,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.ssl_reason = ssl_reason
        """OpenSSL's reason for a failed handshake, e.g. NO_PROTOCOLS_AVAILABLE, when there is one."""
        self.severity = severity
        """The finding's severity: critical (the target failed), unknown (`rate_limited`,
        `monitor_network_unavailable`: not tried)."""


def default_sni(target: Host, sni: str | None) -> str | None:
    """The server name to send: the caller's, else the host name; none for an IP address."""
    if sni is not None:
        return sni
    return None if target.ip is not None else target.name


def client_context(
    *,
    minimum: ssl.TLSVersion = ssl.TLSVersion.MINIMUM_SUPPORTED,
    maximum: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
    ciphers: str = "DEFAULT:@SECLEVEL=0",
    alpn: tuple[str, ...] = (),
) -> ssl.SSLContext:
    """A client context that completes a handshake with any certificate and any version it can.

    Raises ssl.SSLError when the local TLS library cannot be configured that way (no cipher
    matches `ciphers`, say).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers(ciphers)
    context.minimum_version = minimum
    context.maximum_version = maximum
    if alpn:
        context.set_alpn_protocols(list(alpn))
    return context


@cache
def _default_context(alpn: tuple[str, ...]) -> ssl.SSLContext:
    # Building a context costs about a millisecond with OpenSSL 3; a bulk check reuses one.
    return client_context(alpn=alpn)


def _served_chain(ssl_object: ssl.SSLObject) -> tuple[bytes, ...]:
    public = getattr(ssl_object, "get_unverified_chain", None)
    if public is not None:  # Python 3.13+: a list of DER bytes
        return tuple(cast("list[bytes]", public()) or ())
    inner: Any = getattr(ssl_object, "_sslobj", None)
    if inner is None or not hasattr(inner, "get_unverified_chain"):
        return ()
    chain = cast("list[Any] | None", inner.get_unverified_chain())
    return tuple(cast("bytes", cert.public_bytes(_DER)) for cert in chain or ())


async def handshake(
    host: str,
    port: int,
    ctx: CheckContext,
    *,
    timeout_s: float,
    sni: str | None,
    connect_ip: str | None = None,
    starttls: str | None = None,
    family: int | None = None,
    context: ssl.SSLContext | None = None,
    alpn: tuple[str, ...] = (),
) -> Handshake:
    """Connect to `host:port` (or `connect_ip`), run `starttls` if given, and handshake.

    The connection obeys `ctx`: its policy, its resolver and its rate limit. `timeout_s` bounds
    everything. `sni` is the server name sent (None: send none). `context` (the TLS settings)
    defaults to `client_context(alpn=alpn)`.

    Raises:
        HandshakeFailure: the target could not be reached or did not complete a handshake.
        PolicyError, TargetError: the caller's target is refused or malformed.
    """
    ssl_context = context if context is not None else _default_context(alpn)
    remote_ip = ""
    try:
        with anyio.fail_after(timeout_s):
            stream = await open_tcp(host, port, ctx, timeout=timeout_s, connect_ip=connect_ip, family=family)
            try:
                remote_ip = str(stream.extra(anyio.abc.SocketAttribute.remote_address)[0])
                if starttls is not None:
                    await negotiate(stream, starttls, sni or host)
                tls = await TLSStream.wrap(
                    stream,
                    server_side=False,
                    hostname=sni,
                    ssl_context=ssl_context,
                    standard_compatible=False,
                )
            except BaseException:
                await anyio.aclose_forcefully(stream)
                raise
            try:
                ssl_object = tls.extra(TLSAttribute.ssl_object)
                cipher = tls.extra(TLSAttribute.cipher)
                result = Handshake(
                    remote_ip=remote_ip,
                    tls_version=tls.extra(TLSAttribute.tls_version),
                    cipher=cipher[0] if cipher else None,
                    alpn=tls.extra(TLSAttribute.alpn_protocol),
                    chain=_served_chain(ssl_object),
                )
            finally:
                await anyio.aclose_forcefully(tls)
    except (RateLimited, TimeoutError, ResolutionError, StartTLSError, ssl.SSLError, OSError,
            anyio.BrokenResourceError, anyio.EndOfStream) as exc:  # fmt: skip
        raise connection_failure(exc, timeout_s=timeout_s, starttls=starttls) from None
    return result


def connection_failure(exc: BaseException, *, timeout_s: float, starttls: str | None) -> HandshakeFailure:
    """The HandshakeFailure (finding code, message, hint) for an error met while connecting,
    running STARTTLS or shaking hands: what `handshake` raises, for probes that dial themselves."""
    if isinstance(exc, RateLimited):
        return HandshakeFailure(
            RATE_LIMITED.code, f"no connection attempted: {exc}", exc.hint, severity=Verdict.UNKNOWN
        )
    if isinstance(exc, TimeoutError):
        return HandshakeFailure(TIMEOUT.code, f"no TLS handshake within {timeout_s:.3g} s", TIMEOUT.hint)
    if isinstance(exc, ResolutionError):
        if exc.monitor_side:
            return _monitor_outage(f"the name could not be looked up ({exc.reason})")
        return HandshakeFailure(
            DNS_RESOLUTION_FAILED.code,
            f"could not resolve {exc.host}: {exc.reason}",
            DNS_RESOLUTION_FAILED.hint,
        )
    if isinstance(exc, StartTLSError):
        return HandshakeFailure(
            "starttls_failed", f"STARTTLS ({starttls}) failed: {exc}", "check the port and the protocol"
        )
    if isinstance(exc, ConnectionRefusedError):
        return HandshakeFailure(CONNECT_REFUSED.code, "connection refused", CONNECT_REFUSED.hint)
    if isinstance(exc, ConnectionResetError):
        return HandshakeFailure(
            CONNECT_RESET.code, "the connection was reset before the handshake completed", CONNECT_RESET.hint
        )
    if isinstance(exc, ssl.SSLError):
        message, hint = tls_failure_text(exc.reason, str(exc))
        return HandshakeFailure("tls_handshake_failed", message, hint, ssl_reason=exc.reason)
    if isinstance(exc, (anyio.BrokenResourceError, anyio.EndOfStream)):
        return HandshakeFailure(
            "tls_handshake_failed",
            "the server closed the connection during the handshake",
            "the server may not speak TLS on this port (or needs STARTTLS)",
        )
    if isinstance(exc, OSError):
        if monitor_side(exc):
            return _monitor_outage(f"{exc.strerror or exc} on this machine")
        return HandshakeFailure(
            CONNECT_FAILED.code, f"could not connect: {exc.strerror or exc}", CONNECT_FAILED.hint
        )
    raise TypeError(f"not a connection error: {exc!r}")


def _monitor_outage(detail: str) -> HandshakeFailure:
    entry = MONITOR_NETWORK_UNAVAILABLE
    return HandshakeFailure(
        entry.code, f"the target was not contacted: {detail}", entry.hint, severity=entry.severity
    )
