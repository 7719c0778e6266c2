"""The MDN HTTP Observatory's scoring, ported: the same ten tests, results, modifiers and grades.

A page starts at 100; each test's result adds its modifier (`MODIFIERS`). Bonuses (positive
modifiers) count only when the score without them is at least 90; the grade is looked up at the
score rounded down to a multiple of 5 (`GRADES`: 100 and more A+, 90 A, 85 A-, 80 B+, ... under 25 F).
Source: mdn/mdn-http-observatory, `src/analyzer/tests/*.js` (ported in `_analyzers`, with `_csp`
and `_cookies`), `src/grader/charts.js` and `src/scanner/index.js` of release 1.6.3;
`tests/peers/test_observatory.py` runs the published scanner on local pages and asserts the same
results, score and grade.

Written by hand because the point is to agree with the Observatory to the point, including its
quirks: a `max-age` that is not a number passes the HSTS test, a `frame-ancestors` of any value
counts as framing protection, cookies are judged as a `tough-cookie` jar would keep them, and
universal CORS access is never found (see `_analyzers.cors`). The one difference: the HSTS preload
list is not consulted (the scanner downloads Chromium's at install time), so a preloaded host
scores `hsts-implemented-...` where the scanner says `hsts-preloaded` (+5), and its redirection
test is judged on the chain rather than passed as `redirection-all-redirects-preloaded`.

`RULES` also holds release 1.4.8, the one the test tier can install, which differs in three
places: X-Frame-Options DENY/SAMEORIGIN earned 0 (5 since), CSP headers were not split on commas
(since 1.6.2), and a response without Content-Type was not HTML to the SRI test (since 1.5).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from http_monitor import _analyzers as run
from http_monitor._observed import Inputs, Outcome, Response, Rules

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
_EXTRA_CREDIT_FLOOR = 90

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
class Report:
    score: int
    grade: str
    tests: list[Outcome]


def grade_for(score: int) -> str:
    """The letter for a score (the scanner's chart: multiples of 5, 100 and more A+)."""
    return next((letter for floor, letter in GRADES if score >= floor), "F")


def score_page(inputs: Inputs, rules: Rules | None = None) -> Report:
    """Run the ten tests in the scanner's order and total their modifiers into a score and grade."""
    rules = rules or _CURRENT
    page = run.tags(inputs.body)
    equiv = run.http_equiv(inputs, page)
    csp, frame_ancestors = run.csp(inputs, equiv, rules)
    hsts = run.hsts(inputs)
    tests = [
        csp,
        run.cookies(inputs, hsts.passed),
        run.cors(inputs),
        run.redirection(inputs),
        run.referrer(inputs, equiv),
        hsts,
        run.sri(inputs, page, rules),
        run.nosniff(inputs),
        run.framing(inputs, frame_ancestors),
        run.corp(inputs),
    ]
    with_bonus = without_bonus = 100
    for test in tests:
        test.modifier = rules.modifiers[test.result]
        with_bonus += test.modifier
        without_bonus += min(test.modifier, 0)
    score = max(with_bonus if without_bonus >= _EXTRA_CREDIT_FLOOR else without_bonus, 0)
    return Report(score=score, grade=grade_for(score), tests=tests)
