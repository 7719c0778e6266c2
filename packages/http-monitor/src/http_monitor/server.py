"""The MCP tool declarations of http-monitor; the checks themselves live in the engine modules.

Each tool parses its input, calls one engine function and returns its result model. Engines are
imported inside the tools so that start-up does not load httpx2 and friends.
"""

# No `from __future__ import annotations` here (unlike elsewhere, see STYLE.md): the SDK evaluates
# every tool signature's annotations several times when it registers the tools, and string
# annotations make that a compile and eval per parameter - some ms of every cold start.

from typing import TYPE_CHECKING, Annotated, Any, Literal

from monitor_common.config import Settings
from monitor_common.serve import main as serve_main
from monitor_common.toolset import CHECK_HINTS, CallContext, ToolHints, ToolSet, progress_reporter
from monitor_common.watches import WatchKind, register_watches
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
from http_monitor.watch import http_figures, investigate_outage

if TYPE_CHECKING:
    from monitor_common.server import MonitorServer

    mcp: MonitorServer  # built on first use, see __getattr__ at the end

__all__ = ["main", "mcp", "tools", "watch_service"]

tools = ToolSet(
    name="mcp-http-monitor",
    version=__version__,
    instructions=(
        "Checks websites and HTTP APIs: is it up, how fast, and if not, why. Every result has a verdict "
        "(ok, warning, critical, unknown), a one-line summary and findings with stable codes. A target "
        "that is down is a result, not an error. Internal addresses are refused unless the operator allows them."
    ),
    # A hosted session may set these from the query string of /mcp (smithery.yaml's configSchema).
    session_settings=("timeout_s", "cert_warn_days", "cert_critical_days"),
)

# Parameters whose name, type and default say it all have no description: every host puts the
# tool listing in every prompt (see monitor_common._compact).
Url = str  # http or https
Timeout = float | None  # seconds for the whole check, default 10 (capped by the server)
VerifyTls = bool
CaBundle = str | None  # PEM CA certificates to trust instead of the system store
ExpectStatus = Annotated[str, Field(description='Up statuses, e.g. "2xx,301"')]


def http_check_hints(settings: Settings) -> ToolHints:
    """Read-only while the server sends only safe methods (GET, HEAD, OPTIONS); once the operator
    allows others (MCP_MONITOR_HTTP_UNSAFE_METHODS), a call may POST or DELETE on the target."""
    if settings.http_unsafe_methods:
        return ToolHints(read_only=False, destructive=True, idempotent=False, open_world=True)
    return CHECK_HINTS


@tools.tool(title="Check a URL", hints=http_check_hints)
async def http_check(
    url: Url,
    method: Annotated[str, Field(description="GET, HEAD, OPTIONS; others if the server allows")] = "GET",
    expect_status: ExpectStatus = "200-399",
    body_contains: str | None = None,
    body_regex: str | None = None,
    expect_json: Annotated[
        dict[str, Any] | None,
        Field(description='Path -> expected value, e.g. {"data.status": "ok"}'),
    ] = None,
    max_response_ms: Annotated[float | None, Field(description="Warn above this")] = None,
    follow_redirects: bool = True,
    max_redirects: Annotated[int, Field(ge=0, le=30)] = 10,
    headers: dict[str, str] | None = None,
    timeout_s: Timeout = None,
    connect_ip: Annotated[
        str | None,
        Field(description="Keeps Host and SNI"),
    ] = None,
    ip_version: Literal["auto", "4", "6"] = "auto",
    verify_tls: VerifyTls = True,
    ca_bundle_pem: CaBundle = None,
    blackbox: Annotated[
        dict[str, Any] | None, Field(description="A blackbox_exporter http module (its http options)")
    ] = None,
) -> HttpCheckResult:
    """Check one URL in depth: is it up, why not, where the time goes.

    Many URLs: http_check_many.
    """
    from monitor_common.context import get_context

    from http_monitor.blackbox import module_timeout
    from http_monitor.probe import http_check as run

    ctx = get_context()
    return await run(
        url,
        ctx,
        method=method,
        expect_status=expect_status,
        body_contains=body_contains,
        body_regex=body_regex,
        expect_json=expect_json,
        max_response_ms=max_response_ms,
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        headers=headers,
        timeout_s=ctx.timeout(timeout_s if timeout_s is not None else module_timeout(blackbox)),
        connect_ip=connect_ip,
        ip_version=ip_version,
        verify_tls=verify_tls,
        ca_bundle_pem=ca_bundle_pem,
        blackbox=blackbox,
    )


