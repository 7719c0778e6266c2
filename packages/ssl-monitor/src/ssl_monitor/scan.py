"""Which protocol versions, cipher suites, groups, signature schemes and ALPN protocols a TLS server accepts.

    tls_scan(host, ...)     TlsScanResult

Everything is found with raw ClientHellos (`hello`), not with the local OpenSSL, so that what
OpenSSL 3 will no longer offer (SSLv3, EXPORT, DES, RC4, anonymous and static-DH suites, old
curves) is still seen. A ServerHello that selects a suite is the evidence; no handshake completes.

Suites are found per version by elimination, as testssl.sh does: offer every suite of the
table (`suites`) worth offering at that version, note the one the server picks, offer the rest,
and so on until the server refuses, so a version costs one connection per accepted suite plus
one. Groups are found the same way (TLS 1.3: a ClientHello with no key share, so the
HelloRetryRequest names the group; TLS 1.2: the ECDHE curve of the ServerKeyExchange), and so
are the TLS 1.2 signature schemes. DH sizes are read from the ServerKeyExchange of every DHE
suite found. The chains run concurrently, at most `ctx.per_host_concurrency` connections at a
time, every one through the check context (policy, resolver, rate limit) and inside the scan's
deadline; a STARTTLS scan runs the upgrade dialogue on every connection.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import anyio
from monitor_common import findings as shared
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_host

from ssl_monitor.certs import resolve_port
from ssl_monitor.grade import grade
from ssl_monitor.handshake import HandshakeFailure, client_context, default_sni, handshake
from ssl_monitor.hello import (
    EC_GROUPS,
    GROUPS,
    SIGNATURES,
    SSL3,
    TLS10,
    TLS11,
    TLS12,
    TLS13,
    VERSION_NAMES,
    Answer,
    Endpoint,
    Offer,
    probe,
)
from ssl_monitor.models import KeyExchangeGroup, ProtocolSupport, TlsScanResult
from ssl_monitor.mozilla import ServerProfile, compliance, leaf_facts
from ssl_monitor.suites import SUITES, TLS13_SUITES, suite_name, suites_for

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["tls_scan"]

_VERSIONS: Final = (SSL3, TLS10, TLS11, TLS12, TLS13)
_PROBE_TIMEOUT: Final = 5.0
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


@dataclass
class _Chain:
    """One elimination: the answers that each picked a new candidate, and why it stopped early."""

    answers: list[Answer] = field(default_factory=lambda: list[Answer]())
    failure: HandshakeFailure | None = None


class _Scanner:
    def __init__(self, endpoint: Endpoint, ctx: CheckContext, deadline: float, margin: float) -> None:
        self.endpoint = endpoint
        self.ctx = ctx
        self.deadline = deadline
        self.margin = margin
        self.limit = anyio.CapacityLimiter(max(1, ctx.per_host_concurrency))
        self.limited: HandshakeFailure | None = None

    async def probe(self, offer: Offer) -> Answer:
        async with self.limit:
            # A little less than what is left, as for the first handshake (tls_scan).
            left = self.deadline - time.monotonic() - self.margin
            answer, _ = await probe(
                self.endpoint, offer, self.ctx, timeout_s=max(min(left, _PROBE_TIMEOUT), 0.001)
            )
            return answer

    async def eliminate(
        self,
        candidates: Sequence[int],
        offer: Callable[[list[int]], Offer],
        pick: Callable[[Answer], int | None],
    ) -> _Chain:
        """Offer `candidates`, drop the one the server picks, repeat until it refuses or repeats itself."""
        chain = _Chain()
        remaining = list(candidates)
        while remaining:
            try:
                answer = await self.probe(offer(remaining))
            except HandshakeFailure as exc:
                if exc.code == shared.RATE_LIMITED.code:
                    self.limited = exc
                chain.failure = exc
                break
            chosen = pick(answer)
            if chosen is None or chosen not in remaining:
                break
            chain.answers.append(answer)
            remaining.remove(chosen)
        return chain


def _suite_chain(scanner: _Scanner, version: int) -> Callable[[], Awaitable[_Chain]]:
    async def run() -> _Chain:
        return await scanner.eliminate(
            suites_for(version),
            lambda left: Offer(version, left, read_key_exchange=True),
            lambda answer: answer.suite if answer.version == version else None,
        )

    return run


async def tls_scan(
    host: str,
    ctx: CheckContext,
    *,
    port: int | None = None,
    sni: str | None = None,
    starttls: str | None = None,
    timeout_s: float = 30.0,
) -> TlsScanResult:
    """Find every version, suite, group and TLS 1.2 signature scheme the server accepts, and ALPN.

    Every connection goes through `ctx` (policy, resolver, rate limit), at most
    `ctx.per_host_concurrency` at a time. `timeout_s` bounds the whole scan; each connection
    gets at most 5 s of it. A scan cut short reports what it found, with a `scan_incomplete`
    finding.
    """
    started = Stopwatch()
    target = parse_host(host)
    port = resolve_port(port, starttls)
    server_name = default_sni(target, sni)
    base: dict[str, object] = {"host": target.name, "port": port, "sni": server_name, "starttls": starttls}
    deadline = time.monotonic() + timeout_s
    margin = min(0.05, timeout_s / 20)

    def scanner_left(cap: float = 10.0) -> float:
        # A little less than what is left, so that a connection that stalls ends as a timeout
        # of its own (a finding) rather than by the scan's deadline.
        return max(min(deadline - time.monotonic() - margin, cap), 0.001)

    findings: list[Finding] = []
    protocols: list[ProtocolSupport] = []
    alpn: list[str] = []
    chains: dict[object, _Chain] = {}
    leaf: bytes | None = None
    remote_ip: str | None = None
    scanner: _Scanner | None = None

    with anyio.move_on_after(timeout_s) as scope:
        # One ordinary handshake first: an unreachable target is one finding, not twenty; it
        # also pins the address every probe then dials, and shows the certificate.
        first_failure: HandshakeFailure | None = None
        try:
            shake = await handshake(
                target.name, port, ctx, timeout_s=scanner_left(), sni=server_name, starttls=starttls
            )
            remote_ip, leaf = shake.remote_ip, (shake.chain[0] if shake.chain else None)
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
        endpoint = Endpoint(target.name, port, server_name, starttls, remote_ip)
        scanner = _Scanner(endpoint, ctx, deadline, margin)
        ecdhe = [s.code for s in SUITES.values() if s.kx == "ECDHE" and not s.tls13]
        signed = [s.code for s in SUITES.values() if s.pfs and not s.anon and not s.tls13]
        jobs: dict[object, Callable[[], Awaitable[_Chain]]] = {
            version: _suite_chain(scanner, version) for version in _VERSIONS
        }

        async def groups13() -> _Chain:
            return await scanner.eliminate(
                list(GROUPS),
                lambda left: Offer(TLS13, TLS13_SUITES, groups=left, key_share=False),
                lambda answer: answer.group if answer.version == TLS13 else None,
            )

        async def groups12() -> _Chain:
            return await scanner.eliminate(
                EC_GROUPS,
                lambda left: Offer(TLS12, ecdhe, groups=left, read_key_exchange=True),
                lambda answer: answer.group if answer.version == TLS12 else None,
            )

        async def signatures12() -> _Chain:
            return await scanner.eliminate(
                list(SIGNATURES),
                lambda left: Offer(TLS12, signed, signatures=left, read_key_exchange=True),
                lambda answer: answer.signature if answer.version == TLS12 else None,
            )

        jobs.update({"groups13": groups13, "groups12": groups12, "signatures12": signatures12})

        async def run(key: object, job: Callable[[], Awaitable[_Chain]]) -> None:
            chains[key] = await job()

        async with anyio.create_task_group() as group:
            for key, job in jobs.items():
                group.start_soon(run, key, job)

        protocols = [_protocol(version, chains.get(version)) for version in _VERSIONS]
        if (
            first_failure is not None
            and first_failure.code != shared.RATE_LIMITED.code
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
        if starttls is None and any(p.state == "enabled" for p in protocols):
            for protocol in ("h2", "http/1.1"):
                try:
                    shake = await handshake(
                        target.name,
                        port,
                        ctx,
                        timeout_s=scanner_left(),
                        sni=server_name,
                        connect_ip=remote_ip,
                        context=client_context(alpn=(protocol,)),
                    )
                except HandshakeFailure:
                    continue
                if shake.alpn == protocol:
                    alpn.append(protocol)
    if not protocols:  # cut short before the chains ended: report what they found
        protocols = [_protocol(version, chains.get(version)) for version in _VERSIONS]
    if scanner is not None and scanner.limited is not None:
        findings.append(
            Finding(
                severity=Verdict.UNKNOWN,
                code=scanner.limited.code,
                message=f"the scan is partial: {scanner.limited.message}",
                hint=scanner.limited.hint,
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
    groups, signatures = _groups(chains), _signatures(chains)
    findings.extend(grade(protocols, groups))
    mozilla = None
    if any(p.state == "enabled" for p in protocols) and not scope.cancelled_caught:
        mozilla = compliance(_server_profile(protocols, groups, leaf))
    verdict = Verdict.worst([f.severity for f in findings])
    enabled = [p for p in protocols if p.state == "enabled"]
    versions = ", ".join(p.version for p in enabled) or "no version"
    suites = sum(len(p.ciphers) for p in enabled)
    summary = f"{verdict.value}: {target.name}:{port} accepts {versions} ({suites} suites)"
    worst = sorted(findings, key=lambda f: -f.severity.rank)
    if worst:
        summary += f"; {worst[0].message}"
        if len(worst) > 1:
            summary += f" (+{len(worst) - 1} more)"
    if mozilla is not None:
        summary += f"; Mozilla profile: {mozilla.profile or 'none'}"
    return TlsScanResult.build(
        summary=summary,
        findings=findings,
        started=started,
        remote_ip=remote_ip,
        protocols=protocols,
        forward_secrecy=all(p.forward_secrecy for p in enabled) if enabled else None,
        weak_ciphers=list(dict.fromkeys(name for p in protocols for name in p.weak_ciphers)),
        groups=groups,
        signature_algorithms=signatures,
        mozilla=mozilla,
        alpn=alpn,
        **base,
    )


def _protocol(version: int, chain: _Chain | None) -> ProtocolSupport:
    label = VERSION_NAMES[version]
    if chain is None:
        return ProtocolSupport(version=label, state="error", detail="not probed before the scan's deadline")
    codes = [a.suite for a in chain.answers if a.suite is not None]
    if not codes:
        if chain.failure is not None:
            return ProtocolSupport(version=label, state="error", detail=chain.failure.message)
        return ProtocolSupport(version=label, state="disabled")
    suites = [SUITES[code] for code in codes if code in SUITES]
    detail = None
    if chain.failure is not None:
        detail = f"the suite list may be incomplete: {chain.failure.message}"
    return ProtocolSupport(
        version=label,
        state="enabled",
        detail=detail,
        ciphers=[suite_name(code) for code in codes],
        forward_secrecy=all(s.pfs for s in suites),
        weak_ciphers=[s.name for s in suites if s.family is not None],
    )


def _groups(chains: dict[object, _Chain]) -> list[KeyExchangeGroup]:
    seen: dict[str, KeyExchangeGroup] = {}

    def add(name: str, kind: str, bits: int, version: int) -> None:
        entry = seen.setdefault(name, KeyExchangeGroup(name=name, kind=kind, bits=bits, protocols=[]))  # type: ignore[arg-type]
        if VERSION_NAMES[version] not in entry.protocols:
            entry.protocols.append(VERSION_NAMES[version])

    for key, chain in chains.items():
        for answer in chain.answers:
            if answer.version is None:
                continue
            if answer.group is not None and answer.group in GROUPS and key != "signatures12":
                add(*GROUPS[answer.group], answer.version)
            if answer.dh_bits is not None:
                add(f"dh-{answer.dh_bits}", "dh", answer.dh_bits, answer.version)
    order = {"hybrid": 0, "ec": 1, "ffdhe": 2, "dh": 3}
    return sorted(seen.values(), key=lambda g: (order[g.kind], -g.bits, g.name))


def _signatures(chains: dict[object, _Chain]) -> list[str]:
    found: list[str] = []
    for chain in chains.values():
        for answer in chain.answers:
            if answer.signature is not None:
                name = SIGNATURES.get(answer.signature, f"0x{answer.signature:04x}")
                if name not in found:
                    found.append(name)
    return found


def _server_profile(
    protocols: list[ProtocolSupport], groups: list[KeyExchangeGroup], leaf: bytes | None
) -> ServerProfile:
    enabled = [p for p in protocols if p.state == "enabled"]
    certificate_type, rsa_bits, lifespan = leaf_facts(leaf)
    ec_bits = [256 if g.name == "x25519" else g.bits for g in groups if g.kind in ("ec", "hybrid")]
    dh_bits = [g.bits for g in groups if g.kind in ("dh", "ffdhe")]
    return ServerProfile(
        versions=[p.version for p in enabled],
        ciphers=[name for p in enabled if p.version != "TLSv1.3" for name in p.ciphers],
        ciphersuites=[name for p in enabled if p.version == "TLSv1.3" for name in p.ciphers],
        curves=[g.name for g in groups if g.kind in ("ec", "hybrid")],
        dh_bits=min(dh_bits, default=None),
        ecdh_bits=min(ec_bits, default=None),
        certificate_type=certificate_type,
        rsa_bits=rsa_bits,
        lifespan_days=lifespan,
    )
