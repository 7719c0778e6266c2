"""A redirect chain traced hop by hop, and what is wrong with it.

Findings: `redirect_loop`, `too_many_redirects`, `redirect_chain_long` (more hops than a visitor
should wait for), `redirect_no_https_upgrade` (plain http that never reaches https),
`redirect_https_downgrade` (an https page sending visitors to plain http), `redirect_cross_domain`
(a hop to another registrable domain), plus certificate and network findings of any hop.

The registrable domain is approximated without the Public Suffix List: the last two labels, or
three under a known two-level public suffix (co.uk, com.au, ...). That errs towards calling a
hop cross-domain, which is only ever a warning.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import Url, parse_ip, parse_url

from http_monitor.exchange import Walk, timeout_finding
from http_monitor.models import HttpRedirectsResult, RedirectStep
from http_monitor.session import Session
from http_monitor.tls import cert_findings, check_trust

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["LONG_CHAIN", "cross_domain_finding", "downgrade_findings", "http_redirects", "registrable_domain"]

LONG_CHAIN = 3
"""More redirects than this is `redirect_chain_long`: each costs the visitor a round trip or more."""

_TWO_LEVEL_SUFFIXES = frozenset(
    f"{second}.{tld}"
    for tld in (
        "uk",
        "au",
        "nz",
        "jp",
        "br",
        "za",
        "in",
        "kr",
        "cn",
        "tw",
        "il",
        "mx",
        "ar",
        "tr",
        "sg",
        "hk",
    )
    for second in ("co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go")
)


def registrable_domain(host: str) -> str:
    """`www.shop.example.co.uk` -> `example.co.uk`; an IP address or a one-label name is itself."""
    if parse_ip(host) is not None:
        return host
    labels = host.lower().rstrip(".").split(".")
    if len(labels) <= 2:
        return ".".join(labels)
    if ".".join(labels[-2:]) in _TWO_LEVEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def downgrade_findings(urls: Sequence[Url]) -> list[Finding]:
    """`redirect_https_downgrade` (critical) for every hop of a chain from https to plain http.

    The one rule for a downgrade, `http_redirects` and `http_check` alike: a visitor who asked
    for https ends up on (or passes through) a page anyone on the path can read and change."""
    return [
        Finding(
            severity=Verdict.CRITICAL,
            code="redirect_https_downgrade",
            message=f"{before.redacted} redirects from https to plain http ({after.redacted})",
            hint="redirect to the https URL; a downgrade exposes visitors to interception",
        )
        for before, after in itertools.pairwise(urls)
        if before.scheme == "https" and after.scheme == "http"
    ]


def cross_domain_finding(before: Url, after: Url, severity: Verdict = Verdict.WARNING) -> Finding | None:
    """`redirect_cross_domain` when `after` is on another registrable domain than `before`.

    The one rule for leaving a site: `http_redirects` asks it of every hop (a warning: it judges
    the chain), `http_check` of the first URL and the final one (a notice: the page answered)."""
    if registrable_domain(before.host) == registrable_domain(after.host):
        return None
    return Finding(
        severity=severity,
        code="redirect_cross_domain",
        message=f"{before.redacted} redirects to another domain, {after.host}",
        hint="make sure that domain is yours; visitors and crawlers leave your site here",
    )


async def http_redirects(
    url: str,
    ctx: CheckContext,
    *,
    max_hops: int = 10,
    timeout_s: float = 10.0,
    verify_tls: bool = True,
    ca_bundle_pem: str | None = None,
) -> HttpRedirectsResult:
    """Follow `url`'s redirects (at most `max_hops`) within `timeout_s` and judge the chain.

    PolicyError propagates when the first URL is refused; a refused later hop is a finding.
    """
    started = Stopwatch()
    target = parse_url(url)
    check_trust(verify_tls, ca_bundle_pem)
    session = Session.fresh(ctx, verify_tls=verify_tls, ca_bundle_pem=ca_bundle_pem)
    walk = Walk(
        session, method="GET", follow=True, max_redirects=max_hops, timeout=timeout_s, read_body=False
    )
    try:
        with anyio.move_on_after(timeout_s) as deadline:
            await walk.run(target.geturl())
    finally:
        with anyio.CancelScope(shield=True):
            await session.aclose()
    findings: list[Finding] = []
    if deadline.cancelled_caught:
        walk.failure = timeout_finding(walk.phase, timeout_s, walk.current_url)
    if walk.failure is not None:
        findings.append(walk.failure)
    steps = [
        RedirectStep(
            url=hop.url,
            status_code=hop.status_code,
            location=hop.location if 300 <= hop.status_code < 400 else None,
            time_ms=hop.elapsed_ms,
            hsts=hop.headers.get("strict-transport-security"),
            cert_days_left=hop.tls.days_left if hop.tls else None,
            remote_ip=hop.remote_ip,
        )
        for hop in walk.hops
    ]
    if walk.failure is not None and walk.current_url and (not steps or steps[-1].url != walk.current_url):
        steps.append(RedirectStep(url=walk.current_url))  # the hop that failed
    seen_hosts: set[str] = set()
    for hop in walk.hops:
        host = parse_url(hop.url).host
        if hop.tls is not None and host not in seen_hosts:
            seen_hosts.add(host)
            findings.extend(cert_findings(hop.tls, host, ctx))
    urls = [parse_url(step.url) for step in steps]
    redirects = max(len(steps) - 1, 0)
    findings.extend(downgrade_findings(urls))
    for before, after in itertools.pairwise(urls):
        crossing = cross_domain_finding(before, after)
        if crossing is not None:
            findings.append(crossing)
    final = urls[-1] if urls else target
    if target.scheme == "http" and final.scheme == "http" and walk.failure is None:
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="redirect_no_https_upgrade",
                message=f"{target.redacted} is served over plain http and never redirects to https",
                hint="redirect http to https (301) and send Strict-Transport-Security on the https site",
            )
        )
    if redirects > LONG_CHAIN:
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="redirect_chain_long",
                message=f"{redirects} redirects before the final page",
                hint="point the first URL straight at the final one; every hop costs a round trip",
            )
        )
    verdict = Verdict.worst([f.severity for f in findings])
    summary = f"{verdict.value}: {target.redacted}: {redirects} redirect{'s' if redirects != 1 else ''}"
    if walk.hops and walk.failure is None:
        summary += f", ending at {walk.hops[-1].url} ({walk.hops[-1].status_code})"
    problem = next((f.message for f in sorted(findings, key=lambda f: -f.severity.rank)), None)
    if problem:
        summary += f"; {problem}"
    return HttpRedirectsResult.build(
        summary=summary,
        findings=findings,
        started=started,
        url=target.redacted,
        final_url=walk.hops[-1].url if walk.hops else None,
        hops=steps,
    )
