"""The MCP tool declarations of dns-monitor; the checks themselves live in the engine modules."""

# No `from __future__ import annotations` here (unlike elsewhere, see STYLE.md): the SDK evaluates
# every tool signature's annotations several times when it registers the tools, and string
# annotations make that a compile and eval per parameter - some ms of every cold start.

from typing import TYPE_CHECKING, Annotated, Any, Literal

from monitor_common.config import get_settings
from monitor_common.serve import main as serve_main
from monitor_common.toolset import ToolSet
from monitor_common.watches import WatchKind, register_watches
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
from dns_monitor.watch import dns_figures, review_dns_health

if TYPE_CHECKING:
    from monitor_common.server import MonitorServer

    mcp: MonitorServer  # built on first use, see __getattr__ at the end

__all__ = ["main", "mcp", "tools", "watch_service"]

tools = ToolSet(
    name="mcp-dns-monitor",
    version=__version__,
    instructions=(
        "Checks DNS: what a name resolves to and from which server, whether a change has reached the "
        "world's resolvers, and what reverse DNS says. Every result has a verdict (ok, warning, critical, "
        "unknown), a one-line summary and findings with stable codes. DNS servers on internal addresses "
        "are refused unless the operator allows them."
    ),
)

# One DNS question needs less than a whole check: the lookups default to half of
# MCP_MONITOR_TIMEOUT_S (5 s at the default 10), as the settings table says.
QUESTION_TIMEOUT_SCALE = 0.5

Timeout = float | None  # seconds, default half the server's (the README's settings table says so)
CheckTimeout = float | None  # seconds for the whole check, default the server's (MCP_MONITOR_TIMEOUT_S)


@tools.tool(title="Look up DNS records")
async def dns_lookup(
    name: Annotated[str, Field(description="Domain name")],
    record_types: Annotated[list[str], Field(description="e.g. A, AAAA, MX")] = ["A"],  # noqa: B006 - pydantic copies defaults; the schema shows the list
    server: Annotated[
        str | None,
        Field(description="IP[:port], tls://IP or https://.../dns-query; default the system's"),
    ] = None,
    transport: Annotated[
        Literal["auto", "udp", "tcp"], Field(description="auto: UDP, TCP if truncated")
    ] = "auto",
    dnssec: Annotated[bool, Field(description="Set the DO bit")] = False,
    recursion: Annotated[bool, Field(description="Set RD (false for authoritative)")] = True,
    expect: Annotated[list[str] | None, Field(description="Exact expected values (CIDRs ok)")] = None,
    timeout_s: Timeout = None,
) -> DnsLookupResult:
    """Look up a name's records on one server: answers, rcode, flags, TTLs, errors.

    Many resolvers: dns_propagation; PTR: reverse_dns.
    """
    from monitor_common.context import get_context

    from dns_monitor.lookup import dns_lookup as run

    ctx = get_context()
    return await run(
        name,
        ctx,
        record_types=record_types,
        server=server,
        transport=transport,
        dnssec=dnssec,
        recursion=recursion,
        expect=expect,
        timeout_s=ctx.timeout(timeout_s, scale=QUESTION_TIMEOUT_SCALE),
    )


@tools.tool(title="Check DNS propagation")
async def dns_propagation(
    name: Annotated[str, Field(description="Domain name")],
    record_type: str = "A",
    resolvers: Annotated[
        list[str] | None,
        Field(description="Resolvers to ask; default: public ones"),
    ] = None,
    include_authoritative: Annotated[bool, Field(description="Also ask the zone's nameservers")] = True,
    expected: Annotated[list[str] | None, Field(description="Expected values (CIDRs ok)")] = None,
    timeout_s: Timeout = None,
) -> PropagationResult:
    """Check whether a DNS change reached every resolver and the zone's own servers."""
    from monitor_common.context import get_context

    from dns_monitor.propagation import PUBLIC_RESOLVERS
    from dns_monitor.propagation import dns_propagation as run

    ctx = get_context()
    return await run(
        name,
        ctx,
        record_type=record_type,
        resolvers=resolvers,
        default_resolvers=get_settings().dns_resolvers or PUBLIC_RESOLVERS,
        include_authoritative=include_authoritative,
        expected=expected,
        timeout_s=ctx.timeout(timeout_s, scale=QUESTION_TIMEOUT_SCALE),
    )


