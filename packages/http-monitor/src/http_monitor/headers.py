"""Security headers of a host's page, graded as the MDN HTTP Observatory grades them.

What is fetched is what the Observatory's scanner fetches for a host (`observatory.Inputs`):

1. the https and the http URL of the host and path, each following up to 10 redirects. For an
   https URL the http one is `http://host/path` (port 80), for an http URL the https one is
   `https://host/path` (port 443) when the URL names no port, else the first https hop of its
   redirect chain on the same host. The URL asked for must answer (else the result is its
   failure, as `http_check` would report it); the other one not answering is a finding of the
   redirection or HSTS test, as for the scanner. A chain stopped by a certificate that does not
   verify is fetched again without verifying, as the scanner does: the page is graded, the HSTS
   or redirection test fails for it (`tls_invalid`), and the certificate failure is a finding;
2. the page graded: the last response of the https chain when https answered, else of the http
   chain, its body read up to the context's cap for `<meta>` policies and `<script>` tags;
3. a CORS preflight (`OPTIONS` with the scanner's `Origin`) to that page's URL.

The scoring is `observatory.score_page`. Each failing test gives one finding whose code names
the test's family of results (`FAMILIES`), with a severity in proportion to the points it cost:
40 or more critical, 20 or more warning, less ok. Like the scanner, a page whose status is not
2xx, 3xx, 401 or 403 is not graded.
"""

from __future__ import annotations

import re
import time
from ipaddress import IPv6Address
from typing import TYPE_CHECKING, Final

import anyio
from monitor_common.errors import PolicyError
from monitor_common.findings import VERSION_BANNER
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import DEFAULT_PORTS, Url, parse_url

from http_monitor.exchange import Walk, timeout_finding
from http_monitor.models import HttpSecurityHeadersResult, ObservatoryTest
from http_monitor.observatory import CORS_ORIGIN, RULES, Inputs, Outcome, Response, score_page
from http_monitor.session import Session
from http_monitor.tls import check_trust

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

    from http_monitor.exchange import Hop

__all__ = ["FAMILIES", "findings_for", "http_security_headers", "reflects_any_origin"]

MAX_REDIRECTS = 10  # the scanner's
_GRADED_STATUSES = (401, 403)
_VERSION = re.compile(r"\d+\.\d+")
_BANNERS = ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version")

# result prefix -> (finding code, hint). One code per test and kind of failure.
FAMILIES: Final[dict[str, tuple[str, str]]] = {
    "csp-not-implemented": (
        "csp_missing",
        "send a Content-Security-Policy header; start with default-src 'self' and widen as needed",
    ),
    "csp-header-invalid": (
        "csp_invalid",
        "fix the policy: no repeated directive, 'strict-dynamic' only with a nonce or hash",
    ),
    "csp-implemented-with-": (
        "csp_unsafe",
        "drop 'unsafe-inline' / 'unsafe-eval' and http: sources; use nonces or hashes",
    ),
    "cookies-": (
        "cookie_flags_missing",
        "set Secure on every cookie, HttpOnly on session cookies, SameSite=Lax or Strict",
    ),
    "cross-origin-resource-sharing-": (
        "cors_universal_access",
        "do not reflect any Origin together with Access-Control-Allow-Credentials: true",
    ),
    "redirection-invalid-cert": (
        "tls_invalid",
        "serve a certificate that verifies for this name (ssl-monitor's cert_check says why not)",
    ),
    "hsts-invalid-cert": (
        "tls_invalid",
        "serve a certificate that verifies for this name (ssl-monitor's cert_check says why not)",
    ),
    "redirection-missing": (
        "redirect_no_https_upgrade",
        "redirect http:// to https:// on the same host with a 301",
    ),
    "redirection-not-to-https": (
        "redirect_no_https_upgrade",
        "redirect http:// to https:// on the same host with a 301",
    ),
    "redirection-": (
        "redirect_https_not_first",
        "make the first redirect go to https:// on the same host, then redirect elsewhere",
    ),
    "referrer-policy-": (
        "referrer_policy_unsafe",
        "send Referrer-Policy: strict-origin-when-cross-origin (or stricter)",
    ),
    "hsts-not-implemented": (
        "hsts_missing",
        "serve https and send Strict-Transport-Security: max-age=63072000 from it",
    ),
    "hsts-": (
        "hsts_weak",
        "send one Strict-Transport-Security header with max-age of at least 15552000 (180 days)",
    ),
    "sri-": (
        "sri_missing",
        "load third-party scripts over https with integrity= and crossorigin= attributes",
    ),
    "x-content-type-options-": ("nosniff_missing", "send X-Content-Type-Options: nosniff"),
    "x-frame-options-": (
        "framing_unprotected",
        "send CSP frame-ancestors 'self' (or X-Frame-Options: DENY / SAMEORIGIN)",
    ),
    "corp-": (
        "corp_invalid",
        "send Cross-Origin-Resource-Policy: same-origin, same-site or cross-origin",
    ),
}


