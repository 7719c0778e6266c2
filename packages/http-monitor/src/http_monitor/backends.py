"""Every address of a name checked on its own, with the same Host and SNI, and compared.

A name served by several machines (A/AAAA records, a load balancer pool reached through each
member's address) can be up for some visitors and down for others. Each address is dialled
directly (curl --resolve), the responses are compared, and differences become findings:
a backend down, different statuses, certificates or bodies, a latency outlier, and an IPv6 path
that fails where IPv4 works. An address the per-host rate limit held back (every address
shares the name's bucket) was not asked: its row is unknown and one `rate_limited` finding says
so, rather than calling it down; so is one this machine has no route to (an IPv6 address on a
monitor without IPv6), with `monitor_network_unavailable`, rather than blaming the IPv6 path.
"""

from __future__ import annotations

import hashlib
import statistics
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

import anyio
from monitor_common.errors import InputError
from monitor_common.fanout import TimeoutReason, fanout
from monitor_common.findings import NOT_CHECKED_CODES
from monitor_common.netpolicy import ResolutionError, resolve
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import IPAddress, parse_url

from http_monitor.exchange import Hop, Walk, failure_finding, timeout_finding
from http_monitor.models import BackendRow, HttpEachIpResult
from http_monitor.probe import family_of
from http_monitor.session import Session
from http_monitor.tls import check_trust

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["http_check_each_ip"]

OUTLIER_FACTOR = 3.0
OUTLIER_MIN_MS = 100.0


@dataclass
class _Probe:
    ip: IPAddress
    hop: Hop | None
    failure: Finding | None
    total_ms: float


async def _probe_one(
    url: str,
    host: str,
    ip: IPAddress,
    ctx: CheckContext,
    *,
    timeout_s: float,
    verify_tls: bool,
    ca_bundle_pem: str | None,
) -> _Probe:
    session = Session.fresh(
        ctx, verify_tls=verify_tls, ca_bundle_pem=ca_bundle_pem, connect_ip={host: ip.compressed}
    )
    walk = Walk(session, follow=False, body_cap=ctx.body_cap, timeout=timeout_s)
    try:
        with anyio.move_on_after(timeout_s) as deadline:
            await walk.run(url)
    finally:
        with anyio.CancelScope(shield=True):
            await session.aclose()
    failure = walk.failure
    if deadline.cancelled_caught:
        failure = timeout_finding(walk.phase, timeout_s, f"{url} via {ip}")
    hop = walk.hops[0] if walk.hops else None
    # The requests' own time: neither this server's set-up nor its pacing (rate-limit waits).
    return _Probe(ip, hop, failure, walk.request_ms)


def _row(probe: _Probe) -> BackendRow:
    family = "IPv4" if isinstance(probe.ip, IPv4Address) else "IPv6"
    if probe.hop is None or probe.failure is not None:
        message = probe.failure.message if probe.failure else "no response"
        verdict = Verdict.UNKNOWN if _held_back(probe) else Verdict.CRITICAL
        return BackendRow(
            ip=probe.ip.compressed,
            family=family,
            verdict=verdict,
            total_ms=None if verdict == Verdict.UNKNOWN else probe.total_ms,
            summary=f"{verdict.value}: {message}",
        )
    hop = probe.hop
    verdict = Verdict.OK if 200 <= hop.status_code < 400 else Verdict.CRITICAL
    return BackendRow(
        ip=probe.ip.compressed,
        family=family,
        verdict=verdict,
        status_code=hop.status_code,
        total_ms=probe.total_ms,
        body_sha256=hashlib.sha256(hop.body).hexdigest(),
        cert_sha256=hop.tls.cert_sha256 if hop.tls else None,
        summary=f"{verdict.value}: {hop.status_code} {hop.reason} in {probe.total_ms:.0f} ms",
    )


def _held_back(probe: _Probe) -> bool:
    """Not asked: held back by the rate limit, or unreachable from this machine (no IPv6 here, say)."""
    return probe.failure is not None and probe.failure.code in NOT_CHECKED_CODES


def _differs(rows: list[BackendRow], attribute: str, code: str, what: str) -> Finding | None:
    groups: dict[str, list[str]] = {}
    for row in rows:
        value = getattr(row, attribute)
        if value is not None:
            groups.setdefault(str(value)[:16], []).append(row.ip)
    if len(groups) < 2:
        return None
    shown = "; ".join(f"{value}: {', '.join(ips)}" for value, ips in groups.items())
    return Finding(
        severity=Verdict.WARNING,
        code=code,
        message=f"the addresses do not all serve the same {what} ({shown})",
        hint="a backend is out of sync, misconfigured or serving another site",
    )


