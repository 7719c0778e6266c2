"""Which protocol versions, cipher suites and ALPN protocols a TLS server accepts.

    tls_scan(host, ...)     TlsScanResult

Each version is tried alone (minimum = maximum). For TLS 1.0 to 1.2 the accepted suites are
found by elimination: offer everything the local OpenSSL knows at security level 0, note the
suite the server picks, offer everything but that, and so on until the server refuses, which
costs one handshake per accepted suite plus one. Python's ssl module cannot choose TLS 1.3
suites, so for TLS 1.3 only the server's choice is listed (all TLS 1.3 suites are AEAD with
forward secrecy).

A version or suite family the local TLS library cannot even offer is reported as "not
testable from this host", never as disabled: OpenSSL 3 refuses TLS 1.0 and 1.1 at its
default security level, so the scan lowers it (`@SECLEVEL=0`) before concluding anything.
"""

from __future__ import annotations

import ssl
import time
import warnings
from typing import TYPE_CHECKING, Final

import anyio
from monitor_common import findings as shared
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_host

from ssl_monitor.certs import resolve_port
from ssl_monitor.handshake import Handshake, HandshakeFailure, client_context, default_sni, handshake
from ssl_monitor.models import ProtocolState, ProtocolSupport, TlsScanResult

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["classify_failure", "tls_scan"]

_ALL_SUITES = "ALL:COMPLEMENTOFALL"
_MAX_ROUNDS = 64
_VERSIONS: Final = (
    ("TLSv1", "TLSv1", "HAS_TLSv1"),
    ("TLSv1.1", "TLSv1_1", "HAS_TLSv1_1"),
    ("TLSv1.2", "TLSv1_2", "HAS_TLSv1_2"),
    ("TLSv1.3", "TLSv1_3", "HAS_TLSv1_3"),
)
# Families of broken suites; a suite is weak when its name contains one of the markers.
_WEAK_FAMILIES: Final = {
    "NULL": ("NULL",),
    "EXPORT": ("EXP",),
    "RC4": ("RC4",),
    "3DES": ("DES-CBC3", "3DES"),
}
_FORWARD_SECRET_KX: Final = frozenset({"kx-ecdhe", "kx-dhe", "kx-any", "kx-ecdhe-psk", "kx-dhe-psk"})
# OpenSSL reasons that mean this host could not even offer the version: nothing was sent.
_LOCAL_REASONS: Final = frozenset(
    {"NO_PROTOCOLS_AVAILABLE", "NO_CIPHERS_AVAILABLE", "NO_SUITABLE_SIGNATURE_ALGORITHM"}
)
# No handshake because nothing (or nothing usable) was connected to: not a version refused.
_UNREACHABLE: Final = frozenset(
    entry.code
    for entry in (
        shared.TIMEOUT,
        shared.DNS_RESOLUTION_FAILED,
        shared.CONNECT_REFUSED,
        shared.CONNECT_RESET,
        shared.CONNECT_FAILED,
        shared.RATE_LIMITED,
        shared.MONITOR_NETWORK_UNAVAILABLE,
    )
)


def classify_failure(failure: HandshakeFailure) -> ProtocolState:
    """enabled/disabled/not_testable/error for a handshake that failed while trying one version."""
    if failure.ssl_reason in _LOCAL_REASONS:
        return "not_testable"
    if failure.code in _UNREACHABLE or failure.code == "starttls_failed":
        return "error"
    return "disabled"


def _tls_version(attribute: str) -> ssl.TLSVersion:
    with warnings.catch_warnings():
        # ssl.TLSVersion.TLSv1 and TLSv1_1 are deprecated; trying them is the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(ssl.TLSVersion, attribute)


def _context(version: ssl.TLSVersion, ciphers: str, alpn: tuple[str, ...] = ()) -> ssl.SSLContext:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return client_context(minimum=version, maximum=version, ciphers=f"{ciphers}:@SECLEVEL=0", alpn=alpn)


