"""The MCP tool declarations of ssl-monitor; the checks themselves live in `certs`."""

from __future__ import annotations

from typing import Annotated

from monitor_common.config import get_settings
from monitor_common.serve import MonitorServer
from monitor_common.serve import main as serve_main
from pydantic import Field

from ssl_monitor import __version__
from ssl_monitor.models import CertCheckResult

__all__ = ["main", "mcp"]

mcp = MonitorServer(
    "mcp-ssl-monitor",
    version=__version__,
    instructions=(
        "Checks TLS certificates and server configuration: days until expiry, validity, and what would break "
        "clients. Every result has a verdict (ok, warning, critical, unknown), a one-line summary and findings "
        "with stable codes. Internal addresses are refused unless the operator allows them."
    ),
)


@mcp.tool()
async def cert_check(
    host: Annotated[str, Field(description="Host name or IP address of the TLS server, e.g. example.com")],
    port: Annotated[int, Field(ge=1, le=65535, description="TCP port of the TLS server")] = 443,
    sni: Annotated[str | None, Field(description="Server name to send (default: the host name)")] = None,
    warn_days: Annotated[float, Field(ge=0, description="Warn when fewer days are left")] = 21,
    critical_days: Annotated[float, Field(ge=0, description="Critical when fewer days are left")] = 7,
    timeout_s: Annotated[
        float | None, Field(description="Limit for connect plus handshake, seconds (default 10)")
    ] = None,
) -> CertCheckResult:
    """Check the certificate a TLS server presents: days left until expiry, subject and issuer.

    Use this for "when does my certificate expire?" on one host. Expired, not yet valid and
    soon-to-expire certificates come back as findings with a warning or critical verdict.
    """
    from ssl_monitor.certs import cert_check as run

    settings = get_settings()
    return await run(
        host,
        policy=settings.network_policy,
        port=port,
        sni=sni,
        warn_days=warn_days,
        critical_days=critical_days,
        timeout_s=settings.clamp_timeout(timeout_s),
        resolver=settings.target_resolver,
    )


def main() -> None:
    """Console entry point: `mcp-ssl-monitor [serve|tools|call]`."""
    serve_main(mcp)
