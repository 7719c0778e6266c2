"""The MDN HTTP Observatory's scoring, ported: the same ten tests, results, modifiers and grades.

A page starts at 100; each test's result adds its modifier (`MODIFIERS`). Bonuses (positive
modifiers) count only when the score without them is at least 90; the grade is looked up at the
score rounded down to a multiple of 5 (`GRADES`: 100 and more A+, 90 A, 85 A-, 80 B+, ... under 25 F).
Source: mdn/mdn-http-observatory, `src/analyzer/tests/*.js`, `src/grader/charts.js` and
`src/scanner/index.js` of release 1.6.3; `tests/peers/test_observatory.py` runs the published
scanner on local pages and asserts the same score and grade.

Written by hand because the point is to agree with the Observatory to the point, including its
quirks (a `max-age` that is not a number passes the HSTS test, a `frame-ancestors` of any value
counts as framing protection, cookies are judged as a `tough-cookie` jar would keep them). What
differs, and why:

1. The HSTS preload list is not consulted (the scanner downloads Chromium's at install time): a
   preloaded host scores `hsts-implemented-...` where the scanner says `hsts-preloaded` (+5), and
   its redirection test is judged on the chain rather than passed as `redirection-all-redirects-preloaded`.
2. The scanner never finds universal CORS access (see `_cors`); the page gets "restricted".

`RULES` also holds release 1.4.8, the one the test tier can install, which differs in three
places: X-Frame-Options DENY/SAMEORIGIN earned 0 (5 since), CSP headers were not split on commas
(since 1.6.2), and a response without Content-Type was not HTML to the SRI test (since 1.5).
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field, replace
from functools import cache
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from http_monitor._csp import DUPLICATE_KEY, CspError, parse_csp, parse_csp_meta

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

__all__ = [
    "CORS_ORIGIN",
    "GRADES",
    "MODIFIERS",
    "RULES",
    "Inputs",
    "Outcome",
    "Report",
    "Response",
    "Rules",
    "grade_for",
    "score_page",
]

CORS_ORIGIN: Final = "https://http-observatory.security.mozilla.org"
"""The Origin the scanner sends in its CORS preflight; sent the same so servers answer alike."""
_SIX_MONTHS = 15_552_000
_EXTRA_CREDIT_FLOOR = 90
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

MODIFIERS: Final[dict[str, int]] = {
    "csp-implemented-with-no-unsafe-default-src-none": 10,
    "csp-implemented-with-no-unsafe": 5,
    "csp-implemented-with-unsafe-inline-in-style-src-only": 0,
    "csp-implemented-with-insecure-scheme-in-passive-content-only": -10,
    "csp-implemented-with-unsafe-eval": -10,
    "csp-implemented-with-unsafe-inline": -20,
    "csp-implemented-with-insecure-scheme": -20,
    "csp-header-invalid": -25,
    "csp-not-implemented": -25,
    "csp-not-implemented-but-reporting-enabled": -25,
    "csp-implemented-but-duplicate-directives": 0,
    "cookies-secure-with-httponly-sessions-and-samesite": 5,
    "cookies-secure-with-httponly-sessions": 0,
    "cookies-not-found": 0,
    "cookies-without-secure-flag-but-protected-by-hsts": -5,
    "cookies-session-without-secure-flag-but-protected-by-hsts": -10,
    "cookies-without-secure-flag": -20,
    "cookies-samesite-flag-invalid": -20,
    "cookies-anticsrf-without-samesite-flag": -20,
    "cookies-session-without-httponly-flag": -30,
    "cookies-session-without-secure-flag": -40,
    "cross-origin-resource-sharing-not-implemented": 0,
    "cross-origin-resource-sharing-implemented-with-public-access": 0,
    "cross-origin-resource-sharing-implemented-with-restricted-access": 0,
    "cross-origin-resource-sharing-implemented-with-universal-access": -50,
    "redirection-all-redirects-preloaded": 0,
    "redirection-to-https": 0,
    "redirection-not-needed-no-http": 0,
    "redirection-off-host-from-http": -5,
    "redirection-not-to-https-on-initial-redirection": -10,
    "redirection-not-to-https": -20,
    "redirection-missing": -20,
    "redirection-invalid-cert": -20,
    "referrer-policy-private": 5,
    "referrer-policy-not-implemented": 0,
    "referrer-policy-unsafe": -5,
    "referrer-policy-header-invalid": -5,
    "hsts-preloaded": 5,
    "hsts-implemented-max-age-at-least-six-months": 0,
    "hsts-implemented-max-age-less-than-six-months": -10,
    "hsts-not-implemented": -20,
    "hsts-header-invalid": -20,
    "hsts-not-implemented-no-https": -20,
    "hsts-invalid-cert": -20,
    "sri-implemented-and-all-scripts-loaded-securely": 5,
    "sri-implemented-and-external-scripts-loaded-securely": 5,
    "sri-implemented-but-external-scripts-not-loaded-securely": -20,
    "sri-not-implemented-but-all-scripts-loaded-from-secure-origin": 0,
    "sri-not-implemented-but-external-scripts-loaded-securely": -5,
    "sri-not-implemented-and-external-scripts-not-loaded-securely": -50,
    "sri-not-implemented-but-no-scripts-loaded": 0,
    "sri-not-implemented-response-not-html": 0,
    "html-not-parseable": -20,
    "x-content-type-options-nosniff": 0,
    "x-content-type-options-not-implemented": -5,
    "x-content-type-options-header-invalid": -5,
    "x-frame-options-implemented-via-csp": 5,
    "x-frame-options-sameorigin-or-deny": 5,
    "x-frame-options-allow-from-origin": 0,
    "x-frame-options-not-implemented": -20,
    "x-frame-options-header-invalid": -20,
    "corp-implemented-with-same-site": 10,
    "corp-implemented-with-same-origin": 10,
    "corp-implemented-with-cross-origin": 0,
    "corp-not-implemented": 0,
    "corp-header-invalid": -5,
}

GRADES: Final = (
    (100, "A+"), (90, "A"), (85, "A-"), (80, "B+"), (70, "B"), (65, "B-"), (60, "C+"),
    (50, "C"), (45, "C-"), (40, "D+"), (30, "D"), (25, "D-"),
)  # fmt: skip


@dataclass(frozen=True)
class Rules:
    """One release's scoring: its modifiers and the two parsing rules that changed between them."""

    version: str
    modifiers: dict[str, int]
    split_csp_on_commas: bool = True
    untyped_body_is_html: bool = True


