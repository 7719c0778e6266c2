"""The DNS lookup: one question to one server, UDP first and TCP when the answer is truncated.

A server the caller names is subject to the network policy; the system resolver is the
operator's infrastructure and is not. dnspython is imported on first use.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

from monitor_common.errors import InputError
from monitor_common.netpolicy import NetworkPolicy
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_host_port, parse_hostname

from dns_monitor.models import DnsAnswer, DnsLookupResult

if TYPE_CHECKING:
    from dns.rdata import Rdata

__all__ = ["dns_lookup", "system_nameserver"]


def system_nameserver() -> str:
    """The first nameserver of the system's resolver configuration (/etc/resolv.conf)."""
    import dns.resolver

    try:
        resolver = dns.resolver.Resolver(configure=True)
    except dns.resolver.NoResolverConfiguration:
        raise InputError(
            "the system has no resolver configured: pass server=IP, e.g. server=9.9.9.9"
        ) from None
    return str(resolver.nameservers[0])


async def dns_lookup(
    name: str,
    *,
    policy: NetworkPolicy,
    record_type: str = "A",
    server: str | None = None,
    timeout_s: float = 5.0,
) -> DnsLookupResult:
    """Ask `server` (default: the system's resolver) for `name`/`record_type`.

    Args:
        name: the domain name, e.g. example.com (IDNA allowed).
        policy: which addresses may be asked (does not apply to the system resolver).
        record_type: A, AAAA, MX, TXT, NS, CNAME, SOA, CAA, ... (any type dnspython knows).
        server: "IP" or "IP:port" of the DNS server to ask.
        timeout_s: limit for the whole lookup, TCP retry included.
    """
    import dns.asyncquery
    import dns.exception
    import dns.flags
    import dns.message
    import dns.rcode
    import dns.rdatatype

    started = Stopwatch()
    qname = parse_hostname(name)
    try:
        rdtype = dns.rdatatype.from_text(record_type.upper())
    except dns.rdatatype.UnknownRdatatype:
        raise InputError(
            f"record_type {record_type!r} is not a DNS record type: use e.g. A, AAAA, MX, TXT"
        ) from None
    if server is None:
        address, port = system_nameserver(), 53
    else:
        parsed = parse_host_port(server, default_port=53)
        if parsed.host.ip is None:
            raise InputError(
                f"server {server!r} must be an IP address, optionally with :port, e.g. 9.9.9.9:53"
            )
        policy.check(parsed.host.ip)
        address, port = str(parsed.host.ip), parsed.port
    shown = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
    base: dict[str, object] = {
        "name": qname + ".",
        "record_type": dns.rdatatype.to_text(rdtype),
        "server": shown,
    }
    findings: list[Finding] = []

    query = dns.message.make_query(qname + ".", rdtype)
    deadline = time.monotonic() + timeout_s
    transport = "udp"
    t0 = time.perf_counter()
    try:
        response = await dns.asyncquery.udp(query, address, port=port, timeout=timeout_s)
        if response.flags & dns.flags.TC:
            transport = "tcp"
            findings.append(
                Finding(
                    severity=Verdict.OK,
                    code="truncated_retried_tcp",
                    message="the UDP answer was truncated; asked again over TCP",
                )
            )
            response = await dns.asyncquery.tcp(
                query, address, port=port, timeout=max(deadline - time.monotonic(), 0.01)
            )
    except dns.exception.Timeout:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="timeout",
                message=f"{shown} did not answer over {transport} within {timeout_s:g} s",
                hint="the server is down, overloaded, or a firewall drops DNS",
            )
        )
        return DnsLookupResult.build(
            summary=f"critical: {shown} did not answer",
            findings=findings,
            started=started,
            transport=transport,
            **base,
        )
    except (OSError, EOFError, dns.exception.DNSException) as exc:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="server_unreachable",
                message=f"could not ask {shown} over {transport}: {exc}",
                hint="check the server address and that it serves DNS",
            )
        )
        return DnsLookupResult.build(
            summary=f"critical: {shown} unreachable",
            findings=findings,
            started=started,
            transport=transport,
            **base,
        )
    latency_ms = round((time.perf_counter() - t0) * 1000, 2)

    rcode = dns.rcode.to_text(response.rcode())
    answers = [
        DnsAnswer(
            name=rrset.name.to_text(),
            type=dns.rdatatype.to_text(rrset.rdtype),
            ttl=rrset.ttl,
            value=cast("Rdata", rdata).to_text(),
        )
        for rrset in response.answer
        for rdata in rrset  # pyright: ignore[reportUnknownVariableType]
    ]
    wanted = [a for a in answers if a.type == base["record_type"]]
    if response.rcode() == dns.rcode.NXDOMAIN:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="nxdomain",
                message=f"{qname} does not exist",
                hint="check the name and the zone's delegation",
            )
        )
    elif response.rcode() == dns.rcode.SERVFAIL:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="servfail",
                message=f"{shown} answered SERVFAIL",
                hint="the server could not resolve the name (DNSSEC failure, lame delegation, ...)",
            )
        )
    elif response.rcode() == dns.rcode.REFUSED:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="refused",
                message=f"{shown} refused the query",
                hint="the server does not serve this name or this client",
            )
        )
    elif response.rcode() != dns.rcode.NOERROR:
        findings.append(
            Finding(severity=Verdict.CRITICAL, code="rcode_error", message=f"{shown} answered {rcode}")
        )
    elif not wanted:
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="nodata",
                message=f"{qname} has no {base['record_type']} record",
                hint="the name exists but has no record of this type",
            )
        )
    verdict = Verdict.worst([f.severity for f in findings])
    summary = (
        f"{verdict.value}: {qname} {base['record_type']} -> {', '.join(a.value for a in wanted)}"
        if wanted
        else f"{verdict.value}: {qname} {base['record_type']}: {rcode}, no answer"
    )
    return DnsLookupResult.build(
        summary=summary,
        findings=findings,
        started=started,
        transport=transport,
        rcode=rcode,
        answers=answers,
        latency_ms=latency_ms,
        **base,
    )
