"""Raw ClientHello probes: offer chosen versions, suites, groups and signature schemes, read the answer.

    Endpoint            where to dial (host, port, SNI, STARTTLS, a pinned address)
    Offer               what one ClientHello offers
    Answer              what the server chose (version, suite, group, DH size, signature), or its refusal
    client_hello(...)   the ClientHello record for an Offer
    probe(...)          one connection: dial (as the check context permits), STARTTLS, hello, read, hang up

Written by hand because no maintained Python library builds arbitrary ClientHellos: Python's
`ssl` (and pyOpenSSL, and anything else on the local OpenSSL 3) can offer only what that build
enables, which leaves out exactly the suites a scan is for (EXPORT, DES, RC4, anonymous, static
DH, SSLv3, ...); tlslite-ng and scapy build hellos but are unmaintained for this purpose or pull
in far more than two hundred lines. The wire format is small and fixed (RFC 5246 section 7.4,
RFC 8446 section 4.1), and a probe needs only the server's first flight in the clear: the
ServerHello (or HelloRetryRequest) is the evidence that a version and suite are accepted, and
in TLS 1.2 and earlier the ServerKeyExchange shows the ECDHE curve, the DH modulus and the
signature scheme. No keys are derived and no handshake completes; the probe hangs up after
reading what it came for.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import anyio
import anyio.abc
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from monitor_common.netpolicy import ResolutionError, open_tcp
from monitor_common.ratelimit import RateLimited

from ssl_monitor.handshake import HandshakeFailure, connection_failure
from ssl_monitor.starttls import StartTLSError, negotiate
from ssl_monitor.suites import SUITES

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = [
    "EC_GROUPS",
    "GROUPS",
    "SIGNATURES",
    "SSL3",
    "TLS10",
    "TLS11",
    "TLS12",
    "TLS13",
    "VERSION_NAMES",
    "Answer",
    "Endpoint",
    "Offer",
    "client_hello",
    "parse_server_hello",
    "probe",
]

SSL3, TLS10, TLS11, TLS12, TLS13 = 0x0300, 0x0301, 0x0302, 0x0303, 0x0304
VERSION_NAMES: Final = {SSL3: "SSLv3", TLS10: "TLSv1", TLS11: "TLSv1.1", TLS12: "TLSv1.2", TLS13: "TLSv1.3"}

# Named groups (IANA "TLS Supported Groups"): code -> (name, kind, bits).
GROUPS: Final[dict[int, tuple[str, str, int]]] = {
    0x001D: ("x25519", "ec", 253), 0x001E: ("x448", "ec", 448),
    0x0017: ("secp256r1", "ec", 256), 0x0018: ("secp384r1", "ec", 384), 0x0019: ("secp521r1", "ec", 521),
    0x001A: ("brainpoolP256r1", "ec", 256), 0x001B: ("brainpoolP384r1", "ec", 384),
    0x001C: ("brainpoolP512r1", "ec", 512), 0x001F: ("brainpoolP256r1tls13", "ec", 256),
    0x0020: ("brainpoolP384r1tls13", "ec", 384), 0x0021: ("brainpoolP512r1tls13", "ec", 512),
    0x0016: ("secp256k1", "ec", 256), 0x0015: ("secp224r1", "ec", 224), 0x0014: ("secp224k1", "ec", 224),
    0x0013: ("secp192r1", "ec", 192), 0x0012: ("secp192k1", "ec", 192), 0x0011: ("secp160r2", "ec", 160),
    0x0010: ("secp160r1", "ec", 160), 0x000F: ("secp160k1", "ec", 160),
    0x0001: ("sect163k1", "ec", 163), 0x0002: ("sect163r1", "ec", 163), 0x0003: ("sect163r2", "ec", 163),
    0x0004: ("sect193r1", "ec", 193), 0x0005: ("sect193r2", "ec", 193), 0x0006: ("sect233k1", "ec", 233),
    0x0007: ("sect233r1", "ec", 233), 0x0008: ("sect239k1", "ec", 239), 0x0009: ("sect283k1", "ec", 283),
    0x000A: ("sect283r1", "ec", 283), 0x000B: ("sect409k1", "ec", 409), 0x000C: ("sect409r1", "ec", 409),
    0x000D: ("sect571k1", "ec", 571), 0x000E: ("sect571r1", "ec", 571),
    0x0100: ("ffdhe2048", "ffdhe", 2048), 0x0101: ("ffdhe3072", "ffdhe", 3072),
    0x0102: ("ffdhe4096", "ffdhe", 4096), 0x0103: ("ffdhe6144", "ffdhe", 6144),
    0x0104: ("ffdhe8192", "ffdhe", 8192),
    0x11EB: ("SecP256r1MLKEM768", "hybrid", 256), 0x11EC: ("X25519MLKEM768", "hybrid", 253),
    0x11ED: ("SecP384r1MLKEM1024", "hybrid", 384),
}  # fmt: skip
EC_GROUPS: Final = tuple(code for code, (_, kind, _) in GROUPS.items() if kind == "ec")

# Signature schemes (RFC 8446 4.2.3, with the TLS 1.2 hash/signature pairs): code -> name.
SIGNATURES: Final[dict[int, str]] = {
    0x0804: "rsa_pss_rsae_sha256", 0x0805: "rsa_pss_rsae_sha384", 0x0806: "rsa_pss_rsae_sha512",
    0x0809: "rsa_pss_pss_sha256", 0x080A: "rsa_pss_pss_sha384", 0x080B: "rsa_pss_pss_sha512",
    0x0807: "ed25519", 0x0808: "ed448",
    0x0403: "ecdsa_secp256r1_sha256", 0x0503: "ecdsa_secp384r1_sha384", 0x0603: "ecdsa_secp521r1_sha512",
    0x0401: "rsa_pkcs1_sha256", 0x0501: "rsa_pkcs1_sha384", 0x0601: "rsa_pkcs1_sha512",
    0x0303: "ecdsa_sha224", 0x0301: "rsa_pkcs1_sha224", 0x0302: "dsa_sha224",
    0x0402: "dsa_sha256", 0x0502: "dsa_sha384", 0x0602: "dsa_sha512",
    0x0203: "ecdsa_sha1", 0x0201: "rsa_pkcs1_sha1", 0x0202: "dsa_sha1", 0x0101: "rsa_pkcs1_md5",
}  # fmt: skip

_HANDSHAKE, _ALERT = 22, 21
_SERVER_HELLO, _CERTIFICATE, _SERVER_KEY_EXCHANGE, _SERVER_HELLO_DONE = 2, 11, 12, 14
_MAX_FLIGHT: Final = 256 * 1024
# ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3): SHA-256("HelloRetryRequest").
_HRR_RANDOM: Final = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
_EXT_SERVER_NAME, _EXT_GROUPS, _EXT_POINT_FORMATS, _EXT_SIGNATURES = 0, 10, 11, 13
_EXT_EMS, _EXT_SUPPORTED_VERSIONS, _EXT_KEY_SHARE, _EXT_RENEGOTIATION = 23, 43, 51, 0xFF01
_EXT_PSK_MODES = 45
_RENEGOTIATION_SCSV: Final = 0x00FF


@dataclass(frozen=True)
class Endpoint:
    """Where a probe dials: `connect_ip` pins the address once the first connection found it."""

    host: str
    port: int
    sni: str | None
    starttls: str | None = None
    connect_ip: str | None = None


@dataclass(frozen=True)
class Offer:
    """One ClientHello. `version` is the only version offered (TLS 1.3 through supported_versions)."""

    version: int
    suites: Sequence[int]
    groups: Sequence[int] | None = None
    """None: every group for TLS 1.3; the elliptic curves only for older versions, whose
    clients never offered FFDHE groups, so a DHE suite shows the server's own DH parameters
    (the ones an old client gets) rather than an RFC 7919 group."""
    signatures: Sequence[int] = field(default_factory=lambda: list(SIGNATURES))
    key_share: bool = True
    """TLS 1.3: send an x25519 share when x25519 is offered; False sends none, so the server
    must answer with a HelloRetryRequest naming the group it picks."""
    read_key_exchange: bool = False
    """TLS 1.2 and earlier: read on to the ServerKeyExchange (curve, DH size, signature)."""


@dataclass(frozen=True)
class Answer:
    """What the server chose, or `version is None` when it refused (alert or hang-up)."""

    version: int | None = None
    suite: int | None = None
    alert: int | None = None
    group: int | None = None
    """TLS 1.3: the key_share or HelloRetryRequest group; TLS 1.2: the ECDHE curve."""
    retry: bool = False
    """The answer was a HelloRetryRequest."""
    dh_bits: int | None = None
    """Size of the DH modulus in the ServerKeyExchange of a DHE suite."""
    signature: int | None = None
    """Signature scheme of the ServerKeyExchange (TLS 1.2)."""

    @property
    def accepted(self) -> bool:
        return self.version is not None and self.suite is not None


def _ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def _u16_list(values: Sequence[int]) -> bytes:
    return struct.pack(f"!{len(values)}H", *values)


def _vector16(body: bytes) -> bytes:
    return struct.pack("!H", len(body)) + body


def client_hello(offer: Offer, server_name: str | None) -> bytes:
    """The ClientHello record (one TLS record) for `offer`."""
    tls13 = offer.version >= TLS13
    suites = list(offer.suites)
    extensions = b""
    if server_name:
        name = server_name.encode("idna")
        entry = b"\x00" + struct.pack("!H", len(name)) + name
        extensions += _ext(_EXT_SERVER_NAME, _vector16(entry))
    groups = offer.groups if offer.groups is not None else (list(GROUPS) if tls13 else EC_GROUPS)
    if groups:
        extensions += _ext(_EXT_GROUPS, _vector16(_u16_list(groups)))
        extensions += _ext(_EXT_POINT_FORMATS, b"\x01\x00")  # uncompressed
    if offer.version >= TLS12 and offer.signatures:
        extensions += _ext(_EXT_SIGNATURES, _vector16(_u16_list(offer.signatures)))
    if offer.version >= TLS10:
        extensions += _ext(_EXT_EMS, b"")
        extensions += _ext(_EXT_RENEGOTIATION, b"\x00")
    else:
        suites.append(_RENEGOTIATION_SCSV)  # SSLv3 servers may not parse extensions
    if tls13:
        extensions += _ext(_EXT_SUPPORTED_VERSIONS, b"\x02" + struct.pack("!H", TLS13))
        extensions += _ext(_EXT_PSK_MODES, b"\x01\x01")  # psk_dhe_ke
        shares = b""
        if offer.key_share and 0x001D in groups:
            public = X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            shares = struct.pack("!HH", 0x001D, len(public)) + public
        extensions += _ext(_EXT_KEY_SHARE, _vector16(shares))
    legacy_version = TLS12 if tls13 else offer.version
    session_id = os.urandom(32) if tls13 else b""  # middlebox compatibility mode (RFC 8446 D.4)
    body = (
        struct.pack("!H", legacy_version)
        + os.urandom(32)
        + bytes([len(session_id)])
        + session_id
        + _vector16(_u16_list(suites))
        + b"\x01\x00"  # compression: null only
        + _vector16(extensions)
    )
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    record_version = SSL3 if offer.version == SSL3 else TLS10
    return struct.pack("!BHH", _HANDSHAKE, record_version, len(handshake)) + handshake


class ProbeError(Exception):
    """The server's answer is not a TLS first flight the probe can read."""