_CURRENT = Rules("1.6.3", MODIFIERS)
RULES: Final = {
    rules.version: rules
    for rules in (
        _CURRENT,
        replace(
            _CURRENT,
            version="1.4.8",
            modifiers={**MODIFIERS, "x-frame-options-sameorigin-or-deny": 0},
            split_csp_on_commas=False,
            untyped_body_is_html=False,
        ),
    )
}


@dataclass
class Response:
    """The last response of one request chain, as the scanner keeps it."""

    url: str
    status: int
    headers: list[tuple[str, str]]  # lower-case names, in order

    def values(self, name: str) -> list[str]:
        """The header as Node's http module gives it: repeats joined by ", " (Set-Cookie a list)."""
        found = [value for key, value in self.headers if key == name]
        if name == "set-cookie" or not found:
            return found
        return [found[0]] if name == "content-type" else [", ".join(found)]

    def first(self, name: str) -> str | None:
        found = self.values(name)
        return found[0] if found else None


@dataclass
class Inputs:
    """What the scanner collects for one host: the https and http chains, the page, the preflight.

    `auto` is the page graded: the last response of the https chain when https connected, else of
    the http chain; `session_https` says which. `cookies` holds (request URL, Set-Cookie value)
    for every response of that chain, in order. `http_route` holds (URL, status) for every
    response of the http chain, the last included; `http` is None when http did not connect.
    """

    host: str
    auto: Response | None
    session_https: bool
    https: Response | None = None
    http: Response | None = None
    http_route: list[tuple[str, int]] = field(default_factory=lambda: list[tuple[str, int]]())
    cookies: list[tuple[str, str]] = field(default_factory=lambda: list[tuple[str, str]]())
    body: str | None = None
    cors: Response | None = None
    https_verified: bool = True
    http_verified: bool = True


@dataclass
class Outcome:
    """One test's result, as the scanner names it."""

    test: str
    result: str
    passed: bool
    modifier: int = 0
    data: str | None = None