@tools.tool(title="Check many URLs")
async def http_check_many(
    urls: Annotated[list[str], Field(description="At most 1000 by default")],
    ctx: CallContext,
    expect_status: ExpectStatus = "200-399",
    max_response_ms: Annotated[float | None, Field(description="Warn above this")] = None,
    timeout_s: Timeout = None,
    concurrency: Annotated[int | None, Field(ge=1, description="Default 20")] = None,
) -> HttpCheckManyResult:
    """Check many URLs at once: one row each, worst first, counts per verdict."""
    from monitor_common.context import get_context

    from http_monitor.bulk import http_check_many as run

    check = get_context()
    return await run(
        urls,
        check,
        expect_status=expect_status,
        max_response_ms=max_response_ms,
        timeout_s=check.timeout(timeout_s),
        concurrency=concurrency,
        progress=progress_reporter(ctx),
    )


@tools.tool(title="Time a URL's phases")
async def http_timing(
    url: Url,
    samples: Annotated[int, Field(ge=1, le=20)] = 5,
    timeout_s: Timeout = None,
    verify_tls: VerifyTls = True,
    ca_bundle_pem: CaBundle = None,
) -> HttpTimingResult:
    """Find out why a URL is slow: per-phase min/median/p95/max over fresh connections."""
    from monitor_common.context import get_context

    from http_monitor.timing import http_timing as run

    ctx = get_context()
    return await run(
        url,
        ctx,
        samples=samples,
        timeout_s=ctx.timeout(timeout_s),
        verify_tls=verify_tls,
        ca_bundle_pem=ca_bundle_pem,
    )


@tools.tool(title="Check each IP of a URL")
async def http_check_each_ip(
    url: Url,
    ip_version: Literal["both", "4", "6"] = "both",
    timeout_s: Timeout = None,
    verify_tls: VerifyTls = True,
    ca_bundle_pem: CaBundle = None,
) -> HttpEachIpResult:
    """Check each address of a URL's host, when only some visitors fail (backends, IPv6)."""
    from monitor_common.context import get_context

    from http_monitor.backends import http_check_each_ip as run

    ctx = get_context()
    return await run(
        url,
        ctx,
        ip_version=ip_version,
        timeout_s=ctx.timeout(timeout_s),
        verify_tls=verify_tls,
        ca_bundle_pem=ca_bundle_pem,
    )


@tools.tool(title="Trace redirects")
async def http_redirects(
    url: Url,
    max_hops: Annotated[int, Field(ge=1, le=30)] = 10,
    timeout_s: Timeout = None,
    verify_tls: VerifyTls = True,
    ca_bundle_pem: CaBundle = None,
) -> HttpRedirectsResult:
    """Trace a redirect chain hop by hop: loops, missing https upgrade, downgrades, long chains."""
    from monitor_common.context import get_context

    from http_monitor.redirects import http_redirects as run

    ctx = get_context()
    return await run(
        url,
        ctx,
        max_hops=max_hops,
        timeout_s=ctx.timeout(timeout_s),
        verify_tls=verify_tls,
        ca_bundle_pem=ca_bundle_pem,
    )


@tools.tool(title="Grade security headers")
async def http_security_headers(
    url: Url,
    timeout_s: Timeout = None,
    verify_tls: VerifyTls = True,
    ca_bundle_pem: CaBundle = None,
) -> HttpSecurityHeadersResult:
    """Grade security headers as the MDN HTTP Observatory does (A+ to F) and say what to fix."""
    from monitor_common.context import get_context

    from http_monitor.headers import http_security_headers as run

    ctx = get_context()
    return await run(
        url,
        ctx,
        timeout_s=ctx.timeout(timeout_s),
        verify_tls=verify_tls,
        ca_bundle_pem=ca_bundle_pem,
    )


@tools.tool(title="Check a TCP port")
async def tcp_check(
    host: str,
    port: Annotated[int, Field(ge=1, le=65535)],
    send: str | None = None,
    expect_regex: str | None = None,
    tls: Annotated[bool, Field(description="Start TLS after connecting")] = False,
    timeout_s: Timeout = None,
    verify_tls: VerifyTls = True,
    ca_bundle_pem: CaBundle = None,
) -> TcpCheckResult:
    """Check a TCP port that is not HTTP (mail, database, SSH): connect, optional TLS, banner."""
    from monitor_common.context import get_context

    from http_monitor.tcp import tcp_check as run

    ctx = get_context()
    return await run(
        host,
        port,
        ctx,
        send=send,
        expect_regex=expect_regex,
        tls=tls,
        timeout_s=ctx.timeout(timeout_s),
        verify_tls=verify_tls,
        ca_bundle_pem=ca_bundle_pem,
    )


def main() -> None:
    """Console entry point: `mcp-http-monitor [serve|tools|call]`."""
    serve_main(tools)


# Put together here, after the tools it uses: the watch tools, the monitor:// resources and the prompt.
watch_service = register_watches(
    tools,
    WatchKind(
        kind="http", check=http_check, target="url", figures=http_figures, noun="URL", trends=("days_left",)
    ),
)
tools.prompt(title="Investigate an outage")(investigate_outage)


def __getattr__(name: str) -> Any:
    # `mcp`, the MCP server, is built on first use: `call` and `tools` run without the SDK.
    if name == "mcp":
        from monitor_common.server import server_for

        return server_for(tools)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
