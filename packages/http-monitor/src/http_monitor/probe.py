"""The HTTP check: one URL, its redirects followed, the response judged against expectations.

Every connection goes through `monitor_common.netpolicy`'s guarded transport, so the address each
hop actually dials is checked against the network policy. A refused *first* hop propagates as
`PolicyError` (the caller's target is forbidden: a `ToolError`); a redirect into a refused
address is a `redirect_blocked` finding. Everything that can go wrong with the target (DNS,
refused, timeouts in any phase, TLS, broken HTTP, unexpected content) is a finding.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal

import anyio
from monitor_common.context import ENV_UNSAFE_METHODS
from monitor_common.errors import InputError, TargetError
from monitor_common.findings import BODY_TRUNCATED
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import Url, parse_ip, parse_url

from http_monitor.assertions import Expectations
from http_monitor.exchange import Hop, Walk, timeout_finding
from http_monitor.models import Assertion, HttpCheckResult, HttpTimings, RedirectHop
from http_monitor.redirects import cross_domain_finding, downgrade_findings
from http_monitor.session import Session
from http_monitor.tls import cert_findings, check_trust

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = [
    "SAFE_METHODS",
    "IpVersion",
    "Outcome",
    "check_headers",
    "family_of",
    "http_check",
    "judge",
    "parse_method",
    "retry_after_s",
    "walk_url",
]

IpVersion = Literal["auto", "4", "6"]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

SELECTED_HEADERS = (
    "content-type",
    "content-length",
    "content-encoding",
    "location",
    "server",
    "date",
    "last-modified",
    "etag",
    "cache-control",
    "age",
    "via",
    "strict-transport-security",
    "retry-after",
)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
PATTERN_FLOOR_S = 0.05
"""The least time body_regex gets when the response came just before the deadline."""


# http_check's defaults of the parameters a blackbox module may set (see `Module.merge`).
_MODULE_DEFAULTS: dict[str, Any] = {
    "method": "GET",
    "expect_status": "200-399",
    "headers": {},
    "follow_redirects": True,
    "ip_version": "auto",
    "verify_tls": True,
}


def family_of(ip_version: str) -> int | None:
    """socket.AF_INET for "4", AF_INET6 for "6", None for "auto"/"both"."""
    if ip_version in ("auto", "both"):
        return None
    if ip_version == "4":
        return socket.AF_INET
    if ip_version == "6":
        return socket.AF_INET6
    raise InputError(f'ip_version must be "auto", "4" or "6", not {ip_version!r}')


def parse_method(method: str, *, unsafe: bool = False) -> str:
    """`method` as sent (upper case). A method other than GET, HEAD and OPTIONS may change
    something on the target, so it is refused unless `unsafe` (the operator's
    MCP_MONITOR_HTTP_UNSAFE_METHODS): hosts run a read-only tool without asking the user."""
    name = method.strip().upper()
    if not _TOKEN.fullmatch(name) or name == "CONNECT":
        raise InputError(f"method {method!r} is not a usable HTTP method: use e.g. GET, HEAD or OPTIONS")
    if name not in SAFE_METHODS and not unsafe:
        raise InputError(
            f"method {name} is refused: this server sends only GET, HEAD and OPTIONS, which change "
            f"nothing on the target. Use one of them, or ask the operator to allow other methods "
            f"with {ENV_UNSAFE_METHODS}=true"
        )
    return name


def check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Request headers, validated: token names, values without line breaks."""
    checked: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not _TOKEN.fullmatch(name):
            raise InputError(f"header name {name!r} is not valid: use e.g. Accept or X-Api-Key")
        if any(c in value for c in "\r\n\0"):
            raise InputError(f"header {name} has a line break or NUL in its value")
        checked[name] = value
    return checked


def _connect_override(target: Url, connect_ip: str | None, family: int | None) -> dict[str, str] | None:
    if connect_ip is None:
        return None
    ip = parse_ip(connect_ip)
    if ip is None:
        raise TargetError(
            f"connect_ip must be an IP address, not {connect_ip!r}: e.g. 192.0.2.1 or 2001:db8::1"
        )
    wanted = None if family is None else (4 if family == socket.AF_INET else 6)
    if wanted is not None and ip.version != wanted:
        raise InputError(f"connect_ip {ip} is IPv{ip.version}, but ip_version asks for IPv{wanted}")
    return {target.host: ip.compressed}