@dataclass
class Report:
    score: int
    grade: str
    tests: list[Outcome]


def grade_for(score: int) -> str:
    """The letter for a score (the scanner's chart: multiples of 5, 100 and more A+)."""
    return next((letter for floor, letter in GRADES if score >= floor), "F")


# --- the page: meta tags and scripts ---------------------------------------------------------


class _Tags(HTMLParser):
    """Collects the attributes of <meta> and <script> start tags (the first of a repeated one)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.metas: list[dict[str, str]] = []
        self.scripts: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("meta", "script"):
            return
        found: dict[str, str] = {}
        for key, value in attrs:
            found.setdefault(key, value or "")
        (self.metas if tag == "meta" else self.scripts).append(found)

    handle_startendtag = handle_starttag


def _tags(body: str | None) -> _Tags:
    parser = _Tags()
    parser.feed(body or "")
    parser.close()
    return parser


def _http_equiv(inputs: Inputs, tags: _Tags) -> dict[str, list[str]]:
    """The CSP and referrer policy set in <meta> tags, read only from an HTML page."""
    auto = inputs.auto
    found: dict[str, list[str]] = {"content-security-policy": []}
    kind = (auto.first("content-type") or "").split(";")[0] if auto else ""
    if kind not in _HTML_TYPES or not inputs.body:
        return found
    for meta in tags.metas:
        if "http-equiv" in meta and "content" in meta:
            if meta["content"] and meta["http-equiv"].lower().strip() == "content-security-policy":
                found["content-security-policy"].append(meta["content"])
        elif meta.get("name", "").lower().strip() == "referrer" and meta.get("content"):
            found["referrer-policy"] = [meta["content"]]
    return found


# --- the ten tests ----------------------------------------------------------------------------

_BROAD = frozenset({"ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*", "https://*.*"})
_BROAD_OR_INLINE = _BROAD | {"'unsafe-inline'", "data:"}
_PASSIVE = ("img-src", "media-src")
_NONCES = ("'sha256-", "'sha384-", "'sha512-", "'nonce-")
_CSP_PASS = (
    "csp-implemented-with-no-unsafe",
    "csp-implemented-with-no-unsafe-default-src-none",
    "csp-implemented-with-unsafe-inline-in-style-src-only",
    "csp-implemented-with-insecure-scheme-in-passive-content-only",
)


def _pick(csp: dict[str, set[str]], *names: str) -> set[str]:
    # The same set object, not a copy: the scanner edits script-src in place, which edits
    # default-src when script-src is taken from it.
    return next((csp[name] for name in names if name in csp), {"*"})


def _csp(inputs: Inputs, equiv: dict[str, list[str]], rules: Rules) -> tuple[Outcome, set[str] | None]:
    """The CSP test, and the merged frame-ancestors (None when the policy was not judged)."""
    name = "content-security-policy"
    auto = inputs.auto
    if auto is None:
        return Outcome(name, "csp-not-implemented", False), None
    http_policies = auto.values("content-security-policy")
    meta_policies = equiv.get("content-security-policy", [])
    if rules.split_csp_on_commas:
        http_policies = [part.strip() for value in http_policies for part in value.split(",")]
        meta_policies = [part.strip() for value in meta_policies for part in value.split(",")]
    try:
        csp = parse_csp(http_policies + meta_policies)
    except CspError:
        return Outcome(name, "csp-header-invalid", False), None
    try:
        header_only = parse_csp(http_policies)
    except CspError:
        header_only = {}
    try:
        meta_only = parse_csp_meta(meta_policies)
    except CspError:
        meta_only = {}
    if not header_only and not meta_only:
        reporting = auto.first("content-security-policy-report-only")
        result = "csp-not-implemented-but-reporting-enabled" if reporting else "csp-not-implemented"
        return Outcome(name, result, False), None
    script_src = _pick(csp, "script-src", "default-src")
    style_src = _pick(csp, "style-src", "default-src")
    object_src = _pick(csp, "object-src", "default-src")
    for sources in (script_src, style_src):
        if any(s.startswith(_NONCES) for s in sources):
            sources.discard("'unsafe-inline'")
    result: str | None = None
    if any(s.startswith(_NONCES) for s in script_src) and "'strict-dynamic'" in script_src:
        for source in list(script_src):
            if source.startswith(tuple(_BROAD)) or source in ("'self'", "'unsafe-inline'"):
                script_src.discard(source)
    elif "'strict-dynamic'" in script_src:
        result = "csp-header-invalid"
    active = [s for d, sources in csp.items() if d not in _PASSIVE and d != "script-src" for s in sources]
    active += script_src
    passive = [s for d in _PASSIVE for s in csp.get(d, csp.get("default-src", set()))]
    insecure = ("http:", "ftp:")
    checks = (
        (
            bool(script_src & _BROAD_OR_INLINE or object_src & _BROAD),
            "csp-implemented-with-unsafe-inline",
        ),
        (
            inputs.session_https and any(s.startswith(insecure) for s in active),
            "csp-implemented-with-insecure-scheme",
        ),
        ("'unsafe-eval'" in script_src | style_src, "csp-implemented-with-unsafe-eval"),
        (
            inputs.session_https and any(s.startswith(insecure) for s in passive),
            "csp-implemented-with-insecure-scheme-in-passive-content-only",
        ),
        (bool(style_src & _BROAD_OR_INLINE), "csp-implemented-with-unsafe-inline-in-style-src-only"),
        (csp.get("default-src") == {"'none'"}, "csp-implemented-with-no-unsafe-default-src-none"),
        (True, "csp-implemented-with-no-unsafe"),
    )
    result = result or next(found for hit, found in checks if hit)
    passed = result in _CSP_PASS
    if passed and DUPLICATE_KEY in csp:
        result = "csp-implemented-but-duplicate-directives"
    return Outcome(name, result, passed), csp.get("frame-ancestors")


def _js_int(text: str) -> float:
    """JavaScript's parseInt(text, 10): a leading integer, NaN when there is none."""
    match = re.match(r"\s*([+-]?\d+)", text)
    return int(match.group(1)) if match else math.nan