class _Refused(Exception):
    def __init__(self, alert: int | None) -> None:
        super().__init__(alert)
        self.alert = alert


class _Flight:
    """Handshake messages out of TLS records, as they arrive."""

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.stream = stream
        self.raw = b""
        self.messages = b""

    async def _record(self) -> tuple[int, bytes]:
        while len(self.raw) < 5 or len(self.raw) < 5 + int.from_bytes(self.raw[3:5], "big"):
            try:
                self.raw += await self.stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionResetError):
                raise _Refused(None) from None
            if len(self.raw) > _MAX_FLIGHT:
                raise ProbeError("the server's first flight is implausibly large")
            if self.raw[:1] not in (bytes([_HANDSHAKE]), bytes([_ALERT])):
                raise ProbeError(f"the server did not answer with TLS (first byte 0x{self.raw[0]:02x})")
        length = int.from_bytes(self.raw[3:5], "big")
        kind, payload, self.raw = self.raw[0], self.raw[5 : 5 + length], self.raw[5 + length :]
        return kind, payload

    async def message(self) -> tuple[int, bytes]:
        while len(self.messages) < 4 or len(self.messages) < 4 + int.from_bytes(self.messages[1:4], "big"):
            kind, payload = await self._record()
            if kind == _ALERT:
                raise _Refused(payload[1] if len(payload) >= 2 else None)
            self.messages += payload
        length = int.from_bytes(self.messages[1:4], "big")
        kind, body = self.messages[0], self.messages[4 : 4 + length]
        self.messages = self.messages[4 + length :]
        return kind, body


