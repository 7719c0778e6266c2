"""The MCP tool declarations of dns-monitor; the checks themselves live in the engine modules."""

from __future__ import annotations

from typing import Annotated, Literal

from monitor_common.config import get_settings
from monitor_common.serve import MonitorServer
from monitor_common.serve import main as serve_main
from pydantic import Field

from dns_monitor import __version__
from dns_monitor.models import (
    DelegationResult,
    DnsLookupResult,
    DnssecResult,
    DomainExpiryResult,
    EmailAuthResult,
    PropagationResult,
    ReverseDnsResult,
)

__all__ = ["main", "mcp"]

mcp = MonitorServer(
    "mcp-dns-monitor",
    version=__version__,
    instructions=(
        "Checks DNS: what a name resolves to and from which server, whether a change has reached the "
        "world's resolvers, and what reverse DNS says. Every result has a verdict (ok, warning, critical, "
        "unknown), a one-line summary and findings with stable codes. DNS servers on internal addresses "
        "are refused unless the operator allows them."
    ),
)

DEFAULT_TIMEOUT_S = 5.0

Timeout = Annotated[float | None, Field(description="Limit for the whole check in seconds (default 5)")]


def _timeout(timeout_s: float | None) -> float:
    settings = get_settings()
    return settings.clamp_timeout(
        timeout_s if timeout_s is not None else min(DEFAULT_TIMEOUT_S, settings.timeout_s)
    )


@mcp.tool()
async def dns_lookup(
    name: Annotated[str, Field(description="Domain name to look up, e.g. example.com")],
    record_types: Annotated[
        list[str], Field(description="Record types to ask for, e.g. ['A', 'AAAA', 'MX']")
    ] = ["A"],  # noqa: B006 - pydantic copies defaults; the schema shows the list
    server: Annotated[
        str | None,
        Field(
            description="DNS server: IP, IP:port, tls://IP (DNS over TLS) or https://host/dns-query (DoH); "
            "default the system resolver"
        ),
    ] = None,
    transport: Annotated[
        Literal["auto", "udp", "tcp"], Field(description="auto: UDP, then TCP when the answer is truncated")
    ] = "auto",
    dnssec: Annotated[
        bool, Field(description="Ask for DNSSEC records (DO bit); AD shows validation")
    ] = False,
    recursion: Annotated[
        bool, Field(description="Set RD; false to ask an authoritative server directly")
    ] = True,
    expect: Annotated[
        list[str] | None, Field(description="Values the answer must be exactly, CIDRs allowed for addresses")
    ] = None,
    timeout_s: Timeout = None,
) -> DnsLookupResult:
    """Look up record types of a name on ONE server: answers, rcode, flags, TTLs, SOA, extended errors.

    Use this for "what does this name resolve to?" or "does this server answer what I expect?".
    For comparing many resolvers use dns_propagation; for the delegation chain dns_delegation;
    for PTR records reverse_dns. NXDOMAIN, NODATA, SERVFAIL, REFUSED, timeouts and unexpected
    answers come back as findings.
    """
    from dns_monitor.lookup import dns_lookup as run

    settings = get_settings()
    return await run(
        name,
        policy=settings.network_policy,
        record_types=record_types,
        server=server,
        transport=transport,
        dnssec=dnssec,
        recursion=recursion,
        expect=expect,
        timeout_s=_timeout(timeout_s),
        system_resolver=settings.resolver,
        resolver=settings.target_resolver,
    )


@mcp.tool()
async def dns_propagation(
    name: Annotated[str, Field(description="Domain name, e.g. www.example.com")],
    record_type: Annotated[str, Field(description="Record type, e.g. A, AAAA, MX, TXT")] = "A",
    resolvers: Annotated[
        list[str] | None,
        Field(
            description="Resolvers to compare (IP, IP:port, tls://IP, https://...); default: public resolvers"
        ),
    ] = None,
    include_authoritative: Annotated[
        bool, Field(description="Also ask each authoritative nameserver of the zone")
    ] = True,
    expected: Annotated[
        list[str] | None, Field(description="The answer that should be everywhere (values or CIDRs)")
    ] = None,
    timeout_s: Timeout = None,
) -> PropagationResult:
    """Has a DNS change reached everyone? Ask many resolvers and the authoritative servers at once.

    Use this after changing a record ("half the users still see the old site"): it groups the
    answers, gives the agreement in percent, names the outliers and how long until their cached
    answers expire. For a single server's full answer use dns_lookup.
    """
    from dns_monitor.propagation import PUBLIC_RESOLVERS
    from dns_monitor.propagation import dns_propagation as run

    settings = get_settings()
    return await run(
        name,
        policy=settings.network_policy,
        record_type=record_type,
        resolvers=resolvers,
        default_resolvers=settings.dns_resolvers or PUBLIC_RESOLVERS,
        include_authoritative=include_authoritative,
        expected=expected,
        timeout_s=_timeout(timeout_s),
        max_resolvers=settings.max_targets,
        resolver=settings.target_resolver,
    )


@mcp.tool()
async def reverse_dns(
    target: Annotated[str, Field(description="An IP address, or a host name whose every address is checked")],
    server: Annotated[
        str | None, Field(description="Resolver to ask (IP, IP:port, tls://, https://); default the system's")
    ] = None,
    timeout_s: Timeout = None,
) -> ReverseDnsResult:
    """Reverse DNS: the PTR names of an address (or of a host's addresses) and whether they confirm forward.

    Use this for mail-server reputation checks (FCrDNS) or to identify an address. For forward
    lookups use dns_lookup.
    """
    from dns_monitor.reverse import reverse_dns as run

    settings = get_settings()
    return await run(
        target,
        policy=settings.network_policy,
        server=server,
        timeout_s=_timeout(timeout_s),
        system_resolver=settings.resolver,
        resolver=settings.target_resolver,
    )