def _suite_table() -> dict[str, str]:
    """Every suite name the local OpenSSL can offer, with its key exchange (kx-ecdhe, kx-rsa, ...)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_ciphers(f"{_ALL_SUITES}:@SECLEVEL=0")
    return {suite["name"]: str(suite.get("kea", "")) for suite in context.get_ciphers()}


def _weak_family(name: str) -> str | None:
    for family, markers in _WEAK_FAMILIES.items():
        if any(marker in name for marker in markers):
            return family
    return None


async def tls_scan(
    host: str,
    ctx: CheckContext,
    *,
    port: int | None = None,
    sni: str | None = None,
    starttls: str | None = None,
    timeout_s: float = 30.0,
) -> TlsScanResult:
    """Try TLS 1.0 to 1.3 one at a time, the suites of each, and ALPN h2 / http/1.1.

    Every handshake goes through `ctx` (policy, resolver, rate limit).
    `timeout_s` bounds the whole scan; each handshake gets at most 10 s of it. A scan cut short
    reports what it found, with an `scan_incomplete` finding.
    """
    started = Stopwatch()
    target = parse_host(host)
    port = resolve_port(port, starttls)
    server_name = default_sni(target, sni)
    base: dict[str, object] = {"host": target.name, "port": port, "sni": server_name, "starttls": starttls}
    suites = _suite_table()
    remote_ip: str | None = None
    protocols: list[ProtocolSupport] = []
    alpn: list[str] = []
    findings: list[Finding] = []
    limited: HandshakeFailure | None = None

    deadline = time.monotonic() + timeout_s

    async def attempt(context: ssl.SSLContext) -> tuple[str | None, str | None]:
        """(cipher, alpn) of one handshake; HandshakeFailure when there is none."""
        nonlocal remote_ip, limited
        try:
            shake = await _handshake(context)
        except HandshakeFailure as exc:
            if exc.code == shared.RATE_LIMITED.code:
                limited = exc  # reported once for the scan; the version it hit says "error"
            raise
        remote_ip = shake.remote_ip
        return shake.cipher, shake.alpn

    async def _handshake(context: ssl.SSLContext) -> Handshake:
        # A little less than what is left, so that a handshake that stalls ends as a timeout
        # of its own (a finding) rather than by the scan's deadline.
        left = deadline - time.monotonic() - min(0.05, timeout_s / 20)
        return await handshake(
            target.name,
            port,
            ctx,
            timeout_s=max(min(left, 10.0), 0.001),
            sni=server_name,
            connect_ip=remote_ip,
            starttls=starttls,
            context=context,
        )

    async def probe_version(label: str, attribute: str, flag: str) -> ProtocolSupport:
        if not getattr(ssl, flag, False):
            return ProtocolSupport(
                version=label,
                state="not_testable",
                detail="not testable from this host: "
                f"the local OpenSSL ({ssl.OPENSSL_VERSION}) is built without {label}",
            )
        version = _tls_version(attribute)
        accepted: list[str] = []
        support = ProtocolSupport(version=label, state="disabled")
        for _ in range(_MAX_ROUNDS):
            excluded = "".join(f":!{name}" for name in accepted)
            try:
                context = _context(version, _ALL_SUITES + excluded)
            except ssl.SSLError:
                break  # nothing left to offer: every suite this host knows was accepted
            try:
                cipher, _ = await attempt(context)
            except HandshakeFailure as exc:
                if accepted:
                    break
                state = classify_failure(exc)
                detail = exc.message
                if state == "not_testable":
                    detail = (
                        f"not testable from this host: the local OpenSSL cannot offer {label} ({exc.message})"
                    )
                return ProtocolSupport(version=label, state=state, detail=detail)
            if cipher is None or cipher in accepted:
                break
            accepted.append(cipher)
            if label == "TLSv1.3":
                support.ciphers_note = (
                    "Python's ssl module cannot choose TLS 1.3 suites: only the server's choice is listed"
                )
                break
        support.state = "enabled"
        support.ciphers = accepted
        support.forward_secrecy = all(suites.get(name, "kx-any") in _FORWARD_SECRET_KX for name in accepted)
        support.weak_ciphers = [name for name in accepted if _weak_family(name) is not None]
        return support

    with anyio.move_on_after(timeout_s) as scope:
        # One plain handshake first: an unreachable target is one finding, not four.
        first_failure: HandshakeFailure | None = None
        try:
            await attempt(client_context())
        except HandshakeFailure as exc:
            first_failure = exc
            if exc.code in _UNREACHABLE or exc.code == "starttls_failed":
                findings.append(
                    Finding(severity=exc.severity, code=exc.code, message=exc.message, hint=exc.hint)
                )
                return TlsScanResult.build(
                    summary=f"{exc.severity.value}: {target.name}:{port}: {exc.message}",
                    findings=findings,
                    started=started,
                    **base,
                )
        for label, attribute, flag in _VERSIONS:
            protocols.append(await probe_version(label, attribute, flag))
        if (
            first_failure is not None
            and first_failure.code != shared.RATE_LIMITED.code  # reported below, once
            and not any(p.state == "enabled" for p in protocols)
        ):
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code=first_failure.code,
                    message=f"no handshake with any TLS version: {first_failure.message}",
                    hint=first_failure.hint,
                )
            )
        if starttls is None:
            newest = max(
                (p for p in protocols if p.state == "enabled"), key=lambda p: p.version, default=None
            )
            if newest is not None:
                version = _tls_version(dict((v[0], v[1]) for v in _VERSIONS)[newest.version])
                for protocol in ("h2", "http/1.1"):
                    try:
                        _, chosen = await attempt(_context(version, "DEFAULT", alpn=(protocol,)))
                    except HandshakeFailure:
                        continue
                    if chosen == protocol:
                        alpn.append(protocol)
    if limited is not None:
        findings.append(
            Finding(
                severity=Verdict.UNKNOWN,
                code=limited.code,
                message=f"the scan is partial: {limited.message}",
                hint=limited.hint,
            )
        )
    if scope.cancelled_caught:
        findings.append(
            Finding(
                severity=Verdict.UNKNOWN,
                code="scan_incomplete",
                message=f"the scan did not finish within {timeout_s:g} s; results are partial",
                hint="pass a larger timeout_s",
            )
        )
    return _result(started, base, remote_ip, protocols, alpn, findings, suites)


def _result(
    started: Stopwatch,
    base: dict[str, object],
    remote_ip: str | None,
    protocols: list[ProtocolSupport],
    alpn: list[str],
    findings: list[Finding],
    suites: dict[str, str],
) -> TlsScanResult:
    state = {p.version: p.state for p in protocols}
    if state.get("TLSv1") == "enabled":
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="tls10_enabled",
                message="the server accepts TLS 1.0",
                hint="disable TLS 1.0; every current client speaks TLS 1.2",
            )
        )
    if state.get("TLSv1.1") == "enabled":
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="tls11_enabled",
                message="the server accepts TLS 1.1",
                hint="disable TLS 1.1; every current client speaks TLS 1.2",
            )
        )
    if state.get("TLSv1.3") == "disabled" and "enabled" in state.values():
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="tls13_missing",
                message="the server does not accept TLS 1.3",
                hint="enable TLS 1.3 (faster handshakes, only strong suites)",
            )
        )
    weak = [name for p in protocols for name in p.weak_ciphers]
    if weak:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="weak_cipher",
                message=f"the server accepts weak suites: {', '.join(dict.fromkeys(weak))}",
                hint="remove NULL, EXPORT, RC4 and 3DES suites from the server's configuration",
            )
        )
    untestable = [
        family
        for family, markers in _WEAK_FAMILIES.items()
        if not any(marker in name for name in suites for marker in markers)
    ]
    enabled = [p for p in protocols if p.state == "enabled"]
    forward = all(p.forward_secrecy for p in enabled) if enabled else None
    verdict = Verdict.worst([f.severity for f in findings])
    versions = ", ".join(p.version for p in enabled) or "no version"
    shown = f"{base['host']}:{base['port']}"
    summary = f"{verdict.value}: {shown} accepts {versions}"
    if findings:
        summary += f"; {findings[0].message}"
    return TlsScanResult.build(
        summary=summary,
        findings=findings,
        started=started,
        remote_ip=remote_ip,
        protocols=protocols,
        forward_secrecy=forward,
        weak_ciphers=list(dict.fromkeys(weak)),
        weak_ciphers_not_testable=untestable,
        alpn=alpn,
        **base,
    )