async def http_check_each_ip(
    url: str,
    ctx: CheckContext,
    *,
    ip_version: str = "both",
    timeout_s: float = 10.0,
    verify_tls: bool = True,
    ca_bundle_pem: str | None = None,
    concurrency: int = 8,
) -> HttpEachIpResult:
    """Resolve `url`'s host (A and AAAA, or one family) and check each address on its own.

    PolicyError propagates when the policy refuses every address; addresses it refuses are left out.
    """
    started = Stopwatch()
    target = parse_url(url)
    if ip_version == "auto":
        raise InputError('ip_version must be "both", "4" or "6"')
    family = family_of(ip_version)
    check_trust(verify_tls, ca_bundle_pem)
    try:
        addresses = await resolve(
            target.host, ctx.policy, family=family, timeout=timeout_s, resolver=ctx.resolver
        )
    except ResolutionError as exc:
        finding = failure_finding(exc, "dns", target.redacted)
        return HttpEachIpResult.build(
            summary=f"{finding.severity.value}: {finding.message}",
            findings=[finding],
            started=started,
            url=target.redacted,
            backends=[],
        )

    addresses.sort(key=lambda ip: (ip.version, int(ip)))  # stable rows, whatever order DNS answered in

    async def check(ip: IPAddress) -> _Probe:
        return await _probe_one(
            target.geturl(),
            target.host,
            ip,
            ctx,
            timeout_s=timeout_s,
            verify_tls=verify_tls,
            ca_bundle_pem=ca_bundle_pem,
        )

    def timed_out(ip: IPAddress, why: TimeoutReason) -> _Probe:
        return _Probe(
            ip,
            None,
            timeout_finding("the check as a whole", timeout_s, f"{target.redacted} via {ip}"),
            timeout_s * 1000,
        )

    probes = await fanout(
        addresses, check, on_timeout=timed_out, concurrency=concurrency, item_timeout=timeout_s + 2
    )
    rows = [_row(p) for p in probes]
    findings: list[Finding] = []
    held_back = [p for p in probes if _held_back(p)]
    if held_back:
        assert held_back[0].failure is not None
        findings.append(
            Finding(
                severity=Verdict.UNKNOWN,
                code=held_back[0].failure.code,
                message=f"{', '.join(p.ip.compressed for p in held_back)} not checked: {held_back[0].failure.message}",
                hint=held_back[0].failure.hint,
            )
        )
    for row in rows:
        if row.verdict == Verdict.CRITICAL:
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code="backend_down",
                    message=f"{row.ip}: {row.summary.removeprefix('critical: ')}",
                    hint="take the address out of DNS or the pool, or repair that backend",
                )
            )
    up = [r for r in rows if r.verdict == Verdict.OK]
    if (
        any(r.family == "IPv4" for r in up)
        and any(r.family == "IPv6" and r.verdict != Verdict.UNKNOWN for r in rows)
        and not any(r.family == "IPv6" for r in up)
    ):
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="ipv6_path_failing",
                message="the site works over IPv4 but fails over IPv6",
                hint="visitors with IPv6 (most mobile networks) see an outage: fix the AAAA records or the IPv6 path",
            )
        )
    answered = [r for r in rows if r.status_code is not None]
    for attribute, code, what in (
        ("status_code", "backend_status_differs", "status"),
        ("cert_sha256", "backend_cert_differs", "certificate"),
        ("body_sha256", "backend_body_differs", "body"),
    ):
        finding = _differs(answered, attribute, code, what)
        if finding is not None:
            findings.append(finding)
    timed = [r for r in answered if r.total_ms is not None]
    if len(timed) >= 2:
        for row in timed:
            others = [r.total_ms for r in timed if r is not row and r.total_ms is not None]
            typical = statistics.median(others)
            assert row.total_ms is not None
            if row.total_ms > OUTLIER_FACTOR * typical and row.total_ms - typical > OUTLIER_MIN_MS:
                findings.append(
                    Finding(
                        severity=Verdict.WARNING,
                        code="backend_latency_outlier",
                        message=f"{row.ip} took {row.total_ms:.0f} ms, the others about {typical:.0f} ms",
                        hint="that backend is overloaded or far away",
                    )
                )
    verdict = Verdict.worst([f.severity for f in findings])
    summary = f"{verdict.value}: {target.redacted}: {len(up)} of {len(rows)} addresses up"
    problem = next((f.message for f in sorted(findings, key=lambda f: -f.severity.rank)), None)
    if problem:
        summary += f"; {problem}"
    return HttpEachIpResult.build(
        summary=summary, findings=findings, started=started, url=target.redacted, backends=rows
    )