def findings_for(tests: list[Outcome]) -> list[Finding]:
    """One finding per test that cost points."""
    findings: list[Finding] = []
    for test in tests:
        if test.modifier >= 0:
            continue
        code, hint = next(value for prefix, value in FAMILIES.items() if test.result.startswith(prefix))
        severity = (
            Verdict.CRITICAL
            if test.modifier <= -40
            else Verdict.WARNING
            if test.modifier <= -20
            else Verdict.OK
        )
        detail = f": {test.data}" if test.data else ""
        findings.append(
            Finding(
                severity=severity,
                code=code,
                message=f"{test.test}: {test.result} ({test.modifier}){detail}"[:300],
                hint=hint,
            )
        )
    return findings


def reflects_any_origin(preflight: Response) -> bool:
    """The preflight of a foreign origin was allowed with credentials: any site can read the
    page as the visitor (the Observatory's universal access, -50, which its scanner never finds)."""
    allowed = preflight.first("access-control-allow-origin")
    credentials = (preflight.first("access-control-allow-credentials") or "").strip().lower()
    return allowed == CORS_ORIGIN and credentials == "true"


def _cert_failed(walker: Walk) -> bool:
    """The chain stopped at a certificate that did not verify (not at another TLS failure)."""
    failure = walker.failure
    return (
        failure is not None
        and failure.code == "tls_invalid"
        and "certificate verification failed" in failure.message
    )


def _response(hop: Hop) -> Response:
    pairs = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in hop.headers.raw]
    return Response(url=hop.url, status=hop.status_code, headers=pairs)


def _answered(walk: Walk | None) -> Response | None:
    """The last response of a chain that ended on one; None when it did not connect or broke off."""
    if walk is None or walk.failure is not None or not walk.hops:
        return None
    return _response(walk.hops[-1])


def _other_url(target: Url, http_walk: Walk | None) -> str | None:
    """The https URL for an http one (or the http URL for an https one), as module rule 1 says."""
    host = f"[{target.host}]" if isinstance(target.ip, IPv6Address) else target.host
    if target.scheme == "https":
        return f"http://{host}{target.path_and_query}"
    if target.port == DEFAULT_PORTS["http"]:
        return f"https://{host}{target.path_and_query}"
    for hop in http_walk.hops[1:] if http_walk else []:
        parts = parse_url(hop.url)
        if parts.scheme == "https" and parts.host == target.host:
            return hop.url
    return None


class _Fetch:
    """The chains the scanner fetches for a host (module rules 1 to 3), within one deadline."""

    def __init__(self, ctx: CheckContext, target: Url, session: Session, timeout_s: float) -> None:
        self.ctx, self.target, self.session = ctx, target, session
        self.end = time.perf_counter() + timeout_s
        self.https = target.scheme == "https"
        self.given, self.given_url = self.walk(), target.geturl()
        self.derived = self.walk()
        self.derived_url: str | None = None
        self.cors: Walk | None = None
        self.unverified: Session | None = None
        self.cert_failures: list[Finding] = []
        self.verified = {"https": True, "http": True}
        self.retried: list[Walk] = []

    @property
    def chains(self) -> tuple[Walk, Walk]:
        """(https chain, http chain)."""
        return (self.given, self.derived) if self.https else (self.derived, self.given)

    @property
    def auto(self) -> Walk:
        """The chain whose page is graded: https when it answered, else http."""
        https_walk, http_walk = self.chains
        return https_walk if _answered(https_walk) else http_walk

    def walk(
        self, method: str = "GET", headers: dict[str, str] | None = None, on: Session | None = None
    ) -> Walk:
        return Walk(
            on or self.session,
            method=method,
            headers=headers or {},
            max_redirects=MAX_REDIRECTS,
            timeout=max(self.end - time.perf_counter(), 0.001),
            body_cap=self.ctx.body_cap,
            read_body=method == "GET",
        )

    @staticmethod
    async def _other(walker: Walk, where: str | None) -> None:
        """Run a chain the caller did not name: a refusal there is a chain that did not answer."""
        if where is None:
            return
        try:
            await walker.run(where)
        except PolicyError:
            walker.hops.clear()

    async def run(self) -> None:
        if self.https:
            self.derived_url = _other_url(self.target, None)
            refused: PolicyError | None = None
            async with anyio.create_task_group() as group:
                group.start_soon(self._other, self.derived, self.derived_url)
                try:
                    await self.given.run(self.given_url)
                except PolicyError as exc:  # raised as itself, not in an exception group
                    refused = exc
                    group.cancel_scope.cancel()
            if refused is not None:
                raise refused
        else:
            await self.given.run(self.given_url)
            self.derived_url = _other_url(self.target, self.given)
            await self._other(self.derived, self.derived_url)
        self.given = await self._verified_or_again(self.given, self.given_url)
        self.derived = await self._verified_or_again(self.derived, self.derived_url)
        auto = self.auto
        if _answered(self.given) and _answered(auto):
            self.cors = self.walk(
                method="OPTIONS",
                headers={"Origin": CORS_ORIGIN, "Access-Control-Request-Method": "GET"},
                on=self.unverified if any(auto is w for w in self.retried) else None,
            )
            await self._other(self.cors, auto.hops[-1].url)

    async def _verified_or_again(self, walker: Walk, where: str | None) -> Walk:
        """Like the scanner, a chain stopped by a certificate that did not verify is fetched again
        without verifying; the tests that need a valid certificate then fail for it."""
        if where is None or walker.failure is None or not _cert_failed(walker):
            return walker
        self.cert_failures.append(walker.failure)
        self.unverified = self.unverified or Session.fresh(self.ctx, verify_tls=False)
        again = self.walk(on=self.unverified)
        await self._other(again, where)
        self.verified["https" if where.startswith("https:") else "http"] = False
        self.retried.append(again)
        return again

    async def aclose(self) -> None:
        await self.session.aclose()
        if self.unverified is not None:
            await self.unverified.aclose()


