"""The MCP tool declarations of dns-monitor; the lookups themselves live in `resolve`."""

from __future__ import annotations

from typing import Annotated

from monitor_common.config import get_settings
from monitor_common.serve import MonitorServer
from monitor_common.serve import main as serve_main
from pydantic import Field

from dns_monitor import __version__
from dns_monitor.models import DnsLookupResult

__all__ = ["main", "mcp"]

mcp = MonitorServer(
    "mcp-dns-monitor",
    version=__version__,
    instructions=(
        "Checks DNS: what a name resolves to, from which server, and whether the answer is healthy. Every "
        "result has a verdict (ok, warning, critical, unknown), a one-line summary and findings with stable "
        "codes. DNS servers on internal addresses are refused unless the operator allows them."
    ),
)


@mcp.tool()
async def dns_lookup(
    name: Annotated[str, Field(description="Domain name to look up, e.g. example.com")],
    record_type: Annotated[
        str, Field(description="Record type: A, AAAA, MX, TXT, NS, CNAME, SOA, CAA, ...")
    ] = "A",
    server: Annotated[
        str | None, Field(description="DNS server to ask, IP or IP:port (default: the system resolver)")
    ] = None,
    timeout_s: Annotated[
        float | None, Field(description="Limit for the lookup in seconds (default 5)")
    ] = None,
) -> DnsLookupResult:
    """Look up one record type of a name and report the answers, response code and latency.

    Use this for "what does this name resolve to?" against the system resolver or a chosen
    server. NXDOMAIN, SERVFAIL, REFUSED, no data and timeouts come back as findings.
    """
    from dns_monitor.resolve import dns_lookup as run

    settings = get_settings()
    return await run(
        name,
        policy=settings.network_policy,
        record_type=record_type,
        server=server,
        timeout_s=settings.clamp_timeout(
            timeout_s if timeout_s is not None else min(5.0, settings.timeout_s)
        ),
    )


def main() -> None:
    """Console entry point: `mcp-dns-monitor [serve|tools|call]`."""
    serve_main(mcp)