@tools.tool(title="Reverse DNS")
async def reverse_dns(
    target: Annotated[str, Field(description="IP, or host name (all its addresses)")],
    server: Annotated[str | None, Field(description="Resolver; default the system's")] = None,
    timeout_s: Timeout = None,
) -> ReverseDnsResult:
    """Look up an address's PTR names and whether they resolve back (FCrDNS, mail reputation)."""
    from monitor_common.context import get_context

    from dns_monitor.reverse import reverse_dns as run

    ctx = get_context()
    return await run(
        target, ctx, server=server, timeout_s=ctx.timeout(timeout_s, scale=QUESTION_TIMEOUT_SCALE)
    )


@tools.tool(title="Check a delegation")
async def dns_delegation(
    domain: Annotated[str, Field(description="Zone, e.g. example.com")],
    timeout_s: CheckTimeout = None,
) -> DelegationResult:
    """Check a zone's delegation from the root: lame servers, glue, NS and SOA mismatches."""
    from monitor_common.context import get_context

    from dns_monitor.anchors import load_root_hints
    from dns_monitor.delegation import dns_delegation as run

    ctx = get_context()
    return await run(
        domain,
        ctx,
        hints=load_root_hints(get_settings().dns_root_hints),
        timeout_s=ctx.timeout(timeout_s),
    )


@tools.tool(title="Check DNSSEC")
async def dnssec_check(
    domain: Annotated[str, Field(description="Zone or a name in it")],
    warn_days: Annotated[float, Field(description="Warn when an RRSIG expires sooner", gt=0)] = 7,
    timeout_s: CheckTimeout = None,
) -> DnssecResult:
    """Validate DNSSEC from the root to a zone: secure, insecure or bogus, and the broken link."""
    from monitor_common.context import get_context

    from dns_monitor.anchors import load_root_hints, load_trust_anchors
    from dns_monitor.dnssec import dnssec_check as run

    ctx = get_context()
    settings = get_settings()
    return await run(
        domain,
        ctx,
        hints=load_root_hints(settings.dns_root_hints),
        anchors=load_trust_anchors(settings.dns_trust_anchors),
        warn_days=warn_days,
        timeout_s=ctx.timeout(timeout_s),
    )


@tools.tool(title="Check mail authentication")
async def email_auth_check(
    domain: Annotated[str, Field(description="Mail domain")],
    dkim_selectors: Annotated[list[str] | None, Field(description="DKIM selectors (s=)")] = None,
    server: Annotated[str | None, Field(description="Resolver; default the system's")] = None,
    timeout_s: CheckTimeout = None,
) -> EmailAuthResult:
    """Check why mail is spam or spoofable: MX, SPF, DMARC, DKIM, MTA-STS, TLS-RPT, BIMI."""
    from monitor_common.context import get_context

    from dns_monitor.email import email_auth_check as run

    ctx = get_context()
    return await run(
        domain, ctx, dkim_selectors=dkim_selectors, server=server, timeout_s=ctx.timeout(timeout_s)
    )


@tools.tool(title="Domain registration expiry")
async def domain_expiry(
    domain: Annotated[str, Field(description="Domain, or a name below it")],
    warn_days: Annotated[float, Field(description="Warn within days", ge=0)] = 30,
    critical_days: Annotated[float, Field(description="Critical within days", ge=0)] = 7,
    timeout_s: CheckTimeout = None,
) -> DomainExpiryResult:
    """Check when a domain's registration expires, its registrar and status (RDAP)."""
    from monitor_common.context import get_context

    from dns_monitor.rdap import domain_expiry as run
    from dns_monitor.rdap import parse_rdap_config

    ctx = get_context()
    return await run(
        domain,
        ctx,
        config=parse_rdap_config(get_settings().rdap_url),
        warn_days=warn_days,
        critical_days=critical_days,
        timeout_s=ctx.timeout(timeout_s),
    )


def main() -> None:
    """Console entry point: `mcp-dns-monitor [serve|tools|call]`."""
    serve_main(tools)


# Put together here, after the tools it uses: the watch tools, the monitor:// resources and the prompt.
watch_service = register_watches(
    tools,
    WatchKind(
        kind="dns",
        check=dns_lookup,
        target="name",
        figures=dns_figures,
        noun="domain",
        label="DNS name",
        rename={"name": "domain"},
        trends=("answers",),
    ),
)
tools.prompt(title="Review DNS health")(review_dns_health)


def __getattr__(name: str) -> Any:
    # `mcp`, the MCP server, is built on first use: `call` and `tools` run without the SDK.
    if name == "mcp":
        from monitor_common.server import server_for

        return server_for(tools)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
