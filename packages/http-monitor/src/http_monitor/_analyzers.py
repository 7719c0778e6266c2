"""The ten tests of the MDN HTTP Observatory's scanner (its `src/analyzer/tests/*.js`), ported.

Each takes what the scanner collected for a host (`observatory.Inputs`) and returns the result it
would name (`observatory.Outcome`); `observatory.score_page` runs them in its order and totals
their modifiers. Ported by hand for the reasons `observatory` gives; the page is parsed with the
standard library's `html.parser` (the scanner uses htmlparser2: start tags and their attributes,
entities decoded, the first of a repeated attribute kept).
"""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

from http_monitor._cookies import jar, samesite_invalid, site_domain
from http_monitor._csp import DUPLICATE_KEY, CspError, parse_csp, parse_csp_meta
from http_monitor._observed import Inputs, Outcome, Rules

__all__ = [
    "Tags",
    "cookies",
    "corp",
    "cors",
    "csp",
    "framing",
    "hsts",
    "http_equiv",
    "nosniff",
    "redirection",
    "referrer",
    "sri",
    "tags",
]  # fmt: skip

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_SIX_MONTHS = 15_552_000


class Tags(HTMLParser):
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


def tags(body: str | None) -> Tags:
    parser = Tags()
    parser.feed(body or "")
    parser.close()
    return parser


def http_equiv(inputs: Inputs, page: Tags) -> dict[str, list[str]]:
    """The CSP and referrer policy set in <meta> tags, read only from an HTML page."""
    auto = inputs.auto
    found: dict[str, list[str]] = {"content-security-policy": []}
    kind = (auto.first("content-type") or "").split(";")[0] if auto else ""
    if kind not in _HTML_TYPES or not inputs.body:
        return found
    for meta in page.metas:
        if "http-equiv" in meta and "content" in meta:
            if meta["content"] and meta["http-equiv"].lower().strip() == "content-security-policy":
                found["content-security-policy"].append(meta["content"])
        elif meta.get("name", "").lower().strip() == "referrer" and meta.get("content"):
            found["referrer-policy"] = [meta["content"]]
    return found


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


def csp(inputs: Inputs, equiv: dict[str, list[str]], rules: Rules) -> tuple[Outcome, set[str] | None]:
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


def hsts(inputs: Inputs) -> Outcome:
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


def cookies(inputs: Inputs, hsts: bool) -> Outcome:
    name = "cookies"
    result: str | None = None
    if inputs.auto is not None and any(samesite_invalid(raw) for raw in inputs.auto.values("set-cookie")):
        result = "cookies-samesite-flag-invalid"
    kept = jar(inputs.cookies)
    if not kept:
        return Outcome(name, "cookies-not-found", True)
    for cookie in kept:
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
        missing = any(not cookie.same_site for cookie in kept)
        result = (
            "cookies-secure-with-httponly-sessions"
            if missing
            else "cookies-secure-with-httponly-sessions-and-samesite"
        )
    passed = result in (
        "cookies-secure-with-httponly-sessions",
        "cookies-secure-with-httponly-sessions-and-samesite",
    )
    return Outcome(name, result, passed, data=", ".join(sorted({c.name for c in kept})))


def cors(inputs: Inputs) -> Outcome:
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


def redirection(inputs: Inputs) -> Outcome:
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


def referrer(inputs: Inputs, equiv: dict[str, list[str]]) -> Outcome:
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


def sri(inputs: Inputs, page: Tags, rules: Rules) -> Outcome:
    name = "subresource-integrity"
    if inputs.auto is None:
        return Outcome(name, "sri-not-implemented-but-no-scripts-loaded", True)
    mime = (inputs.auto.first("content-type") or "").split(";")[0]
    if (mime or not rules.untyped_body_is_html) and mime not in _HTML_TYPES:
        return Outcome(name, "sri-not-implemented-response-not-html", True)
    result: str | None = None
    foreign: list[str] = []
    page_domain = site_domain(inputs.host)
    for script in page.scripts:
        src = script.get("src")
        if not src:
            continue
        integrity = bool(script.get("integrity"))
        protocol_relative = re.match(r"^//[^/]", src) is not None
        absolute = re.match(r"^https?://", src) is not None
        same_domain = True
        if absolute:
            same_domain = site_domain(urlsplit(src).hostname or "") == page_domain
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
    if not page.scripts:
        result = "sri-not-implemented-but-no-scripts-loaded"
    elif result is None:
        result = (
            "sri-implemented-and-external-scripts-loaded-securely"
            if foreign
            else "sri-not-implemented-but-all-scripts-loaded-from-secure-origin"
        )
    return Outcome(name, result, result in _SRI_PASS, data=", ".join(foreign[:10]) or None)


def nosniff(inputs: Inputs) -> Outcome:
    name = "x-content-type-options"
    header = inputs.auto.first("x-content-type-options") if inputs.auto else None
    if not header:
        return Outcome(name, "x-content-type-options-not-implemented", False)
    data = header[:256]
    if data.strip().lower() == "nosniff":
        return Outcome(name, "x-content-type-options-nosniff", True, data=data)
    return Outcome(name, "x-content-type-options-header-invalid", False, data=data)


def framing(inputs: Inputs, frame_ancestors: set[str] | None) -> Outcome:
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


def corp(inputs: Inputs) -> Outcome:
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
