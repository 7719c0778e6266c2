"""The MCP tool declarations of http-monitor; the checks themselves live in the engine modules.

Each tool parses its input, calls one engine function and returns its result model. Engines are
imported inside the tools so that start-up does not load httpx2 and friends.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from monitor_common.config import Settings, get_settings
from monitor_common.errors import LimitError
from monitor_common.netpolicy import Resolver
from monitor_common.serve import MonitorServer, progress_reporter
from monitor_common.serve import main as serve_main
from pydantic import Field

from http_monitor import __version__
from http_monitor.models import (
    HttpCheckManyResult,
    HttpCheckResult,
    HttpEachIpResult,
    HttpRedirectsResult,
    HttpSecurityHeadersResult,
    HttpTimingResult,
    TcpCheckResult,
)

__all__ = ["main", "mcp"]

mcp = MonitorServer(
    "mcp-http-monitor",
    version=__version__,
    instructions=(
        "Checks websites and HTTP APIs: is it up, how fast, and if not, why. Every result has a verdict "
        "(ok, warning, critical, unknown), a one-line summary and findings with stable codes. A target "
        "that is down is a result, not an error. Internal addresses are refused unless the operator allows them."
    ),
)

Url = Annotated[str, Field(description="http or https URL, e.g. https://example.com/health")]
Timeout = Annotated[
    float | None,
    Field(description="Deadline for the whole check in seconds (default 10, capped by the server)"),
]
VerifyTls = Annotated[bool, Field(description="Verify the certificate of https URLs")]
CaBundle = Annotated[
    str | None, Field(description="CA certificates (PEM) to trust instead of the system store")
]
ExpectStatus = Annotated[
    str,
    Field(
        description='Statuses that count as up: codes, classes and ranges, e.g. "200-399" or "2xx,301,404"'
    ),
]


@lru_cache(maxsize=8)
def _resolver(settings: Settings) -> Resolver | None:
    # One resolver per settings, so that the shared connection pools (keyed by it) are reused.
    return settings.target_resolver


@mcp.tool()
async def http_check(
    url: Url,
    method: Annotated[str, Field(description="HTTP method, e.g. GET or HEAD")] = "GET",
    expect_status: ExpectStatus = "200-399",
    body_contains: Annotated[str | None, Field(description="Text the body must contain")] = None,
    body_regex: Annotated[str | None, Field(description="Regular expression the body must match")] = None,
    expect_json: Annotated[
        dict[str, Any] | None,
        Field(
            description='JSON paths and the values they must have, e.g. {"data.status": "ok", "items.0.id": 1}'
        ),
    ] = None,
    max_response_ms: Annotated[
        float | None, Field(description="Warn (http_slow) when the whole check takes longer")
    ] = None,
    follow_redirects: Annotated[bool, Field(description="Follow 3xx redirects")] = True,
    max_redirects: Annotated[int, Field(ge=0, le=30, description="Most redirects to follow")] = 10,
    headers: Annotated[dict[str, str] | None, Field(description="Extra request headers")] = None,
    timeout_s: Timeout = None,
    connect_ip: Annotated[
        str | None,
        Field(description="Send the request to this address, keeping the URL's Host and SNI (one backend)"),
    ] = None,
    ip_version: Annotated[
        Literal["auto", "4", "6"], Field(description='"4" or "6" forces a family')
    ] = "auto",
    verify_tls: VerifyTls = True,
    ca_bundle_pem: CaBundle = None,
) -> HttpCheckResult:
    """Check one URL in depth: is it up, how fast (per phase), and if not, why.

    Use this for "is my site or API up?". Follows redirects; reports status, HTTP version, remote
    address, DNS/connect/TLS/first-byte/transfer timings, certificate expiry and content
    assertions (text, regex, JSON values). For many URLs at once use http_check_many; for a
    latency profile over several samples use http_timing.
    """
    from http_monitor.probe import http_check as run

    settings = get_settings()
    return await run(
        url,
        policy=settings.network_policy,
        method=method,
        expect_status=expect_status,
        body_contains=body_contains,
        body_regex=body_regex,
        expect_json=expect_json,
        max_response_ms=max_response_ms,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        headers=headers,
        timeout_s=settings.clamp_timeout(timeout_s),
        connect_ip=connect_ip,
        ip_version=ip_version,
        verify_tls=verify_tls,
        ca_bundle_pem=ca_bundle_pem,
        resolver=_resolver(settings),
        body_cap=settings.http_max_body_bytes,
    )


@mcp.tool()
async def http_check_many(
    urls: Annotated[
        list[str], Field(description="The URLs to check (at most the server's limit, 1000 by default)")
    ],
    ctx: Context[Any, Any],
    expect_status: ExpectStatus = "200-399",
    max_response_ms: Annotated[float | None, Field(description="Warn when a URL takes longer")] = None,
    timeout_s: Timeout = None,
    concurrency: Annotated[
        int | None, Field(ge=1, description="Checks at once (default and maximum: the server's setting, 20)")
    ] = None,
) -> HttpCheckManyResult:
    """Check many URLs at once; compact rows, worst first, with counts per verdict.

    Use this for a status board or a sweep of a site's pages. Each row has the verdict, status,
    total time and a one-line summary; run http_check on a failing URL for the details. Reports
    progress as results arrive; at most a few checks run against one host at a time.
    """
    from http_monitor.bulk import http_check_many as run

    settings = get_settings()
    if concurrency is not None and concurrency > settings.concurrency:
        raise LimitError(
            f"concurrency={concurrency} exceeds the server's maximum of {settings.concurrency}: pass a smaller "
            "value (the operator can raise it with MCP_MONITOR_CONCURRENCY)"
        )
    return await run(
        urls,
        policy=settings.network_policy,
        expect_status=expect_status,
        max_response_ms=max_response_ms,
        timeout_s=settings.clamp_timeout(timeout_s),
        concurrency=concurrency or settings.concurrency,
        per_host=settings.per_host_concurrency,
        max_targets=settings.max_targets,
        resolver=_resolver(settings),
        body_cap=settings.http_max_body_bytes,
        progress=progress_reporter(ctx),
    )


@mcp.tool()
async def http_timing(
    url: Url,
    samples: Annotated[
        int, Field(ge=1, le=20, description="How many requests, each on a fresh connection")
    ] = 5,
    timeout_s: Timeout = None,
    verify_tls: VerifyTls = True,
    ca_bundle_pem: CaBundle = None,
) -> HttpTimingResult:
    """Profile where the time goes: several fresh-connection requests, per-phase min/median/p95/max.

    Use this for "why is it slow?" or to compare latency over time; it names the slowest phase
    (dns, connect, tls, ttfb, transfer) and the jitter between samples. Redirects are not
    followed: point it at the final URL.
    """
    from http_monitor.timing import http_timing as run

    settings = get_settings()
    return await run(
        url,
        policy=settings.network_policy,
        samples=samples,
        timeout_s=settings.clamp_timeout(timeout_s),
        verify_tls=verify_tls,
        ca_bundle_pem=ca_bundle_pem,
        resolver=_resolver(settings),
        body_cap=settings.http_max_body_bytes,
    )


@mcp.tool()
async def http_check_each_ip(
    url: Url,
    ip_version: Annotated[
        Literal["both", "4", "6"], Field(description="Which address families to check")
    ] = "both",
    timeout_s: Timeout = None,
    verify_tls: VerifyTls = True,
    ca_bundle_pem: CaBundle = None,
) -> HttpEachIpResult:
    """Check every address a name resolves to (A and AAAA) with the same Host and SNI.

    Use this when a site is up for some visitors and not others: it flags backends or load
    balancer members that differ (status, certificate, body, latency) and an IPv6 path that
    fails where IPv4 works. Redirects are not followed.
    """
    from http_monitor.backends import http_check_each_ip as run

    settings = get_settings()
    return await run(
        url,
        policy=settings.network_policy,
        ip_version=ip_version,
        timeout_s=settings.clamp_timeout(timeout_s),
        verify_tls=verify_tls,
        ca_bundle_pem=ca_bundle_pem,
        resolver=_resolver(settings),
        body_cap=settings.http_max_body_bytes,
    )


@mcp.tool()
async def http_redirects(
    url: Url,
    max_hops: Annotated[int, Field(ge=1, le=30, description="Most redirects to follow")] = 10,
    timeout_s: Timeout = None,
    verify_tls: VerifyTls = True,
    ca_bundle_pem: CaBundle = None,
) -> HttpRedirectsResult:
    """Trace a redirect chain hop by hop: status, Location, time, HSTS and certificate per hop.

    Use this to debug redirects (http to https, www or not, trailing slashes): it finds loops,
    plain http that never upgrades to https, downgrades from https to http, long chains and
    hops to another domain. http_check follows the same chain but reports only the end.
    """
    from http_monitor.redirects import http_redirects as run

    settings = get_settings()
    return await run(
        url,
        policy=settings.network_policy,
        max_hops=max_hops,
        timeout_s=settings.clamp_timeout(timeout_s),
        verify_tls=verify_tls,
        ca_bundle_pem=ca_bundle_pem,
        resolver=_resolver(settings),
    )


@mcp.tool()
async def http_security_headers(
    url: Url,
    timeout_s: Timeout = None,
    verify_tls: VerifyTls = True,
    ca_bundle_pem: CaBundle = None,
) -> HttpSecurityHeadersResult:
    """Grade a site's security headers A to F: HSTS, CSP, framing, nosniff, referrer, permissions, cookies.

    Use this for a quick hardening review of a web page; each check says what is missing or weak
    and why it matters, and version banners (Server, X-Powered-By) are flagged. It follows
    redirects and judges the final response.
    """
    from http_monitor.headers import http_security_headers as run

    settings = get_settings()
    return await run(
        url,
        policy=settings.network_policy,
        timeout_s=settings.clamp_timeout(timeout_s),
        verify_tls=verify_tls,
        ca_bundle_pem=ca_bundle_pem,
        resolver=_resolver(settings),
    )


@mcp.tool()
async def tcp_check(
    host: Annotated[str, Field(description="Host name or IP address")],
    port: Annotated[int, Field(ge=1, le=65535, description="TCP port")],
    send: Annotated[
        str | None, Field(description="Text to send after connecting, e.g. a protocol greeting")
    ] = None,
    expect_regex: Annotated[str | None, Field(description="Regular expression the reply must match")] = None,
    tls: Annotated[
        bool, Field(description="Start TLS after connecting (SNI and verification use host)")
    ] = False,
    timeout_s: Timeout = None,
    verify_tls: VerifyTls = True,
    ca_bundle_pem: CaBundle = None,
) -> TcpCheckResult:
    """Check a TCP port that is not HTTP: connect time, optional TLS, optional payload, the banner.

    Use this for mail, database, SSH or custom services ("does port 5432 accept connections?",
    "does the SMTP banner say 220?"). For web servers use http_check.
    """
    from http_monitor.tcp import tcp_check as run

    settings = get_settings()
    return await run(
        host,
        port,
        policy=settings.network_policy,
        send=send,
        expect_regex=expect_regex,
        tls=tls,
        timeout_s=settings.clamp_timeout(timeout_s),
        verify_tls=verify_tls,
        ca_bundle_pem=ca_bundle_pem,
        resolver=_resolver(settings),
    )


def main() -> None:
    """Console entry point: `mcp-http-monitor [serve|tools|call]`."""
    serve_main(mcp)


# Last, as it uses `mcp` and the check above: http_watch, http_watch_report, resources, a prompt.
import http_monitor.watch  # noqa: E402, F401  # pyright: ignore[reportUnusedImport]