async def http_check(
    url: str,
    ctx: CheckContext,
    *,
    method: str = "GET",
    expect_status: str = "200-399",
    body_contains: str | None = None,
    body_regex: str | None = None,
    expect_json: dict[str, Any] | None = None,
    max_response_ms: float | None = None,
    follow_redirects: bool = True,
    max_redirects: int = 10,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 10.0,
    connect_ip: str | None = None,
    ip_version: str = "auto",
    verify_tls: bool = True,
    ca_bundle_pem: str | None = None,
    blackbox: dict[str, Any] | None = None,
) -> HttpCheckResult:
    """Request `url`, follow redirects, and judge the last response.

    Args:
        url: http or https URL; credentials in it are sent but never echoed.
        ctx: the operator's settings: the policy on every address dialled (each redirect hop
            included), the resolver, the rate limit, the body cap and the expiry thresholds.
        expect_status, body_contains, body_regex, expect_json, max_response_ms: what counts as up
            (see `Expectations`); by default any status from 200 to 399.
        follow_redirects / max_redirects: follow 3xx responses, at most this many.
        headers: extra request headers.
        timeout_s: deadline for the whole check, every phase and redirect included.
        connect_ip: dial this address for the URL's host, keeping Host and SNI (curl --resolve).
        ip_version: "auto", "4" or "6".
        verify_tls / ca_bundle_pem: certificate checks, against the system store or these CAs.
        blackbox: a blackbox_exporter http module (`blackbox.translate`): the parameters it sets
            (a caller's value that disagrees is an InputError) and the rules it adds.

    The check has connections of its own (`Session.fresh`), so that its phase timings describe
    what a new visitor sees; the bulk checks use the shared pool (`bulk.py`). The time reported
    (`timings_ms.total`, "answered in N ms") is the requests' alone (`Walk.request_ms`): parsing,
    creating the client and the first call's imports are not the target's time.
    """
    started = Stopwatch()
    target = parse_url(url)
    module = None
    if blackbox is not None:
        from http_monitor.blackbox import translate

        module = translate(blackbox)
        merged = module.merge(
            {
                "method": method,
                "expect_status": expect_status,
                "headers": dict(headers or {}),
                "follow_redirects": follow_redirects,
                "ip_version": ip_version,
                "verify_tls": verify_tls,
            },
            _MODULE_DEFAULTS,
        )
        method, expect_status, headers = merged["method"], merged["expect_status"], merged["headers"]
        follow_redirects, ip_version = merged["follow_redirects"], merged["ip_version"]
        verify_tls = merged["verify_tls"]
    expectations = Expectations.parse(
        expect_status=expect_status,
        body_contains=body_contains,
        body_regex=body_regex,
        expect_json=expect_json,
        max_response_ms=max_response_ms,
        module=module,
    )
    method = parse_method(method, unsafe=ctx.unsafe_methods)
    request_headers = check_headers(headers)
    family = family_of(ip_version)
    override = _connect_override(target, connect_ip, family)
    check_trust(verify_tls, ca_bundle_pem)  # a bad CA bundle is the caller's error, raised now
    session = Session.fresh(
        ctx, verify_tls=verify_tls, ca_bundle_pem=ca_bundle_pem, family=family, connect_ip=override
    )
    try:
        walk = await walk_url(
            target,
            session,
            method=method,
            headers=request_headers,
            follow=follow_redirects,
            max_redirects=max_redirects,
            timeout_s=timeout_s,
        )
    finally:
        with anyio.CancelScope(shield=True):
            await session.aclose()
    outcome = await judge(target, walk, expectations, started.elapsed_ms())
    return _result(target, walk, outcome, started)


async def walk_url(
    target: Url,
    session: Session,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    follow: bool = True,
    max_redirects: int = 10,
    timeout_s: float = 10.0,
    details: bool = True,
) -> Walk:
    """Fetch `target` on `session` within `timeout_s`, redirects followed; the finished walk.

    A timeout is the walk's `failure` (naming the phase it struck in), like any other failure.
    PolicyError propagates for a refused first hop. The session is left open. `details=False`
    skips what only `http_check`'s full result shows (see `Walk.details`). The body is read up to
    the session's context's `body_cap`.
    """
    walk = Walk(
        session,
        method=method,
        headers=dict(headers or {}),
        follow=follow,
        max_redirects=max_redirects,
        body_cap=session.ctx.body_cap,
        timeout=timeout_s,
        details=details,
    )
    with anyio.move_on_after(timeout_s) as deadline:
        await walk.run(target.geturl())
    if deadline.cancelled_caught:
        walk.failure = timeout_finding(walk.phase, timeout_s, walk.current_url or target.redacted)
    return walk


@dataclass
class Outcome:
    """What a walk amounts to against the expectations: findings, assertions, verdict, summary."""

    findings: list[Finding]
    assertions: list[Assertion]
    verdict: Verdict
    summary: str
    total_ms: float