@mcp.tool()
async def dns_delegation(
    domain: Annotated[str, Field(description="The zone to check, e.g. example.com")],
    timeout_s: Annotated[
        float | None, Field(description="Limit for the whole check in seconds (default 10)")
    ] = None,
) -> DelegationResult:
    """Is the zone delegated correctly? Walks from the root to the zone and checks every nameserver.

    Use this when a domain does not resolve everywhere, after changing nameservers, or to find
    lame servers, missing glue, NS sets that differ between parent and zone, SOA serials that
    differ between servers, and servers without TCP. For record contents use dns_lookup; for
    DNSSEC use dnssec_check.
    """
    from dns_monitor.anchors import load_root_hints
    from dns_monitor.delegation import dns_delegation as run

    settings = get_settings()
    return await run(
        domain,
        policy=settings.network_policy,
        hints=load_root_hints(settings.dns_root_hints),
        timeout_s=settings.clamp_timeout(
            timeout_s if timeout_s is not None else min(10.0, settings.max_timeout_s)
        ),
    )


@mcp.tool()
async def dnssec_check(
    domain: Annotated[str, Field(description="The zone (or a name in it) to check, e.g. example.com")],
    warn_days: Annotated[
        float, Field(description="Warn when an RRSIG expires within this many days", gt=0)
    ] = 7,
    timeout_s: Annotated[
        float | None, Field(description="Limit for the whole check in seconds (default 10)")
    ] = None,
) -> DnssecResult:
    """Is DNSSEC right? Validates the chain of trust from the root's trust anchor to the zone.

    Use this when validating resolvers answer SERVFAIL, after a key rollover or a move of DNS
    provider: status secure, insecure or bogus, the broken link (DS not matching a key, expired
    signatures), days until the earliest signature expires, algorithms, NSEC/NSEC3. For the
    delegation itself use dns_delegation.
    """
    from dns_monitor.anchors import load_root_hints, load_trust_anchors
    from dns_monitor.dnssec import dnssec_check as run

    settings = get_settings()
    return await run(
        domain,
        policy=settings.network_policy,
        hints=load_root_hints(settings.dns_root_hints),
        anchors=load_trust_anchors(settings.dns_trust_anchors),
        warn_days=warn_days,
        timeout_s=settings.clamp_timeout(
            timeout_s if timeout_s is not None else min(10.0, settings.max_timeout_s)
        ),
    )


@mcp.tool()
async def email_auth_check(
    domain: Annotated[str, Field(description="The mail domain, e.g. example.com")],
    dkim_selectors: Annotated[
        list[str] | None, Field(description="DKIM selectors to check (the s= of DKIM-Signature headers)")
    ] = None,
    server: Annotated[
        str | None, Field(description="Resolver to ask (IP, IP:port, tls://, https://); default the system's")
    ] = None,
    timeout_s: Annotated[
        float | None, Field(description="Limit for the whole check in seconds (default 10)")
    ] = None,
) -> EmailAuthResult:
    """Why does mail go to spam? Checks MX, SPF, DMARC, DKIM, MTA-STS, TLS-RPT and BIMI of a domain.

    Use this for deliverability and spoofing questions: it expands SPF includes against the
    10-lookup limit, reads the DMARC policy and reporting, measures DKIM keys, fetches the
    MTA-STS policy over HTTPS and checks it covers the MX hosts. Each finding's hint says what to
    publish. For a single record use dns_lookup.
    """
    from dns_monitor.email import email_auth_check as run

    settings = get_settings()
    return await run(
        domain,
        policy=settings.network_policy,
        dkim_selectors=dkim_selectors,
        server=server,
        system_resolver=settings.resolver,
        resolver=settings.target_resolver,
        timeout_s=settings.clamp_timeout(
            timeout_s if timeout_s is not None else min(10.0, settings.max_timeout_s)
        ),
    )


@mcp.tool()
async def domain_expiry(
    domain: Annotated[str, Field(description="The registered domain, e.g. example.com")],
    warn_days: Annotated[float, Field(description="Warn when it expires within this many days", ge=0)] = 30,
    critical_days: Annotated[float, Field(description="Critical within this many days", ge=0)] = 7,
    timeout_s: Annotated[
        float | None, Field(description="Limit for the whole check in seconds (default 10)")
    ] = None,
) -> DomainExpiryResult:
    """When does the domain registration expire? Registrar, dates and status from the registry (RDAP).

    Use this for renewal monitoring or when a domain suddenly stopped resolving (expired, on
    hold, redemption period, pending delete). For certificate expiry use the ssl-monitor server;
    for DNS problems dns_delegation.
    """
    from dns_monitor.rdap import domain_expiry as run
    from dns_monitor.rdap import parse_rdap_config

    settings = get_settings()
    return await run(
        domain,
        policy=settings.network_policy,
        config=parse_rdap_config(settings.rdap_url),
        warn_days=warn_days,
        critical_days=critical_days,
        timeout_s=settings.clamp_timeout(
            timeout_s if timeout_s is not None else min(10.0, settings.max_timeout_s)
        ),
        resolver=settings.target_resolver,
    )


def main() -> None:
    """Console entry point: `mcp-dns-monitor [serve|tools|call]`."""
    serve_main(mcp)


# Last, as it uses `mcp` and the check above: dns_watch, dns_watch_report, resources, a prompt.
import dns_monitor.watch  # noqa: E402, F401  # pyright: ignore[reportUnusedImport]
