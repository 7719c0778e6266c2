"""The certificate on every address of a name: do all the servers behind it agree?

    cert_compare_endpoints(host, ...)   CompareEndpointsResult

A name with several A/AAAA records is often several servers, and a renewal that reached only
some of them is a classic partial outage: most clients see the new certificate, some the
expired one. Every address is dialled with the same SNI, concurrently. An address the per-host rate
limit held back (all share the name's bucket) is reported as `rate_limited`, not as unreachable, and
one this machine has no route to as `monitor_network_unavailable`.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio
from monitor_common.errors import InputError, PolicyError, TargetError
from monitor_common.findings import DNS_RESOLUTION_FAILED, MONITOR_NETWORK_UNAVAILABLE
from monitor_common.netpolicy import NetworkPolicy, ResolutionError, resolve
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import IPAddress, parse_host, parse_ip

from ssl_monitor.handshake import HandshakeFailure, default_sni, handshake
from ssl_monitor.models import CompareEndpointsResult, EndpointCert

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["cert_compare_endpoints"]

_FAMILIES = {"ipv4": socket.AF_INET, "ipv6": socket.AF_INET6, "both": None}
_MAX_ADDRESSES = 64


def _parse_ips(connect_ips: list[str]) -> list[IPAddress]:
    if len(connect_ips) > _MAX_ADDRESSES:
        raise InputError(f"connect_ips lists {len(connect_ips)} addresses; at most {_MAX_ADDRESSES}")
    ips: list[IPAddress] = []
    for text in connect_ips:
        ip = parse_ip(text)
        if ip is None:
            raise TargetError(
                f"connect_ips entry {text!r} is not an IP address, e.g. 192.0.2.1 or 2001:db8::1"
            )
        ips.append(ip)
    return list(dict.fromkeys(ips))


async def cert_compare_endpoints(
    host: str,
    ctx: CheckContext,
    *,
    port: int = 443,
    ip_version: str = "both",
    connect_ips: list[str] | None = None,
    sni: str | None = None,
    timeout_s: float = 10.0,
) -> CompareEndpointsResult:
    """Handshake with every address of `host` (or `connect_ips`) and compare the certificates.

    `host` is looked up with `ctx`'s resolver; every handshake goes through `ctx` (policy, rate
    limit). Raises InputError for a bad `ip_version` or address, PolicyError when the policy
    refuses every address; addresses the policy refuses among permitted ones are listed as not
    checked.
    """
    from ssl_monitor.x509info import days_until, fingerprint, iso, load_der_chain

    started = Stopwatch()
    if ip_version not in _FAMILIES:
        raise InputError(f"ip_version={ip_version!r} is not one of ipv4, ipv6, both")
    target = parse_host(host)
    server_name = default_sni(target, sni)
    base: dict[str, object] = {"host": target.name, "port": port}
    family = _FAMILIES[ip_version]
    if connect_ips:
        addresses = _parse_ips(connect_ips)
    else:
        try:
            # Resolve without the policy so that refused addresses are listed, not silently dropped.
            addresses = await resolve(
                target.name, NetworkPolicy.open(), family=family, timeout=timeout_s, resolver=ctx.resolver
            )
        except ResolutionError as exc:
            finding = (
                MONITOR_NETWORK_UNAVAILABLE.finding(f"{target.name} was not looked up: {exc.reason}")
                if exc.monitor_side
                else DNS_RESOLUTION_FAILED.finding(f"could not resolve {exc.host}: {exc.reason}")
            )
            return CompareEndpointsResult.build(
                summary=f"{finding.severity.value}: {target.name}: {finding.message}",
                findings=[finding],
                started=started,
                endpoints=[],
                consistent=False,
                distinct_certificates=0,
                **base,
            )
    refusals: dict[IPAddress, PolicyError] = {}
    for ip in addresses:
        refusal = ctx.policy.refusal(ip, host=target.name)
        if refusal is not None:
            refusals[ip] = refusal
    if len(refusals) == len(addresses):
        raise refusals[addresses[0]]

    now = datetime.now(UTC)
    endpoints: dict[IPAddress, EndpointCert] = {}
    # Addresses the per-host rate limit held back (they share the name's bucket): not asked, so
    # neither reachable nor unreachable as far as this check knows.
    held_back: dict[IPAddress, HandshakeFailure] = {}

    async def one(ip: IPAddress) -> None:
        if ip in refusals:
            endpoints[ip] = EndpointCert(
                ip=ip.compressed, ok=False, error="not checked: refused by the network policy"
            )
            return
        try:
            shake = await handshake(
                target.name,
                port,
                ctx,
                timeout_s=max(timeout_s - started.elapsed_ms() / 1000, 0.01),
                sni=server_name,
                connect_ip=ip.compressed,
            )
        except HandshakeFailure as exc:
            if exc.severity == Verdict.UNKNOWN:  # rate-limited, or the monitor's network: not asked
                held_back[ip] = exc
                endpoints[ip] = EndpointCert(ip=ip.compressed, ok=False, error=f"not checked: {exc.message}")
                return
            endpoints[ip] = EndpointCert(ip=ip.compressed, ok=False, error=f"{exc.code}: {exc.message}")
            return
        certs = load_der_chain(shake.chain)
        if not certs:
            endpoints[ip] = EndpointCert(
                ip=ip.compressed, ok=False, error="no certificate", tls_version=shake.tls_version
            )
            return
        leaf = certs[0]
        endpoints[ip] = EndpointCert(
            ip=ip.compressed,
            ok=True,
            sha256_fingerprint=fingerprint(leaf),
            subject=leaf.subject.rfc4514_string(),
            not_after=iso(leaf.not_valid_after_utc),
            days_left=days_until(leaf.not_valid_after_utc, now),
            tls_version=shake.tls_version,
        )

    async with anyio.create_task_group() as tg:
        for ip in addresses:
            tg.start_soon(one, ip)
    ordered = [endpoints[ip] for ip in addresses]
    held = [(ip.compressed, held_back[ip]) for ip in addresses if ip in held_back]
    return _judge(started, base, ordered, held_back=held)


def _judge(
    started: Stopwatch,
    base: dict[str, object],
    endpoints: list[EndpointCert],
    *,
    held_back: Sequence[tuple[str, HandshakeFailure]] = (),
) -> CompareEndpointsResult:
    findings: list[Finding] = []
    reached = [e for e in endpoints if e.ok]
    tally = Counter(e.sha256_fingerprint for e in reached)
    consistent = len(tally) <= 1
    if not consistent:
        majority, _ = tally.most_common(1)[0]
        odd = [e for e in reached if e.sha256_fingerprint != majority]
        described = "; ".join(f"{e.ip} serves {e.subject} until {e.not_after}" for e in odd)
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="cert_differs_between_endpoints",
                message=f"{len(odd)} of {len(reached)} addresses serve a different certificate: {described}",
                hint="deploy the renewed certificate to every server behind the name",
            )
        )
    failed = [e for e in endpoints if not e.ok and not (e.error or "").startswith("not checked")]
    if failed:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="endpoint_unreachable",
                message=f"no handshake with {', '.join(e.ip for e in failed)}: {failed[0].error}",
                hint="a server behind the name is down or does not speak TLS",
            )
        )
    if held_back:
        first = held_back[0][1]
        findings.append(
            Finding(
                severity=Verdict.UNKNOWN,
                code=first.code,
                message=f"{', '.join(ip for ip, _ in held_back)} not checked: {first.message}",
                hint=first.hint,
            )
        )
    verdict = Verdict.worst([f.severity for f in findings])
    shown = f"{base['host']}:{base['port']}"
    if findings:
        summary = f"{verdict.value}: {shown}: {findings[0].message}"
    else:
        summary = f"{verdict.value}: all {len(reached)} addresses of {shown} serve the same certificate"
    return CompareEndpointsResult.build(
        summary=summary,
        findings=findings,
        started=started,
        endpoints=endpoints,
        consistent=consistent,
        distinct_certificates=len(tally),
        **base,
    )
