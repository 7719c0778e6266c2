"""The Observatory's scoring rules, test by test, as tables (the scanner cross-check is tests/peers)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from http_monitor.headers import findings_for
from http_monitor.observatory import RULES, Inputs, Response, grade_for, score_page
from support.http_server import HttpServer

HOST = "www.example.org"
URL = f"https://{HOST}/"
GOOD = [
    ("content-security-policy", "default-src 'none'; script-src 'self'; frame-ancestors 'none'"),
    ("strict-transport-security", "max-age=63072000"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-resource-policy", "same-site"),
    ("content-type", "text/html"),
]
UPGRADE = [(f"http://{HOST}/", 301), (URL, 200)]


def page(
    headers: list[tuple[str, str]],
    *,
    body: str = "",
    route: list[tuple[str, int]] | None = None,
    https: bool = True,
    cors: list[tuple[str, str]] | None = None,
) -> Inputs:
    auto = Response(URL if https else f"http://{HOST}/", 200, headers)
    route = UPGRADE if route is None else route
    return Inputs(
        host=HOST,
        auto=auto,
        session_https=https,
        https=auto if https else None,
        http=Response(route[-1][0], route[-1][1], []) if route else None,
        http_route=route,
        cookies=[(auto.url, value) for name, value in headers if name == "set-cookie"],
        body=body,
        cors=Response(URL, 204, cors) if cors is not None else None,
    )


def result(inputs: Inputs, test: str, version: str = "1.6.3") -> str:
    return next(t.result for t in score_page(inputs, RULES[version]).tests if t.test == test)


def replaced(name: str, value: str | None) -> list[tuple[str, str]]:
    kept = [(k, v) for k, v in GOOD if k != name]
    return kept if value is None else [*kept, (name, value)]


@pytest.mark.parametrize(
    ("score", "grade"),
    [(140, "A+"), (100, "A+"), (99, "A"), (90, "A"), (89, "A-"), (85, "A-"), (84, "B+"), (80, "B+"),
     (79, "B"), (70, "B"), (69, "B-"), (65, "B-"), (64, "C+"), (60, "C+"), (59, "C"), (50, "C"),
     (49, "C-"), (45, "C-"), (44, "D+"), (40, "D+"), (39, "D"), (30, "D"), (29, "D-"), (25, "D-"),
     (24, "F"), (0, "F")],
)  # fmt: skip
def test_grade_boundaries(score: int, grade: str) -> None:
    assert grade_for(score) == grade


def test_bonuses_count_only_from_90() -> None:
    # GOOD earns CSP +10, referrer +5, XFO via CSP +5, CORP +10: 130.
    assert score_page(page(GOOD)).score == 130
    # Losing 10 (90 before bonuses) keeps the bonuses; losing 20 (80) loses all of them.
    assert score_page(page(replaced("strict-transport-security", "max-age=60"))).score == 120
    short_hsts = replaced("strict-transport-security", "max-age=60")
    no_nosniff = [(k, v) for k, v in short_hsts if k != "x-content-type-options"]
    assert score_page(page(no_nosniff)).score == 85  # -10 -5: 85 before bonuses, so none
    assert score_page(page([], route=[(f"http://{HOST}/", 200)])).score == 10
    bare = page([("set-cookie", "sessionid=1")], route=[(f"http://{HOST}/", 200)])
    assert (score_page(bare).score, score_page(bare).grade) == (0, "F")  # -30, never below 0


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (None, "csp-not-implemented"),
        ("default-src 'none'", "csp-implemented-with-no-unsafe-default-src-none"),
        ("default-src 'self'", "csp-implemented-with-no-unsafe"),
        ("default-src 'self'; style-src 'self' 'unsafe-inline'", "csp-implemented-with-unsafe-inline-in-style-src-only"),
        ("default-src 'self'; img-src http:", "csp-implemented-with-insecure-scheme-in-passive-content-only"),
        ("default-src 'self'; script-src 'self' 'unsafe-eval'", "csp-implemented-with-unsafe-eval"),
        ("default-src 'self' 'unsafe-inline'", "csp-implemented-with-unsafe-inline"),
        ("default-src 'self'; object-src *", "csp-implemented-with-unsafe-inline"),
        ("default-src 'self'; script-src http://cdn.example.org", "csp-implemented-with-insecure-scheme"),
        ("default-src 'self'; default-src 'none'", "csp-header-invalid"),
        ("img", "csp-header-invalid"),
        ("script-src 'strict-dynamic'", "csp-header-invalid"),
        ("default-src 'self'; script-src 'nonce-x' 'strict-dynamic' 'unsafe-inline' https:", "csp-implemented-with-no-unsafe"),
        ("default-src 'self'; script-src 'sha256-x' 'unsafe-inline'", "csp-implemented-with-no-unsafe"),
        # Without default-src, style-src allows anything.
        ("script-src 'sha256-x'; object-src 'none'", "csp-implemented-with-unsafe-inline-in-style-src-only"),
        ("default-src 'self'; report-uri /a; report-uri /b", "csp-implemented-but-duplicate-directives"),
        ("default-src 'self', script-src 'unsafe-inline'", "csp-implemented-with-no-unsafe"),
    ],
)  # fmt: skip
def test_csp(policy: str | None, expected: str) -> None:
    assert result(page(replaced("content-security-policy", policy)), "content-security-policy") == expected


def test_csp_commas_and_reporting() -> None:
    two = [
        ("content-security-policy", "default-src 'self'"),
        ("content-security-policy", "default-src 'none'"),
    ]
    # Since 1.6.2 two headers are two policies, and the second narrows the first to 'none'; 1.4.8
    # read the one string Node joins them into as one policy with odd sources.
    assert result(page(two), "content-security-policy") == "csp-implemented-with-no-unsafe-default-src-none"
    assert result(page(two), "content-security-policy", "1.4.8") == "csp-implemented-with-no-unsafe"
    only_report = [("content-security-policy-report-only", "default-src 'none'")]
    assert result(page(only_report), "content-security-policy") == "csp-not-implemented-but-reporting-enabled"
    meta = "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'\">"
    assert result(page([("content-type", "text/html")], body=meta), "content-security-policy") == (
        "csp-implemented-with-no-unsafe-default-src-none"
    )
    # frame-ancestors may not be set from <meta>, but the framing test still sees it there.
    framed = "<meta http-equiv='Content-Security-Policy' content=\"frame-ancestors 'none'\">"
    inputs = page([("content-type", "text/html")], body=framed)
    assert result(inputs, "content-security-policy") == "csp-not-implemented"


@pytest.mark.parametrize(
    ("hsts", "https", "expected"),
    [
        ("max-age=15552000", True, "hsts-implemented-max-age-at-least-six-months"),
        ("max-age=15551999; includeSubDomains", True, "hsts-implemented-max-age-less-than-six-months"),
        ("max-age=abc", True, "hsts-implemented-max-age-at-least-six-months"),  # the scanner's NaN
        ("includeSubDomains", True, "hsts-header-invalid"),
        ("max-age = 31536000", True, "hsts-header-invalid"),
        ("max-age=31536000, max-age=31536000", True, "hsts-header-invalid"),
        (None, True, "hsts-not-implemented"),
        ("max-age=31536000", False, "hsts-not-implemented-no-https"),
    ],
)
def test_hsts(hsts: str | None, https: bool, expected: str) -> None:
    inputs = page(replaced("strict-transport-security", hsts), https=https)
    assert result(inputs, "strict-transport-security") == expected


def test_unverified_certificates() -> None:
    inputs = page(GOOD)
    inputs.https_verified = inputs.http_verified = False
    assert result(inputs, "strict-transport-security") == "hsts-invalid-cert"
    assert result(inputs, "redirection") == "redirection-invalid-cert"
    codes = [f.code for f in findings_for(score_page(inputs).tests)]
    assert codes == ["tls_invalid", "tls_invalid"]


@pytest.mark.parametrize(
    ("cookies", "hsts", "expected"),
    [
        ([], True, "cookies-not-found"),
        (["a=1; Secure; SameSite=Lax"], True, "cookies-secure-with-httponly-sessions-and-samesite"),
        (["a=1; Secure"], True, "cookies-secure-with-httponly-sessions"),
        (["a=1"], True, "cookies-without-secure-flag-but-protected-by-hsts"),
        (["a=1"], False, "cookies-without-secure-flag"),
        (["sessionid=1; HttpOnly"], True, "cookies-session-without-secure-flag-but-protected-by-hsts"),
        (["sessionid=1; HttpOnly"], False, "cookies-session-without-secure-flag"),
        (["login=1; Secure"], True, "cookies-session-without-httponly-flag"),
        (["csrftoken=1; Secure"], True, "cookies-anticsrf-without-samesite-flag"),
        (["a=1; Secure; SameSite=Bogus"], True, "cookies-samesite-flag-invalid"),
        (["a=1; SameSite=None"], True, "cookies-samesite-flag-invalid"),
        (["__Secure-a=1"], True, "cookies-not-found"),  # the jar refuses it
        (["__Host-a=1; Secure; Path=/; Domain=example.org"], True, "cookies-not-found"),
        (["a=1; Secure; Domain=other.example"], True, "cookies-not-found"),
        (["heroku-session-affinity=1"], True, "cookies-not-found"),
        (["a=1; Secure; SameSite=Lax", "sess=1; Secure"], True, "cookies-session-without-httponly-flag"),
    ],
)
def test_cookies(cookies: list[str], hsts: bool, expected: str) -> None:
    headers = replaced("strict-transport-security", None if not hsts else "max-age=31536000")
    assert result(page(headers + [("set-cookie", c) for c in cookies]), "cookies") == expected


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        (UPGRADE, "redirection-to-https"),
        ([], "redirection-not-needed-no-http"),
        ([(f"http://{HOST}/", 200)], "redirection-missing"),
        ([(f"http://{HOST}/", 301), (f"http://{HOST}/x", 200)], "redirection-not-to-https"),
        ([(f"http://{HOST}/", 301), (f"http://{HOST}/x", 301), (URL, 200)], "redirection-not-to-https-on-initial-redirection"),
        ([(f"http://{HOST}/", 301), ("https://example.org/", 200)], "redirection-off-host-from-http"),
    ],
)  # fmt: skip
def test_redirection(route: list[tuple[str, int]], expected: str) -> None:
    assert result(page(GOOD, route=route), "redirection") == expected


@pytest.mark.parametrize(
    ("header", "meta", "expected"),
    [
        (None, None, "referrer-policy-not-implemented"),
        ("strict-origin-when-cross-origin", None, "referrer-policy-private"),
        ("no-referrer, unsafe-url", None, "referrer-policy-unsafe"),
        ("unsafe-url, bogus", None, "referrer-policy-unsafe"),
        ("bogus", None, "referrer-policy-header-invalid"),
        (None, "same-origin", "referrer-policy-private"),
        ("same-origin", "origin", "referrer-policy-unsafe"),  # the meta tag comes last
    ],
)
def test_referrer(header: str | None, meta: str | None, expected: str) -> None:
    body = f'<meta name="referrer" content="{meta}">' if meta else ""
    assert result(page(replaced("referrer-policy", header), body=body), "referrer-policy") == expected


@pytest.mark.parametrize(
    ("scripts", "expected"),
    [
        ("", "sri-not-implemented-but-no-scripts-loaded"),
        ('<script src="/a.js"></script>', "sri-not-implemented-but-all-scripts-loaded-from-secure-origin"),
        ('<script src="https://static.example.org/a.js"></script>', "sri-not-implemented-but-all-scripts-loaded-from-secure-origin"),
        ('<script src="/a.js" integrity="sha384-x"></script>', "sri-implemented-and-all-scripts-loaded-securely"),
        ('<script src="https://cdn.example.net/a.js" integrity="sha384-x"></script>', "sri-implemented-and-external-scripts-loaded-securely"),
        ('<script src="https://cdn.example.net/a.js"></script>', "sri-not-implemented-but-external-scripts-loaded-securely"),
        ('<script src="//cdn.example.net/a.js" integrity="sha384-x"></script>', "sri-implemented-but-external-scripts-not-loaded-securely"),
        ('<script src="http://cdn.example.net/a.js"></script>', "sri-not-implemented-and-external-scripts-not-loaded-securely"),
        ('<SCRIPT SRC="http://cdn.example.net/a.js"></SCRIPT>', "sri-not-implemented-and-external-scripts-not-loaded-securely"),
    ],
)  # fmt: skip
def test_sri(scripts: str, expected: str) -> None:
    assert (
        result(page(GOOD, body=f"<html><head>{scripts}</head></html>"), "subresource-integrity") == expected
    )


def test_sri_needs_html() -> None:
    foreign = '<script src="http://cdn.example.net/a.js"></script>'
    typed = page(replaced("content-type", "application/json"), body=foreign)
    assert result(typed, "subresource-integrity") == "sri-not-implemented-response-not-html"
    untyped = page(replaced("content-type", None), body=foreign)
    assert (
        result(untyped, "subresource-integrity")
        == "sri-not-implemented-and-external-scripts-not-loaded-securely"
    )
    assert result(untyped, "subresource-integrity", "1.4.8") == "sri-not-implemented-response-not-html"


@pytest.mark.parametrize(
    ("test", "name", "value", "expected"),
    [
        ("x-content-type-options", "x-content-type-options", None, "x-content-type-options-not-implemented"),
        ("x-content-type-options", "x-content-type-options", " NoSniff ", "x-content-type-options-nosniff"),
        ("x-content-type-options", "x-content-type-options", "nosniff, nosniff", "x-content-type-options-header-invalid"),
        ("cross-origin-resource-policy", "cross-origin-resource-policy", None, "corp-not-implemented"),
        ("cross-origin-resource-policy", "cross-origin-resource-policy", "same-origin", "corp-implemented-with-same-origin"),
        ("cross-origin-resource-policy", "cross-origin-resource-policy", "cross-origin", "corp-implemented-with-cross-origin"),
        ("cross-origin-resource-policy", "cross-origin-resource-policy", "none", "corp-header-invalid"),
    ],
)  # fmt: skip
def test_simple_headers(test: str, name: str, value: str | None, expected: str) -> None:
    assert result(page(replaced(name, value)), test) == expected


@pytest.mark.parametrize(
    ("csp", "xfo", "expected", "modifier_148"),
    [
        ("default-src 'self'", None, "x-frame-options-not-implemented", -20),
        ("default-src 'self'", "DENY", "x-frame-options-sameorigin-or-deny", 0),
        ("default-src 'self'", "ALLOW-FROM https://a.example", "x-frame-options-allow-from-origin", 0),
        ("default-src 'self'", "bogus", "x-frame-options-header-invalid", -20),
        ("default-src 'self'; frame-ancestors *", "bogus", "x-frame-options-implemented-via-csp", 5),
    ],
)
def test_framing(csp: str, xfo: str | None, expected: str, modifier_148: int) -> None:
    headers = [*replaced("content-security-policy", csp), *([("x-frame-options", xfo)] if xfo else [])]
    assert result(page(headers), "x-frame-options") == expected
    old = next(t for t in score_page(page(headers), RULES["1.4.8"]).tests if t.test == "x-frame-options")
    assert old.modifier == modifier_148


def test_cors() -> None:
    assert (
        result(page(GOOD), "cross-origin-resource-sharing") == "cross-origin-resource-sharing-not-implemented"
    )
    public = page(GOOD, cors=[("access-control-allow-origin", "*")])
    assert (
        result(public, "cross-origin-resource-sharing")
        == "cross-origin-resource-sharing-implemented-with-public-access"
    )
    # The scanner never sees its own Origin, so a reflected one with credentials is "restricted".
    reflected = page(
        GOOD,
        cors=[
            ("access-control-allow-origin", "https://http-observatory.security.mozilla.org"),
            ("access-control-allow-credentials", "true"),
        ],
    )
    assert result(reflected, "cross-origin-resource-sharing") == (
        "cross-origin-resource-sharing-implemented-with-restricted-access"
    )


def test_findings_per_family() -> None:
    weak = page(
        [("content-security-policy", "default-src 'self' 'unsafe-inline'"), ("set-cookie", "sessionid=1")],
        body='<script src="http://cdn.example.net/a.js"></script>',
        route=[(f"http://{HOST}/", 200)],
        https=True,
    )
    weak.https = None
    found = {f.code: f.severity.value for f in findings_for(score_page(weak).tests)}
    assert found == {
        "csp_unsafe": "warning",  # -20
        "cookie_flags_missing": "critical",  # -40: session cookie without Secure
        "redirect_no_https_upgrade": "warning",  # -20
        "hsts_missing": "warning",  # -20
        "sri_missing": "critical",  # -50
        "nosniff_missing": "ok",  # -5
        "framing_unprotected": "warning",  # -20
    }
    assert findings_for(score_page(page(GOOD)).tests) == []


@pytest.mark.usefixtures("allow_loopback")
async def test_over_mcp_the_grade_and_every_test(http_server: HttpServer) -> None:
    from http_monitor.server import mcp
    from mcp import Client

    url = http_server.url_for(
        "/text?content_type=text/html&body=" + quote('<script src="http://cdn.example.net/a.js"></script>')
    )
    async with Client(mcp) as client:
        result = await client.call_tool("http_security_headers", {"url": url})
    assert not result.is_error and result.structured_content is not None
    found = result.structured_content
    # -25 CSP, -20 redirection, -20 HSTS, -50 SRI (a script over http), -5 nosniff, -20 framing.
    assert (found["grade"], found["score"], found["verdict"]) == ("F", 0, "critical")
    assert [t["test"] for t in found["tests"]] == [
        "content-security-policy", "cookies", "cross-origin-resource-sharing", "redirection",
        "referrer-policy", "strict-transport-security", "subresource-integrity",
        "x-content-type-options", "x-frame-options", "cross-origin-resource-policy",
    ]  # fmt: skip
    sri = next(t for t in found["tests"] if t["test"] == "subresource-integrity")
    assert sri == {
        "test": "subresource-integrity",
        "result": "sri-not-implemented-and-external-scripts-not-loaded-securely",
        "passed": False,
        "modifier": -50,
        "data": "http://cdn.example.net/a.js",
    }
    assert {f["code"]: f["severity"] for f in found["findings"]}["sri_missing"] == "critical"