def _hsts(inputs: Inputs) -> Outcome:
    name = "strict-transport-security"
    response = inputs.https
    if response is None:
        return Outcome(name, "hsts-not-implemented-no-https", False)
    if not inputs.https_verified:
        return Outcome(name, "hsts-invalid-cert", False)
    header = response.first("strict-transport-security")
    if header is None:
        return Outcome(name, "hsts-not-implemented", False)
    data = header[:1024]
    max_age: float | None = None
    for parameter in (part.strip().lower() for part in data.split(";")):
        if parameter.startswith("max-age="):
            max_age = _js_int(parameter[8:128])
    if "," in data or max_age is None:
        return Outcome(name, "hsts-header-invalid", False, data=data)
    if max_age < _SIX_MONTHS:
        return Outcome(name, "hsts-implemented-max-age-less-than-six-months", False, data=data)
    return Outcome(name, "hsts-implemented-max-age-at-least-six-months", True, data=data)


def _worse(new: str, old: str | None, order: tuple[str, ...]) -> str:
    return new if old is None or order.index(new) > order.index(old) else old


_COOKIE_ORDER = (
    "cookies-without-secure-flag-but-protected-by-hsts",
    "cookies-without-secure-flag",
    "cookies-session-without-secure-flag-but-protected-by-hsts",
    "cookies-samesite-flag-invalid",
    "cookies-anticsrf-without-samesite-flag",
    "cookies-session-without-httponly-flag",
    "cookies-session-without-secure-flag",
)


@dataclass
class _Cookie:
    name: str
    domain: str | None = None
    path: str | None = None
    secure: bool = False
    http_only: bool = False
    same_site: str | None = None