async def http_security_headers(
    url: str,
    ctx: CheckContext,
    *,
    timeout_s: float = 10.0,
    verify_tls: bool = True,
    ca_bundle_pem: str | None = None,
    observatory_version: str | None = None,
) -> HttpSecurityHeadersResult:
    """Grade the security headers of `url`'s host and page with the MDN HTTP Observatory's rules.

    `observatory_version` picks an older release's rules from `observatory.RULES` (the tests use
    it to compare with the scanner they can install); the default is the current release.
    """
    started = Stopwatch()
    target = parse_url(url)
    rules = RULES[observatory_version] if observatory_version else None
    check_trust(verify_tls, ca_bundle_pem)
    fetch = _Fetch(
        ctx, target, Session.fresh(ctx, verify_tls=verify_tls, ca_bundle_pem=ca_bundle_pem), timeout_s
    )
    try:
        with anyio.move_on_after(timeout_s + 0.5) as deadline:
            await fetch.run()
    finally:
        with anyio.CancelScope(shield=True):
            await fetch.aclose()
    given = fetch.given
    if deadline.cancelled_caught and given.failure is None:
        given.failure = timeout_finding(given.phase, timeout_s, given.current_url or target.redacted)
    if given.failure is not None or not given.hops:
        failure = given.failure or timeout_finding(given.phase, timeout_s, target.redacted)
        return HttpSecurityHeadersResult.build(
            summary=f"{failure.severity.value}: {target.redacted}: {failure.message}",
            findings=[failure],
            started=started,
            url=target.redacted,
        )
    https_walk, http_walk = fetch.chains
    auto_walk = fetch.auto
    page = auto_walk.hops[-1]
    if not (200 <= page.status_code < 400 or page.status_code in _GRADED_STATUSES):
        finding = Finding(
            severity=Verdict.WARNING,
            code="security_headers_ungraded",
            message=f"{page.url} answered {page.status_code}: only 2xx, 3xx, 401 and 403 pages are graded",
            hint="grade a URL that answers 200",
        )
        return HttpSecurityHeadersResult.build(
            summary=f"warning: {finding.message}",
            findings=[finding],
            started=started,
            url=target.redacted,
            final_url=page.url,
            status_code=page.status_code,
        )
    inputs = Inputs(
        host=target.host,
        auto=_response(page),
        session_https=auto_walk is https_walk,
        https_verified=fetch.verified["https"],
        http_verified=fetch.verified["http"],
        https=_answered(https_walk),
        http=_answered(http_walk),
        http_route=[(hop.url, hop.status_code) for hop in http_walk.hops]
        if http_walk and _answered(http_walk)
        else [],
        cookies=[(hop.url, value) for hop in auto_walk.hops for value in hop.headers.get_list("set-cookie")],
        body=page.body.decode("utf-8", "replace"),
        cors=_answered(fetch.cors),
    )
    report = score_page(inputs, rules)
    findings = [*fetch.cert_failures, *findings_for(report.tests)]
    if report.score < 65:
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="security_headers_poor",
                message=f"security grade {report.grade} ({report.score}/100)",
                hint="fix the findings that cost the most points first",
            )
        )
    if inputs.cors and reflects_any_origin(inputs.cors):
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="cors_universal_access",
                message=f"the CORS preflight from {CORS_ORIGIN} is allowed with credentials (not scored:"
                " the Observatory's scanner misses it)",
                hint=FAMILIES["cross-origin-resource-sharing-"][1],
            )
        )
    for name in _BANNERS:
        banner = inputs.auto.first(name) if inputs.auto else None
        if banner and _VERSION.search(banner):
            findings.append(
                VERSION_BANNER.finding(f"{name}: {banner} reveals a software version (not scored)")
            )
    failed = [t.test for t in report.tests if not t.passed]
    summary = f"grade {report.grade} ({report.score}/100) for {page.url}"
    if failed:
        summary += f"; failed: {', '.join(failed)}"
    verdict = Verdict.worst([f.severity for f in findings])
    return HttpSecurityHeadersResult.build(
        summary=f"{verdict.value}: {summary}",
        findings=findings,
        started=started,
        url=target.redacted,
        final_url=page.url,
        status_code=page.status_code,
        grade=report.grade,
        score=report.score,
        tests=[
            ObservatoryTest(test=t.test, result=t.result, passed=t.passed, modifier=t.modifier, data=t.data)
            for t in report.tests
        ],
    )