def _extensions(data: bytes) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    at = 0
    while at + 4 <= len(data):
        kind, length = struct.unpack_from("!HH", data, at)
        found[kind] = data[at + 4 : at + 4 + length]
        at += 4 + length
    return found


def parse_server_hello(body: bytes) -> Answer:
    """The version, suite and (TLS 1.3) group a ServerHello or HelloRetryRequest body selects."""
    try:
        version = int.from_bytes(body[0:2], "big")
        random = body[2:34]
        at = 35 + body[34]
        suite = int.from_bytes(body[at : at + 2], "big")
        at += 3  # suite, compression method
        extensions = _extensions(body[at + 2 : at + 2 + int.from_bytes(body[at : at + 2], "big")])
    except IndexError:
        raise ProbeError("the ServerHello is truncated") from None
    if len(body) < 38:
        raise ProbeError("the ServerHello is truncated")
    chosen = extensions.get(_EXT_SUPPORTED_VERSIONS)
    if chosen is not None and len(chosen) == 2:
        version = int.from_bytes(chosen, "big")
    group = None
    share = extensions.get(_EXT_KEY_SHARE)
    if share is not None and len(share) >= 2:
        group = int.from_bytes(share[0:2], "big")
    return Answer(version=version, suite=suite, group=group, retry=random == _HRR_RANDOM)