def _parse_cookie(raw: str) -> _Cookie | None:
    """tough-cookie's strict parse: a name is required, SameSite other than strict/lax/none is unset."""
    pair, _, rest = raw.strip().partition(";")
    name, eq, _value = pair.partition("=")
    if not eq or not name.strip() or re.search(r"[\x00-\x1f]", pair):
        return None
    cookie = _Cookie(name.strip())
    for attribute in rest.split(";"):
        key, _, value = attribute.strip().partition("=")
        key, value = key.strip().lower(), value.strip()
        if key == "domain" and value.lstrip("."):
            cookie.domain = value.lstrip(".").lower()
        elif key == "path":
            cookie.path = value if value.startswith("/") else None
        elif key == "secure":
            cookie.secure = True
        elif key == "httponly":
            cookie.http_only = True
        elif key == "samesite":
            cookie.same_site = value.lower() if value.lower() in ("strict", "lax", "none") else None
    return cookie


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@cache
def _suffixes() -> PublicSuffixList:
    """The ICANN part of the Public Suffix List, as tldts and tough-cookie use it (read once)."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(only_icann=True)


def _jar(cookies: list[tuple[str, str]]) -> list[_Cookie]:
    """The cookies a tough-cookie jar keeps: the domain must match, the prefixes' rules hold."""
    suffixes = _suffixes()
    kept: dict[tuple[str, str, str], _Cookie] = {}
    for url, raw in cookies:
        cookie = _parse_cookie(raw)
        if cookie is None:
            continue
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if cookie.domain is not None:
            if not _is_ip(cookie.domain) and suffixes.is_public(cookie.domain):
                continue
            matches = host == cookie.domain or (host.endswith("." + cookie.domain) and not _is_ip(host))
            if not matches:
                continue
        host_only = cookie.domain is None
        if cookie.name.startswith("__Secure-") and not cookie.secure:
            continue
        if cookie.name.startswith("__Host-") and not (cookie.secure and host_only and cookie.path == "/"):
            continue
        path = cookie.path or (parts.path.rsplit("/", 1)[0] or "/")
        kept[(cookie.domain or host, path, cookie.name)] = cookie
    return [cookie for cookie in kept.values() if cookie.name != "heroku-session-affinity"]


def _samesite_invalid(raw: str) -> bool:
    for part in raw.strip().split(";"):
        pieces = part.strip().split("=")
        if pieces[0].strip().lower() == "samesite":
            value = pieces[1] if len(pieces) > 1 else ""
            if value.strip().lower() not in ("lax", "strict", "none"):
                return True
    return False


def _cookies(inputs: Inputs, hsts: bool) -> Outcome:
    name = "cookies"
    result: str | None = None
    if inputs.auto is not None and any(_samesite_invalid(raw) for raw in inputs.auto.values("set-cookie")):
        result = "cookies-samesite-flag-invalid"
    jar = _jar(inputs.cookies)
    if not jar:
        return Outcome(name, "cookies-not-found", True)
    for cookie in jar:
        key = cookie.name.lower()
        session = "login" in key or "sess" in key
        problems: list[str] = []
        if not cookie.secure and cookie.same_site == "none":
            problems.append("cookies-samesite-flag-invalid")
        if not cookie.secure:
            problems.append(
                "cookies-without-secure-flag-but-protected-by-hsts" if hsts else "cookies-without-secure-flag"
            )
        if "csrf" in key and not cookie.same_site:
            problems.append("cookies-anticsrf-without-samesite-flag")
        if session and not cookie.secure:
            problems.append(
                "cookies-session-without-secure-flag-but-protected-by-hsts"
                if hsts
                else "cookies-session-without-secure-flag"
            )
        if session and not cookie.http_only:
            problems.append("cookies-session-without-httponly-flag")
        for problem in problems:
            result = _worse(problem, result, _COOKIE_ORDER)
    if result is None:
        missing = any(not cookie.same_site for cookie in jar)
        result = (
            "cookies-secure-with-httponly-sessions"
            if missing
            else "cookies-secure-with-httponly-sessions-and-samesite"
        )
    passed = result in (
        "cookies-secure-with-httponly-sessions",
        "cookies-secure-with-httponly-sessions-and-samesite",
    )
    return Outcome(name, result, passed, data=", ".join(sorted({c.name for c in jar})))


def _cors(inputs: Inputs) -> Outcome:
    name = "cross-origin-resource-sharing"
    allow = inputs.cors.first("access-control-allow-origin") if inputs.cors else None
    if not allow or inputs.cors is None:
        return Outcome(name, "cross-origin-resource-sharing-not-implemented", True)
    data = allow[:256].strip().lower()
    credentials = (inputs.cors.first("access-control-allow-credentials") or "").strip().lower()
    if data == "*":
        result = "cross-origin-resource-sharing-implemented-with-public-access"
    else:
        # The scanner compares the allowed origin with the Origin header of `response.request`,
        # a Node ClientRequest that has no `headers`, so it never finds universal access; the
        # same page is "restricted" here. `headers.reflects_any_origin` reports it unscored.
        result = "cross-origin-resource-sharing-implemented-with-restricted-access"
    data += "; with credentials" if credentials == "true" else ""
    return Outcome(name, result, True, data=data)