async def judge(target: Url, walk: Walk, expectations: Expectations, elapsed_ms: float) -> Outcome:
    """Judge a finished walk, `elapsed_ms` into the check: the findings and the one-line summary.

    The response time judged and reported is the walk's `request_ms`: how long the target took,
    not how long this server held the request back or spent setting itself up; `elapsed_ms`
    only says how much of the deadline is left for the body pattern."""
    answered_ms = walk.request_ms
    hops = walk.hops
    findings: list[Finding] = []
    assertions: list[Assertion] = []
    last: Hop | None = hops[-1] if hops else None
    checked_hosts: set[str] = set()
    for hop in hops:
        if hop.tls is None:
            continue
        host = parse_url(hop.url).host
        if host not in checked_hosts:
            checked_hosts.add(host)
            findings.extend(cert_findings(hop.tls, host, walk.session.ctx))
    findings.extend(_chain_findings(target, walk))
    if walk.failure is not None:
        findings.append(walk.failure)
    elif last is not None:
        assertions, judged = await expectations.judge(
            status_code=last.status_code,
            reason=last.reason,
            body=last.body,
            truncated=last.body_truncated,
            total_ms=answered_ms,
            # What the check's deadline has left (a little at least: a sane pattern needs µs).
            time_left_s=max(walk.timeout - elapsed_ms / 1000, PATTERN_FLOOR_S),
            headers=last.headers,
            http_version=last.http_version,
            tls=last.url.startswith("https:"),
        )
        findings.extend(judged)
    if last is not None and last.body_truncated:
        findings.append(
            BODY_TRUNCATED.finding(f"the body is longer than {walk.body_cap} bytes; only those were read")
        )
    verdict = Verdict.worst([f.severity for f in findings])
    problem = next(
        (f.message for f in sorted(findings, key=lambda f: -f.severity.rank) if f.severity > Verdict.OK), None
    )
    if problem is None:
        # A notice the person asking "is it up" should still read: the page lives elsewhere.
        problem = next((f.message for f in findings if f.code == "redirect_cross_domain"), None)
    if last is None:
        summary = f"{verdict.value}: {target.redacted}: {problem}"
    else:
        summary = f"{verdict.value}: {target.redacted} answered {last.status_code} {last.reason} in {answered_ms:.0f} ms"
        if problem is not None:
            summary += f"; {problem}"
        wait = retry_after_s(last)
        if wait is not None and last.status_code in (429, 503):
            summary += f"; the server asks to retry after {_duration(wait)} (Retry-After)"
    return Outcome(
        findings=findings, assertions=assertions, verdict=verdict, summary=summary, total_ms=answered_ms
    )


def _chain_findings(target: Url, walk: Walk) -> list[Finding]:
    """What the redirects followed say, by `http_redirects`' rules: a downgrade from https to
    plain http on the way (critical), and a final URL on another domain (a notice)."""
    chain = [hop.url for hop in walk.hops]
    if walk.failure is not None and walk.current_url and (not chain or chain[-1] != walk.current_url):
        chain.append(walk.current_url)  # where the last redirect led, though it failed there
    if len(chain) < 2:
        return []
    urls = [parse_url(url) for url in chain]
    findings = downgrade_findings(urls)
    crossing = cross_domain_finding(target, urls[-1], Verdict.OK) if walk.failure is None else None
    if crossing is not None:  # where the page that answered lives (none answered on a failure)
        findings.append(crossing)
    return findings


def retry_after_s(hop: Hop) -> float | None:
    """The wait a response's Retry-After asks for, in seconds: delay-seconds or an HTTP date
    (counted from the response's Date when it has one, as RFC 9110 says); None without one."""
    value = hop.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
        sent = parsedate_to_datetime(hop.headers["date"]) if "date" in hop.headers else None
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None  # not an HTTP date (those are GMT)
    now = sent if sent is not None and sent.tzinfo is not None else datetime.now(UTC)
    return max((when - now).total_seconds(), 0.0)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _result(target: Url, walk: Walk, outcome: Outcome, started: Stopwatch) -> HttpCheckResult:
    hops = walk.hops
    # The request in flight when the walk failed: its completed phases are kept, as curl does, and
    # its response when the head came and the body did not (`Progress`).
    progress = walk.progress if walk.failure is not None else None
    shown: Hop | None = progress.hop if progress is not None and progress.hop is not None else None
    last: Hop | None = shown or (hops[-1] if hops else None)
    total = outcome.total_ms
    fields: dict[str, Any] = {"url": target.redacted, "timings_ms": HttpTimings(total=total)}
    if last is not None:
        done = hops if shown is not None else hops[:-1]
        redirects = [RedirectHop(url=h.url, status_code=h.status_code, location=h.location) for h in done]
        if walk.failure is not None and shown is None and last.location is not None:
            redirects.append(RedirectHop(url=last.url, status_code=last.status_code, location=last.location))
        fields.update(
            final_url=last.url,
            status_code=last.status_code,
            reason=last.reason,
            http_version=last.http_version,
            remote_ip=last.remote_ip,
            redirect_count=len(redirects),
            redirects=redirects,
            headers={name: last.headers[name] for name in SELECTED_HEADERS if name in last.headers},
            body_bytes=progress.body_bytes if shown is not None and progress is not None else len(last.body),
            body_truncated=last.body_truncated,
            tls=last.tls,
            assertions=outcome.assertions,
            timings_ms=HttpTimings(
                dns=last.dns_ms,
                connect=last.connect_ms,
                tls=last.tls_ms,
                ttfb=last.ttfb_ms,
                transfer=last.transfer_ms,
                redirects=round(sum(h.elapsed_ms for h in done), 2),
                total=total,
            ),
        )
    if progress is not None and shown is None:
        fields["timings_ms"] = HttpTimings(
            **progress.phases(), redirects=round(sum(h.elapsed_ms for h in hops), 2), total=total
        )
    return HttpCheckResult.build(
        summary=outcome.summary, findings=outcome.findings, started=started, **fields
    )
