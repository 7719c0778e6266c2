"""The MCP tool declarations of http-monitor; the checks themselves live in `probe`."""

from __future__ import annotations

from typing import Annotated

from monitor_common.config import get_settings
from monitor_common.serve import MonitorServer
from monitor_common.serve import main as serve_main
from pydantic import Field

from http_monitor import __version__
from http_monitor.models import HttpCheckResult

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


@mcp.tool()
async def http_check(
    url: Annotated[str, Field(description="http or https URL to request, e.g. https://example.com/health")],
    method: Annotated[str, Field(description="HTTP method, e.g. GET or HEAD")] = "GET",
    expect_status: Annotated[
        str,
        Field(
            description='Statuses that count as up: codes, classes and ranges, e.g. "200-399" or "2xx,301"'
        ),
    ] = "200-399",
    follow_redirects: Annotated[bool, Field(description="Follow 3xx redirects")] = True,
    max_redirects: Annotated[int, Field(ge=0, le=50, description="Most redirects to follow")] = 10,
    verify_tls: Annotated[bool, Field(description="Verify the certificate of https URLs")] = True,
    ca_bundle_pem: Annotated[
        str | None, Field(description="CA certificates (PEM) to trust instead of the system store")
    ] = None,
    timeout_s: Annotated[
        float | None, Field(description="Limit for the whole check in seconds (default 10)")
    ] = None,
) -> HttpCheckResult:
    """Check that a URL answers with an expected status, and how long it takes.

    Use this for "is my site or API up?". Follows redirects, reports status, HTTP version,
    remote address and timing; a failure comes back as a critical verdict with a finding
    saying why (timeout, connection refused, DNS failure, TLS error, unexpected status).
    """
    from http_monitor.probe import http_check as run

    settings = get_settings()
    return await run(
        url,
        policy=settings.network_policy,
        method=method,
        expect_status=expect_status,
        timeout_s=settings.clamp_timeout(timeout_s),
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        verify_tls=verify_tls,
        ca_bundle_pem=ca_bundle_pem,
        resolver=settings.target_resolver,
    )


def main() -> None:
    """Console entry point: `mcp-http-monitor [serve|tools|call]`."""
    serve_main(mcp)