def _redirection(inputs: Inputs) -> Outcome:
    name = "redirection"
    route = [(urlsplit(url), status) for url, status in inputs.http_route]
    if inputs.http is None or not route:
        return Outcome(name, "redirection-not-needed-no-http", True)
    if not inputs.http_verified:
        return Outcome(name, "redirection-invalid-cert", False)
    data = " -> ".join(url for url, _ in inputs.http_route)
    if len(route) == 1:
        result = "redirection-missing"
    elif route[-1][0].scheme != "https":
        result = "redirection-not-to-https"
    elif route[1][0].scheme == "http":
        result = "redirection-not-to-https-on-initial-redirection"
    elif route[0][0].scheme == "http" and route[0][0].hostname != route[1][0].hostname:
        result = "redirection-off-host-from-http"
    else:
        result = "redirection-to-https"
    return Outcome(name, result, result == "redirection-to-https", data=data)


def _referrer(inputs: Inputs, equiv: dict[str, list[str]]) -> Outcome:
    name = "referrer-policy"
    good = ("no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin")
    bad = ("origin", "origin-when-cross-origin", "unsafe-url", "no-referrer-when-downgrade")
    if inputs.auto is None:
        return Outcome(name, "referrer-policy-not-implemented", False)
    values = inputs.auto.values("referrer-policy") + equiv.get("referrer-policy", [])
    if not values:
        return Outcome(name, "referrer-policy-not-implemented", True)
    data = ", ".join(values)
    valid = [part.lower().strip() for part in data.split(",") if part.lower().strip() in good + bad]
    policy = valid[-1] if valid else ""
    if policy in good:
        return Outcome(name, "referrer-policy-private", True, data=data)
    result = "referrer-policy-unsafe" if policy in bad else "referrer-policy-header-invalid"
    return Outcome(name, result, False, data=data)


def _site_domain(host: str) -> str | None:
    """The registrable domain as tldts computes it (ICANN suffixes only; none for an IP)."""
    host = host.lower().rstrip(".")
    if not host or _is_ip(host):
        return None
    return _suffixes().privatesuffix(host)


_SRI_ORDER = (
    "sri-implemented-and-all-scripts-loaded-securely",
    "sri-implemented-and-external-scripts-loaded-securely",
    "sri-implemented-but-external-scripts-not-loaded-securely",
    "sri-not-implemented-but-external-scripts-loaded-securely",
    "sri-not-implemented-and-external-scripts-not-loaded-securely",
    "sri-not-implemented-response-not-html",
)
_SRI_PASS = (
    "sri-implemented-and-all-scripts-loaded-securely",
    "sri-implemented-and-external-scripts-loaded-securely",
    "sri-not-implemented-response-not-html",
    "sri-not-implemented-but-all-scripts-loaded-from-secure-origin",
    "sri-not-implemented-but-no-scripts-loaded",
)


