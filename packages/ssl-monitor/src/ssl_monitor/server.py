"""The MCP tool declarations of ssl-monitor; the checks themselves live in the engine modules.

Engines are imported inside each tool so that starting the server does not import cryptography.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from monitor_common.config import get_settings
from monitor_common.serve import MonitorServer, progress_reporter
from monitor_common.serve import main as serve_main
from pydantic import Field

from ssl_monitor import __version__
from ssl_monitor.models import (
    CertCheckManyResult,
    CertCheckResult,
    CertDecodeResult,
    CompareEndpointsResult,
    RevocationResult,
    TlsScanResult,
)

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

Host = Annotated[str, Field(description="Host name or IP address of the TLS server, e.g. example.com")]
Port = Annotated[int, Field(ge=1, le=65535, description="TCP port of the TLS server")]
OptionalPort = Annotated[
    int | None, Field(ge=1, le=65535, description="TCP port (default 443, or the STARTTLS protocol's port)")
]
Sni = Annotated[str | None, Field(description="Server name to send and check (default: the host name)")]
StartTLS = Annotated[
    Literal["smtp", "imap", "pop3", "ftp", "xmpp", "postgres"] | None,
    Field(description="Upgrade a plaintext protocol to TLS first (mail, FTP, XMPP, PostgreSQL)"),
]
WarnDays = Annotated[float, Field(ge=0, description="Warn when fewer days are left")]
CriticalDays = Annotated[float, Field(ge=0, description="Critical when fewer days are left")]
CaBundle = Annotated[
    str | None, Field(description="PEM roots to trust instead of the system store (for a private CA)")
]
Timeout = Annotated[float | None, Field(description="Time limit in seconds (default: the server's, 10)")]


@mcp.tool()
async def cert_check(
    host: Host,
    port: OptionalPort = None,
    sni: Sni = None,
    connect_ip: Annotated[
        str | None,
        Field(description="Connect to this address instead of resolving host (one server of many)"),
    ] = None,
    starttls: StartTLS = None,
    warn_days: WarnDays = 21,
    critical_days: CriticalDays = 7,
    ca_bundle_pem: CaBundle = None,
    timeout_s: Timeout = None,
) -> CertCheckResult:
    """Check one TLS server's certificate in full: expiry, trust chain, host name, key, signature.

    Use this for "is the certificate on host X OK and when does it expire?". For many hosts at
    once use cert_check_many; for pasted PEM use cert_decode; for protocol versions and ciphers
    use tls_scan; for revocation use cert_revocation. Expired, self-signed and wrong-host
    certificates are still described, with findings such as cert_expired, hostname_mismatch,
    untrusted_chain, chain_incomplete, weak_key, must_staple_not_stapled.
    """
    from ssl_monitor.certs import cert_check as run

    settings = get_settings()
    return await run(
        host,
        policy=settings.network_policy,
        port=port,
        sni=sni,
        connect_ip=connect_ip,
        starttls=starttls,
        warn_days=warn_days,
        critical_days=critical_days,
        ca_bundle_pem=ca_bundle_pem,
        timeout_s=settings.clamp_timeout(timeout_s),
        resolver=settings.target_resolver,
    )


@mcp.tool()
async def cert_check_many(
    targets: Annotated[
        list[str],
        Field(description="host or host:port entries, e.g. ['example.com', 'mail.example.com:465']"),
    ],
    warn_days: WarnDays = 21,
    critical_days: CriticalDays = 7,
    concurrency: Annotated[
        int | None, Field(ge=1, description="Checks at once (default: the server's, 20)")
    ] = None,
    ca_bundle_pem: CaBundle = None,
    timeout_s: Timeout = None,
    ctx: Context[Any, Any] | None = None,
) -> CertCheckManyResult:
    """Check the certificates of many hosts at once; rows sorted by days left, counts per verdict.

    Use this for an inventory ("which of my certificates expire soon?"); for the full detail of
    one host use cert_check. Reports progress while it runs.
    """
    from ssl_monitor.bulk import cert_check_many as run

    settings = get_settings()
    return await run(
        targets,
        policy=settings.network_policy,
        warn_days=warn_days,
        critical_days=critical_days,
        concurrency=min(concurrency or settings.concurrency, settings.concurrency),
        per_host=settings.per_host_concurrency,
        max_targets=settings.max_targets,
        timeout_s=settings.clamp_timeout(timeout_s),
        ca_bundle_pem=ca_bundle_pem,
        resolver=settings.target_resolver,
        progress=progress_reporter(ctx) if ctx is not None else None,
    )


@mcp.tool()
def cert_decode(
    pem: Annotated[str, Field(description="PEM text of one certificate or a chain, or base64 DER")],
) -> CertDecodeResult:
    """Decode pasted certificates (PEM or base64 DER): every field, chain order, who signed whom.

    Use this when you have the certificate text rather than a server to connect to; it makes no
    network connection and reads no file. For a live server use cert_check.
    """
    from ssl_monitor.decode import cert_decode as run

    return run(pem)


@mcp.tool()
async def tls_scan(
    host: Host,
    port: OptionalPort = None,
    sni: Sni = None,
    starttls: StartTLS = None,
    timeout_s: Annotated[
        float | None, Field(description="Limit for the whole scan, seconds (default 30)")
    ] = None,
) -> TlsScanResult:
    """Scan which TLS versions (1.0 to 1.3), cipher suites and ALPN protocols a server accepts.

    Use this for "does my server still allow TLS 1.0 or weak ciphers?"; it makes dozens of
    handshakes, so prefer cert_check for the certificate itself. Versions this host's TLS
    library cannot offer are reported as not testable, never as disabled.
    """
    from ssl_monitor.scan import tls_scan as run

    settings = get_settings()
    timeout = settings.clamp_timeout(
        timeout_s if timeout_s is not None else min(30.0, settings.max_timeout_s)
    )
    return await run(
        host,
        policy=settings.network_policy,
        port=port,
        sni=sni,
        starttls=starttls,
        timeout_s=timeout,
        resolver=settings.target_resolver,
    )


@mcp.tool()
async def cert_compare_endpoints(
    host: Host,
    port: Port = 443,
    ip_version: Annotated[
        Literal["ipv4", "ipv6", "both"], Field(description="Which addresses of the name to compare")
    ] = "both",
    connect_ips: Annotated[
        list[str] | None, Field(description="Compare these addresses instead of resolving the name")
    ] = None,
    sni: Sni = None,
    timeout_s: Timeout = None,
) -> CompareEndpointsResult:
    """Compare the certificate served on every address of a name (after a partial renewal, say).

    Use this when a name has several servers behind it (several A/AAAA records, a load balancer
    pool); cert_check looks at one address only. Finding cert_differs_between_endpoints names
    the odd ones out.
    """
    from ssl_monitor.compare import cert_compare_endpoints as run

    settings = get_settings()
    return await run(
        host,
        policy=settings.network_policy,
        port=port,
        ip_version=ip_version,
        connect_ips=connect_ips,
        sni=sni,
        timeout_s=settings.clamp_timeout(timeout_s),
        resolver=settings.target_resolver,
    )


@mcp.tool()
async def cert_revocation(
    host: Host,
    port: OptionalPort = None,
    sni: Sni = None,
    starttls: StartTLS = None,
    ca_bundle_pem: CaBundle = None,
    timeout_s: Timeout = None,
) -> RevocationResult:
    """Check whether a server's certificate is revoked, by its CRL and its OCSP responder.

    Use this for "has this certificate been revoked?"; cert_check does not fetch CRLs or ask
    OCSP responders. Answers good, revoked (with time and reason) or unknown with the reason.
    """
    from ssl_monitor.revocation import cert_revocation as run

    settings = get_settings()
    return await run(
        host,
        policy=settings.network_policy,
        port=port,
        sni=sni,
        starttls=starttls,
        ca_bundle_pem=ca_bundle_pem,
        timeout_s=settings.clamp_timeout(timeout_s),
        resolver=settings.target_resolver,
    )


def main() -> None:
    """Console entry point: `mcp-ssl-monitor [serve|tools|call]`."""
    serve_main(mcp)


# Last, as it uses `mcp` and the check above: cert_watch, cert_watch_report, resources, a prompt.
import ssl_monitor.watch  # noqa: E402, F401  # pyright: ignore[reportUnusedImport]
