"""The MCP tool declarations of ssl-monitor; the checks themselves live in the engine modules.

Engines are imported inside each tool so that starting the server does not import cryptography.
"""

# No `from __future__ import annotations` here (unlike elsewhere, see STYLE.md): the SDK evaluates
# every tool signature's annotations several times when it registers the tools, and string
# annotations make that a compile and eval per parameter - some ms of every cold start.

from typing import TYPE_CHECKING, Annotated, Any, Literal

from monitor_common.serve import main as serve_main
from monitor_common.toolset import CallContext, ToolHints, ToolSet, progress_reporter
from monitor_common.watches import WatchKind, register_watches
from pydantic import Field

from ssl_monitor import __version__
from ssl_monitor.models import (
    CertCheckManyResult,
    CertCheckResult,
    CertDecodeResult,
    CertTarget,
    CompareEndpointsResult,
    RevocationResult,
    TlsScanResult,
)
from ssl_monitor.watch import cert_figures, plan_certificate_renewal

if TYPE_CHECKING:
    from monitor_common.server import MonitorServer

    mcp: MonitorServer  # built on first use, see __getattr__ at the end

__all__ = ["main", "mcp", "tools", "watch_service"]

tools = ToolSet(
    name="mcp-ssl-monitor",
    version=__version__,
    instructions=(
        "Checks TLS certificates and server configuration: days until expiry, validity, and what would break "
        "clients. Every result has a verdict (ok, warning, critical, unknown), a one-line summary and findings "
        "with stable codes. Internal addresses are refused unless the operator allows them."
    ),
    # A hosted session may set these from the query string of /mcp (smithery.yaml's configSchema).
    session_settings=("timeout_s", "cert_warn_days", "cert_critical_days"),
)

Host = str  # host name or IP address; self-evident parameters have no description (see _compact)
Port = Annotated[int, Field(ge=1, le=65535)]
OptionalPort = Annotated[int | None, Field(ge=1, le=65535, description="Default 443 or the STARTTLS port")]
Sni = Annotated[str | None, Field(description="SNI (default host)")]
StartTLS = Literal["smtp", "imap", "pop3", "ftp", "xmpp", "postgres"] | None  # upgrade this protocol first
# Not given: the operator's MCP_MONITOR_CERT_WARN_DAYS / _CRITICAL_DAYS (an optional parameter
# without a default says as much).
WarnDays = Annotated[float | None, Field(ge=0, description="Warn below this many days left")]
CriticalDays = Annotated[float | None, Field(ge=0, description="Critical below this many days left")]
CaBundle = Annotated[str | None, Field(description="PEM roots to trust instead of the system's")]
Timeout = float | None  # seconds, default 10


@tools.tool(title="Check a certificate")
async def cert_check(
    host: Host,
    port: OptionalPort = None,
    sni: Sni = None,
    connect_ip: Annotated[
        str | None,
        Field(description="Connect to this IP instead of resolving host"),
    ] = None,
    starttls: StartTLS = None,
    warn_days: WarnDays = None,
    critical_days: CriticalDays = None,
    ca_bundle_pem: CaBundle = None,
    timeout_s: Timeout = None,
) -> CertCheckResult:
    """Check one TLS server's certificate: expiry, chain trust, host name match, key, signature.

    Bad certificates are described too, with findings such as cert_expired.
    """
    from monitor_common.context import get_context

    from ssl_monitor.certs import cert_check as run

    ctx = get_context()
    return await run(
        host,
        ctx,
        port=port,
        sni=sni,
        connect_ip=connect_ip,
        starttls=starttls,
        warn_days=warn_days,
        critical_days=critical_days,
        ca_bundle_pem=ca_bundle_pem,
        timeout_s=ctx.timeout(timeout_s),
    )