def _sri(inputs: Inputs, tags: _Tags, rules: Rules) -> Outcome:
    name = "subresource-integrity"
    if inputs.auto is None:
        return Outcome(name, "sri-not-implemented-but-no-scripts-loaded", True)
    mime = (inputs.auto.first("content-type") or "").split(";")[0]
    if (mime or not rules.untyped_body_is_html) and mime not in _HTML_TYPES:
        return Outcome(name, "sri-not-implemented-response-not-html", True)
    result: str | None = None
    foreign: list[str] = []
    page_domain = _site_domain(inputs.host)
    for script in tags.scripts:
        src = script.get("src")
        if not src:
            continue
        integrity = bool(script.get("integrity"))
        protocol_relative = re.match(r"^//[^/]", src) is not None
        absolute = re.match(r"^https?://", src) is not None
        same_domain = True
        if absolute:
            same_domain = _site_domain(urlsplit(src).hostname or "") == page_domain
        relative = not protocol_relative and not absolute
        secure_scheme = (absolute and src.startswith("https:")) or (relative and inputs.session_https)
        if relative or (same_domain and not protocol_relative):
            if integrity and secure_scheme and result is None:
                result = "sri-implemented-and-all-scripts-loaded-securely"
            continue
        foreign.append(src)
        if integrity and not secure_scheme:
            result = _worse("sri-implemented-but-external-scripts-not-loaded-securely", result, _SRI_ORDER)
        elif not integrity and secure_scheme:
            result = _worse("sri-not-implemented-but-external-scripts-loaded-securely", result, _SRI_ORDER)
        elif not integrity:
            result = _worse(
                "sri-not-implemented-and-external-scripts-not-loaded-securely", result, _SRI_ORDER
            )
    if not tags.scripts:
        result = "sri-not-implemented-but-no-scripts-loaded"
    elif result is None:
        result = (
            "sri-implemented-and-external-scripts-loaded-securely"
            if foreign
            else "sri-not-implemented-but-all-scripts-loaded-from-secure-origin"
        )
    return Outcome(name, result, result in _SRI_PASS, data=", ".join(foreign[:10]) or None)


def _nosniff(inputs: Inputs) -> Outcome:
    name = "x-content-type-options"
    header = inputs.auto.first("x-content-type-options") if inputs.auto else None
    if not header:
        return Outcome(name, "x-content-type-options-not-implemented", False)
    data = header[:256]
    if data.strip().lower() == "nosniff":
        return Outcome(name, "x-content-type-options-nosniff", True, data=data)
    return Outcome(name, "x-content-type-options-header-invalid", False, data=data)


def _framing(inputs: Inputs, frame_ancestors: set[str] | None) -> Outcome:
    name = "x-frame-options"
    if inputs.auto is None:
        return Outcome(name, "x-frame-options-not-implemented", False)
    header = inputs.auto.first("x-frame-options")
    data = header[:1024] if header else None
    value = (data or "").strip().lower()
    if not header:
        result = "x-frame-options-not-implemented"
    elif value in ("deny", "sameorigin"):
        result = "x-frame-options-sameorigin-or-deny"
    elif value.startswith("allow-from"):
        result = "x-frame-options-allow-from-origin"
    else:
        result = "x-frame-options-header-invalid"
    if frame_ancestors is not None:
        result = "x-frame-options-implemented-via-csp"
    passed = result not in ("x-frame-options-not-implemented", "x-frame-options-header-invalid")
    return Outcome(name, result, passed, data=data)


def _corp(inputs: Inputs) -> Outcome:
    name = "cross-origin-resource-policy"
    header = inputs.auto.first("cross-origin-resource-policy") if inputs.auto else None
    if not header:
        return Outcome(name, "corp-not-implemented", True)
    data = header[:256].strip().lower()
    result = {
        "same-site": "corp-implemented-with-same-site",
        "same-origin": "corp-implemented-with-same-origin",
        "cross-origin": "corp-implemented-with-cross-origin",
    }.get(data, "corp-header-invalid")
    return Outcome(name, result, result != "corp-header-invalid", data=data)


def score_page(inputs: Inputs, rules: Rules | None = None) -> Report:
    """Run the ten tests in the scanner's order and total their modifiers into a score and grade."""
    rules = rules or _CURRENT
    tags = _tags(inputs.body)
    equiv = _http_equiv(inputs, tags)
    csp, frame_ancestors = _csp(inputs, equiv, rules)
    hsts = _hsts(inputs)
    tests = [
        csp,
        _cookies(inputs, hsts.passed),
        _cors(inputs),
        _redirection(inputs),
        _referrer(inputs, equiv),
        hsts,
        _sri(inputs, tags, rules),
        _nosniff(inputs),
        _framing(inputs, frame_ancestors),
        _corp(inputs),
    ]
    with_bonus = without_bonus = 100
    for test in tests:
        test.modifier = rules.modifiers[test.result]
        with_bonus += test.modifier
        without_bonus += min(test.modifier, 0)
    score = max(with_bonus if without_bonus >= _EXTRA_CREDIT_FLOOR else without_bonus, 0)
    return Report(score=score, grade=grade_for(score), tests=tests)
