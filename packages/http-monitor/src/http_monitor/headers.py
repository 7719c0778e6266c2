"""Security headers of a page, graded A to F with a reason for every point lost.

The final response (after redirects) is judged. Points out of 100:

    Strict-Transport-Security   25  (https only; max-age >= 180 days; http pages lose them all)
    Content-Security-Policy     25  (10 back when present but with 'unsafe-inline' / 'unsafe-eval')
    framing protection          15  (X-Frame-Options DENY/SAMEORIGIN or CSP frame-ancestors)
    X-Content-Type-Options      10  (nosniff)
    Referrer-Policy             10  (anything but unsafe-url / no-referrer-when-downgrade)
    Permissions-Policy           5
    cookies                     10  (each Set-Cookie with Secure on https, HttpOnly, SameSite)
    version banners             -5 each (Server / X-Powered-By / X-AspNet-Version with a version)

Grades: A >= 90, B >= 75, C >= 60, D >= 45, E >= 30, F below. Grades C and worse are warnings.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import anyio
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_url

from http_monitor.exchange import Walk, timeout_finding
from http_monitor.models import HeaderCheck, HttpSecurityHeadersResult
from http_monitor.session import Session
from http_monitor.tls import check_trust

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["grade", "http_security_headers", "judge_headers"]

HSTS_MIN_AGE = 180 * 86400
_VERSION = re.compile(r"\d+\.\d+")
_GRADES = ((90, "A"), (75, "B"), (60, "C"), (45, "D"), (30, "E"))
_BANNERS = ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version")
_MAJOR = ("Strict-Transport-Security", "Content-Security-Policy")


def grade(score: int) -> str:
    return next((letter for floor, letter in _GRADES if score >= floor), "F")


def _hsts(value: str | None, https: bool) -> tuple[int, HeaderCheck]:
    name = "Strict-Transport-Security"
    if not https:
        return 0, HeaderCheck(
            name=name, passed=False, note="plain http: HSTS needs https, so the page is unprotected"
        )
    if value is None:
        return 0, HeaderCheck(name=name, passed=False, note="missing: browsers may be downgraded to http")
    directives = {
        part.strip().split("=")[0].lower(): part.strip() for part in value.split(";") if part.strip()
    }
    match = re.search(r"max-age\s*=\s*\"?(\d+)", value, re.IGNORECASE)
    age = int(match.group(1)) if match else 0
    flags = [flag for flag in ("includesubdomains", "preload") if flag in directives]
    extra = f" ({', '.join(flags)})" if flags else " (no includeSubDomains, no preload)"
    if age < HSTS_MIN_AGE:
        return 10, HeaderCheck(
            name=name, value=value, passed=False, note=f"max-age {age} s is under 180 days{extra}"
        )
    return 25, HeaderCheck(name=name, value=value, passed=True, note=f"max-age {age // 86400} days{extra}")


def _csp(value: str | None) -> tuple[int, HeaderCheck]:
    name = "Content-Security-Policy"
    if value is None:
        return 0, HeaderCheck(name=name, passed=False, note="missing: nothing limits injected scripts")
    weak = [word for word in ("'unsafe-inline'", "'unsafe-eval'") if word in value.lower()]
    if weak:
        return 10, HeaderCheck(
            name=name, value=value, passed=False, note=f"present but allows {' and '.join(weak)}"
        )
    return 25, HeaderCheck(name=name, value=value, passed=True, note="present")


def _framing(xfo: str | None, csp: str | None) -> tuple[int, HeaderCheck]:
    if csp is not None and "frame-ancestors" in csp.lower():
        return 15, HeaderCheck(name="frame-ancestors", value=csp, passed=True, note="set in the CSP")
    if xfo is not None and xfo.strip().upper() in ("DENY", "SAMEORIGIN"):
        return 15, HeaderCheck(name="X-Frame-Options", value=xfo, passed=True, note=xfo.strip().upper())
    return 0, HeaderCheck(
        name="X-Frame-Options",
        value=xfo,
        passed=False,
        note="no X-Frame-Options DENY/SAMEORIGIN and no CSP frame-ancestors: the page can be framed (clickjacking)",
    )


def judge_headers(
    headers: list[tuple[str, str]], *, https: bool
) -> tuple[int, list[HeaderCheck], list[Finding]]:
    """Score, checks and findings for a response's headers (lower-case names, in order)."""
    first: dict[str, str] = {}
    for key, value in headers:
        first.setdefault(key, value)
    checks: list[HeaderCheck] = []
    score = 0
    for points, check in (
        _hsts(first.get("strict-transport-security"), https),
        _csp(first.get("content-security-policy")),
        _framing(first.get("x-frame-options"), first.get("content-security-policy")),
    ):
        score += points
        checks.append(check)
    nosniff = first.get("x-content-type-options")
    ok = nosniff is not None and nosniff.strip().lower() == "nosniff"
    score += 10 if ok else 0
    checks.append(
        HeaderCheck(
            name="X-Content-Type-Options",
            value=nosniff,
            passed=ok,
            note="nosniff" if ok else "not nosniff: browsers may guess content types",
        )
    )
    referrer = first.get("referrer-policy")
    ok = referrer is not None and referrer.strip().lower() not in (
        "unsafe-url",
        "no-referrer-when-downgrade",
        "",
    )
    score += 10 if ok else 0
    checks.append(
        HeaderCheck(
            name="Referrer-Policy",
            value=referrer,
            passed=ok,
            note=referrer.strip()
            if ok and referrer
            else "missing or leaky: full URLs may leak to other sites",
        )
    )
    permissions = first.get("permissions-policy")
    score += 5 if permissions is not None else 0
    checks.append(
        HeaderCheck(
            name="Permissions-Policy",
            value=permissions,
            passed=permissions is not None,
            note="present"
            if permissions is not None
            else "missing: camera, microphone, geolocation not restricted",
        )
    )
    cookie_points = 10
    for key, value in headers:
        if key != "set-cookie":
            continue
        cookie = value.split("=", 1)[0].strip()
        attributes = {part.strip().split("=")[0].lower() for part in value.split(";")[1:]}
        missing = [
            flag
            for flag, needed in (("Secure", https), ("HttpOnly", True), ("SameSite", True))
            if needed and flag.lower() not in attributes
        ]
        if missing:
            cookie_points = 0
        checks.append(
            HeaderCheck(
                name=f"cookie {cookie}",
                passed=not missing,
                note=f"missing {', '.join(missing)}" if missing else "Secure, HttpOnly and SameSite set",
            )
        )
    score += cookie_points
    findings: list[Finding] = []
    for banner in _BANNERS:
        value = first.get(banner)
        if value is not None and _VERSION.search(value):
            score -= 5
            checks.append(
                HeaderCheck(name=banner, value=value, passed=False, note="reveals a software version")
            )
            findings.append(
                Finding(
                    severity=Verdict.WARNING,
                    code="version_banner",
                    message=f"{banner}: {value} reveals a software version",
                    hint="hide version numbers; they tell attackers which exploits to try",
                )
            )
    for check in checks:
        if check.passed or check.name.lower() in _BANNERS:
            continue
        if check.name.startswith("cookie "):
            code, severity = "cookie_flags_missing", Verdict.WARNING
        else:
            # Missing HSTS or CSP is what a review would flag; the minor headers are noted only.
            code = "security_header_weak"
            severity = Verdict.WARNING if check.name in _MAJOR else Verdict.OK
        findings.append(Finding(severity=severity, code=code, message=f"{check.name}: {check.note}"))
    return max(score, 0), checks, findings