@tools.tool(title="Check many certificates")
async def cert_check_many(
    targets: Annotated[
        list[str | CertTarget],
        Field(description="host[:port] or {host, port, starttls, sni, connect_ip}"),
    ],
    warn_days: WarnDays = None,
    critical_days: CriticalDays = None,
    concurrency: Annotated[int | None, Field(ge=1, description="Default 20")] = None,
    ca_bundle_pem: CaBundle = None,
    timeout_s: Timeout = None,
    ctx: CallContext | None = None,
) -> CertCheckManyResult:
    """Check many hosts' certificates at once ("which expire soon?"), by days left."""
    from monitor_common.context import get_context

    from ssl_monitor.bulk import cert_check_many as run

    check_ctx = get_context()  # `ctx` is the MCP request's context here
    return await run(
        targets,
        check_ctx,
        warn_days=warn_days,
        critical_days=critical_days,
        concurrency=concurrency,
        timeout_s=check_ctx.timeout(timeout_s),
        ca_bundle_pem=ca_bundle_pem,
        progress=progress_reporter(ctx) if ctx is not None else None,
    )


# Not open-world: it reads only the text it is given and connects nowhere.
@tools.tool(title="Decode certificates", hints=ToolHints(read_only=True, open_world=False))
def cert_decode(
    pem: Annotated[str, Field(description="PEM certificate(s) or base64 DER")],
) -> CertDecodeResult:
    """Decode pasted certificates (PEM or DER) without connecting: fields, chain, signers."""

    from ssl_monitor.decode import cert_decode as run

    return run(pem)


TLS_SCAN_TIMEOUT_SCALE = 3.0


@tools.tool(title="Scan TLS versions and ciphers")
async def tls_scan(
    host: Host,
    port: OptionalPort = None,
    sni: Sni = None,
    starttls: StartTLS = None,
    timeout_s: Annotated[float | None, Field(description="Seconds (default 3x the server's)")] = None,
) -> TlsScanResult:
    """Scan every TLS version, cipher suite, group and signature a server accepts, graded, with its Mozilla profile."""
    from monitor_common.context import get_context

    from ssl_monitor.scan import tls_scan as run

    ctx = get_context()
    # A scan is many handshakes, one per version and suite offered: three checks' worth.
    timeout = ctx.timeout(timeout_s, scale=TLS_SCAN_TIMEOUT_SCALE)
    return await run(host, ctx, port=port, sni=sni, starttls=starttls, timeout_s=timeout)


@tools.tool(title="Compare certificates across IPs")
async def cert_compare_endpoints(
    host: Host,
    port: Port = 443,
    ip_version: Literal["ipv4", "ipv6", "both"] = "both",
    connect_ips: Annotated[
        list[str] | None, Field(description="Compare these IPs instead of resolving")
    ] = None,
    sni: Sni = None,
    timeout_s: Timeout = None,
) -> CompareEndpointsResult:
    """Compare the certificate on every address of a name (after a partial renewal, say)."""
    from monitor_common.context import get_context

    from ssl_monitor.compare import cert_compare_endpoints as run

    ctx = get_context()
    return await run(
        host,
        ctx,
        port=port,
        ip_version=ip_version,
        connect_ips=connect_ips,
        sni=sni,
        timeout_s=ctx.timeout(timeout_s),
    )


@tools.tool(title="Check revocation")
async def cert_revocation(
    host: Host,
    port: OptionalPort = None,
    sni: Sni = None,
    starttls: StartTLS = None,
    ca_bundle_pem: CaBundle = None,
    timeout_s: Timeout = None,
) -> RevocationResult:
    """Check whether a server's certificate is revoked, via CRL and OCSP."""
    from monitor_common.context import get_context

    from ssl_monitor.revocation import cert_revocation as run

    ctx = get_context()
    return await run(
        host,
        ctx,
        port=port,
        sni=sni,
        starttls=starttls,
        ca_bundle_pem=ca_bundle_pem,
        timeout_s=ctx.timeout(timeout_s),
    )


def main() -> None:
    """Console entry point: `mcp-ssl-monitor [serve|tools|call]`."""
    serve_main(tools)


# Put together here, after the tools it uses: the watch tools, the monitor:// resources and the prompt.
watch_service = register_watches(
    tools,
    WatchKind(
        kind="cert",
        section_name="ssl",
        check=cert_check,
        target="host",
        figures=cert_figures,
        noun="host",
        label="certificate",
        trends=("days_left", "days_left_chain_min"),
    ),
)
tools.prompt(title="Plan a certificate renewal")(plan_certificate_renewal)


def __getattr__(name: str) -> Any:
    # `mcp`, the MCP server, is built on first use: `call` and `tools` run without the SDK.
    if name == "mcp":
        from monitor_common.server import server_for

        return server_for(tools)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