def parse_server_key_exchange(
    body: bytes, version: int, kx: str
) -> tuple[int | None, int | None, int | None]:
    """(ECDHE group, DH modulus bits, signature scheme) of a ServerKeyExchange body.

    `kx` is the suite's key exchange (DHE or ECDHE; anonymous suites carry no signature).
    """
    group = dh_bits = None
    try:
        if kx == "ECDHE":
            if body[0] != 3:  # only named curves (RFC 8422); explicit curves are long gone
                return None, None, None
            group = int.from_bytes(body[1:3], "big")
            at = 4 + body[3]
        elif kx == "DHE":
            p_length = int.from_bytes(body[0:2], "big")
            prime = body[2 : 2 + p_length]
            dh_bits = int.from_bytes(prime, "big").bit_length()
            at = 2 + p_length
            for _ in range(2):  # g, Ys
                at += 2 + int.from_bytes(body[at : at + 2], "big")
        else:
            return None, None, None
    except IndexError:
        return group, dh_bits, None
    signature = None
    if version >= TLS12 and len(body) >= at + 2:
        signature = int.from_bytes(body[at : at + 2], "big")
    return group, dh_bits, signature


async def _exchange(stream: anyio.abc.ByteStream, offer: Offer, hello: bytes) -> Answer:
    await stream.send(hello)
    flight = _Flight(stream)
    try:
        kind, body = await flight.message()
        if kind != _SERVER_HELLO:
            raise ProbeError(f"the server answered with handshake message {kind}, not a ServerHello")
        answer = parse_server_hello(body)
        suite = SUITES.get(answer.suite) if answer.suite is not None else None
        if (
            not offer.read_key_exchange
            or answer.version is None
            or answer.version >= TLS13
            or suite is None
            or suite.kx not in ("DHE", "ECDHE")
        ):
            return answer
        while True:
            kind, body = await flight.message()
            if kind == _SERVER_KEY_EXCHANGE:
                group, dh_bits, signature = parse_server_key_exchange(body, answer.version, suite.kx)
                return Answer(
                    version=answer.version,
                    suite=answer.suite,
                    group=group,
                    dh_bits=dh_bits,
                    signature=signature,
                )
            if kind == _SERVER_HELLO_DONE:
                return answer
    except _Refused as refused:
        return Answer(alert=refused.alert)


async def probe(
    endpoint: Endpoint, offer: Offer, ctx: CheckContext, *, timeout_s: float
) -> tuple[Answer, str]:
    """Send one ClientHello for `offer` to `endpoint` and read what the server chose.

    Returns the answer and the address connected to. A refusal (an alert, or the server
    hanging up) is an `Answer` without a version. Raises HandshakeFailure when the target could
    not be reached or did not speak TLS (timeout, connect_refused, starttls_failed, ...), and
    PolicyError / TargetError for a refused or malformed target.
    """
    hello = client_hello(offer, endpoint.sni)
    try:
        with anyio.fail_after(timeout_s):
            stream = await open_tcp(
                endpoint.host, endpoint.port, ctx, timeout=timeout_s, connect_ip=endpoint.connect_ip
            )
            async with stream:
                remote_ip = str(stream.extra(anyio.abc.SocketAttribute.remote_address)[0])
                if endpoint.starttls is not None:
                    await negotiate(stream, endpoint.starttls, endpoint.sni or endpoint.host)
                return await _exchange(stream, offer, hello), remote_ip
    except ProbeError as exc:
        raise HandshakeFailure(
            "tls_handshake_failed",
            f"the server's answer is not TLS: {exc}",
            "the server may not speak TLS on this port (or needs STARTTLS)",
        ) from None
    except (RateLimited, TimeoutError, ResolutionError, StartTLSError, OSError,
            anyio.BrokenResourceError, anyio.EndOfStream) as exc:  # fmt: skip
        raise connection_failure(exc, timeout_s=timeout_s, starttls=endpoint.starttls) from None