async def http_security_headers(
    url: str,
    ctx: CheckContext,
    *,
    timeout_s: float = 10.0,
    verify_tls: bool = True,
    ca_bundle_pem: str | None = None,
) -> HttpSecurityHeadersResult:
    """Fetch `url` (following redirects) and grade the final response's security headers."""
    started = Stopwatch()
    target = parse_url(url)
    check_trust(verify_tls, ca_bundle_pem)
    session = Session.fresh(ctx, verify_tls=verify_tls, ca_bundle_pem=ca_bundle_pem)
    walk = Walk(session, follow=True, max_redirects=10, timeout=timeout_s, read_body=False)
    try:
        with anyio.move_on_after(timeout_s) as deadline:
            await walk.run(target.geturl())
    finally:
        with anyio.CancelScope(shield=True):
            await session.aclose()
    if deadline.cancelled_caught:
        walk.failure = timeout_finding(walk.phase, timeout_s, walk.current_url)
    if walk.failure is not None or not walk.hops:
        failure = walk.failure or timeout_finding(walk.phase, timeout_s, target.redacted)
        return HttpSecurityHeadersResult.build(
            summary=f"{failure.severity.value}: {target.redacted}: {failure.message}",
            findings=[failure],
            started=started,
            url=target.redacted,
        )
    last = walk.hops[-1]
    pairs = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in last.headers.raw]
    score, checks, findings = judge_headers(pairs, https=parse_url(last.url).scheme == "https")
    letter = grade(score)
    if letter in ("C", "D", "E", "F"):
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="security_headers_poor",
                message=f"security headers grade {letter} ({score}/100)",
                hint="add the missing headers listed in checks",
            )
        )
    lost = [c.name for c in checks if not c.passed]
    summary = f"grade {letter} ({score}/100) for {last.url}"
    if lost:
        summary += f"; weak or missing: {', '.join(lost)}"
    verdict = Verdict.worst([f.severity for f in findings])
    return HttpSecurityHeadersResult.build(
        summary=f"{verdict.value}: {summary}",
        findings=findings,
        started=started,
        url=target.redacted,
        final_url=last.url,
        status_code=last.status_code,
        grade=letter,
        score=score,
        checks=checks,
    )
