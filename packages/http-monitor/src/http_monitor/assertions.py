"""Expectations about a response (status, body text, regex, JSON values, speed) and their findings.

`Expectations.parse(...)` validates what the caller asked for before anything is sent (a bad
regex or JSON path is an `InputError`); `judge(...)` turns a response into `Assertion` rows and
the findings for those that failed. `body_regex` is a `monitor_common.patterns` pattern: RE2,
searched off the event loop within the time the check has left. A blackbox_exporter module's
rules (`blackbox.Module`: TLS or not, header and body patterns, HTTP versions) are judged here
too, with the same patterns.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from monitor_common.errors import InputError
from monitor_common.patterns import Pattern, PatternTooSlow, compile_pattern, search
from monitor_common.results import Finding, Verdict

from http_monitor.models import Assertion
from http_monitor.status import StatusSpec, parse_status_spec

if TYPE_CHECKING:
    from http_monitor.blackbox import HeaderRule, Module

__all__ = ["Expectations", "json_path"]


class Headers(Protocol):
    """The response headers as httpx2 gives them: every value of a name, in order."""

    def get_list(self, key: str, split_commas: bool = False) -> list[str]: ...


_BODY_HINT = "the page changed, or an error page was served with a success status"

_PATH_PART = re.compile(r"[^.\[\]]+|\[\d+\]")


def _shown(value: object, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_path(document: Any, path: str) -> tuple[bool, Any]:
    """(found, value) of a dotted path such as `data.status`, `items.0.id` or `items[0].id`."""
    current = document
    for raw in _PATH_PART.findall(path):
        part = raw.strip("[]")
        if isinstance(current, dict):
            mapping: dict[str, Any] = current  # pyright: ignore[reportUnknownVariableType]
            if part not in mapping:
                return False, None
            current = mapping[part]
        elif isinstance(current, list) and part.isdigit():
            items: list[Any] = current  # pyright: ignore[reportUnknownVariableType]
            index = int(part)
            if index >= len(items):
                return False, None
            current = items[index]
        else:
            return False, None
    return True, current


@dataclass(frozen=True)
class Expectations:
    """What a response must satisfy to be `ok`."""

    status: StatusSpec
    body_contains: str | None = None
    body_regex: Pattern | None = None
    expect_json: dict[str, Any] | None = None
    max_response_ms: float | None = None
    module: Module | None = None
    """A blackbox_exporter module's rules (`blackbox.translate`), judged beside the others."""

    @classmethod
    def parse(
        cls,
        *,
        expect_status: str = "200-399",
        body_contains: str | None = None,
        body_regex: str | None = None,
        expect_json: dict[str, Any] | None = None,
        max_response_ms: float | None = None,
        module: Module | None = None,
    ) -> Expectations:
        """Validate the caller's expectations; InputError names the one that is wrong. `module`
        is a blackbox module already translated (and so checked) by `blackbox.translate`."""
        pattern = None if body_regex is None else compile_pattern(body_regex, "body_regex")
        if expect_json is not None:
            for path in expect_json:
                if not path.strip() or not _PATH_PART.findall(path):
                    raise InputError(f'expect_json path {path!r} is empty: use e.g. {{"data.status": "ok"}}')
        if max_response_ms is not None and max_response_ms <= 0:
            raise InputError(f"max_response_ms must be positive, got {max_response_ms}")
        return cls(
            status=parse_status_spec(expect_status),
            body_contains=body_contains,
            body_regex=pattern,
            expect_json=expect_json,
            max_response_ms=max_response_ms,
            module=module,
        )

    async def judge(
        self,
        *,
        status_code: int,
        reason: str,
        body: bytes,
        truncated: bool,
        total_ms: float,
        time_left_s: float = 10.0,
        headers: Headers | None = None,
        http_version: str | None = None,
        tls: bool | None = None,
    ) -> tuple[list[Assertion], list[Finding]]:
        """The assertion rows and the findings of a response; `body_regex` may take at most
        `time_left_s` (else a `pattern_too_slow` finding, and its row did not pass). `headers`,
        `http_version` and `tls` (whether it came over TLS) are what a blackbox module judges."""
        assertions: list[Assertion] = []
        findings: list[Finding] = []
        passed = status_code in self.status
        assertions.append(
            Assertion(what="status", expected=self.status.text, actual=str(status_code), passed=passed)
        )
        if not passed:
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code="http_status_unexpected",
                    message=f"status {status_code} {reason} is not in {self.status.text}",
                    hint="see the response of the final URL; adjust expect_status if this status is intended",
                )
            )
        cut = f" (only the first {len(body)} bytes were read)" if truncated else ""
        text: str | None = None
        if self.body_contains is not None or self.body_regex is not None:
            text = body.decode("utf-8", errors="replace")
        if self.body_contains is not None:
            assert text is not None
            found = self.body_contains in text
            assertions.append(Assertion(what="body contains", expected=self.body_contains, passed=found))
            if not found:
                findings.append(
                    Finding(
                        severity=Verdict.CRITICAL,
                        code="http_body_mismatch",
                        message=f"the body does not contain {_shown(self.body_contains)!r}{cut}",
                        hint="the page changed, or an error page was served with a success status",
                    )
                )
        if self.body_regex is not None:
            assert text is not None
            pattern = self.body_regex
            try:
                match = await search(pattern, text, within_s=time_left_s)
            except PatternTooSlow as exc:
                assertions.append(Assertion(what="body matches", expected=pattern.source, passed=False))
                findings.append(exc.finding())
            else:
                assertions.append(
                    Assertion(
                        what="body matches",
                        expected=pattern.source,
                        actual=None if match is None else _shown(match),
                        passed=match is not None,
                    )
                )
                if match is None:
                    findings.append(
                        Finding(
                            severity=Verdict.CRITICAL,
                            code="http_body_mismatch",
                            message=f"the body does not match /{_shown(pattern.source)}/{cut}",
                            hint="the page changed, or an error page was served with a success status",
                        )
                    )
        if self.expect_json is not None:
            self._judge_json(body, cut, assertions, findings)
        if self.module is not None:
            await self._judge_module(
                self.module, body, cut, headers, http_version, tls, time_left_s, assertions, findings
            )
        if self.max_response_ms is not None:
            fast = total_ms <= self.max_response_ms
            assertions.append(
                Assertion(
                    what="response time ms",
                    expected=f"<= {self.max_response_ms:g}",
                    actual=f"{total_ms:.0f}",
                    passed=fast,
                )
            )
            if not fast:
                findings.append(
                    Finding(
                        severity=Verdict.WARNING,
                        code="http_slow",
                        message=f"answered in {total_ms:.0f} ms, more than the {self.max_response_ms:g} ms allowed",
                        hint="see timings_ms for the slow phase (dns, connect, tls, ttfb, transfer)",
                    )
                )
        return assertions, findings

    async def _judge_module(
        self,
        module: Module,
        body: bytes,
        cut: str,
        headers: Headers | None,
        http_version: str | None,
        tls: bool | None,
        time_left_s: float,
        assertions: list[Assertion],
        findings: list[Finding],
    ) -> None:
        from http_monitor.blackbox import version_name

        if module.tls is not None and tls is not None:
            key = "fail_if_not_ssl" if module.tls else "fail_if_ssl"
            ok = tls == module.tls
            assertions.append(
                Assertion(
                    what=f"blackbox {key}",
                    expected="TLS" if module.tls else "no TLS",
                    actual="TLS" if tls else "no TLS",
                    passed=ok,
                )
            )
            if not ok:
                findings.append(
                    Finding(
                        severity=Verdict.CRITICAL,
                        code="http_tls_unexpected",
                        message=f"the final response came {'over TLS' if tls else 'over plain http'}, which {key} forbids",
                        hint="the site redirects to the other scheme than the module expects, or the URL is wrong",
                    )
                )
        if module.http_versions is not None and http_version is not None:
            actual = version_name(http_version)
            ok = actual in module.http_versions
            expected = ", ".join(sorted(module.http_versions))
            assertions.append(
                Assertion(what="blackbox valid_http_versions", expected=expected, actual=actual, passed=ok)
            )
            if not ok:
                findings.append(
                    Finding(
                        severity=Verdict.CRITICAL,
                        code="http_version_unexpected",
                        message=f"the response came over {actual}, not {expected}",
                        hint="the server (or a proxy in front of it) negotiates another HTTP version",
                    )
                )
        for rule in module.header_rules:
            await self._judge_header(rule, headers, time_left_s, assertions, findings)
        if module.body_forbidden or module.body_required:
            text = body.decode("utf-8", errors="replace")
            for pattern, forbidden in [(p, True) for p in module.body_forbidden] + [
                (p, False) for p in module.body_required
            ]:
                key = "fail_if_body_matches_regexp" if forbidden else "fail_if_body_not_matches_regexp"
                match = await self._search(
                    pattern, text, time_left_s, f"blackbox {key}", assertions, findings
                )
                if isinstance(match, _Unjudged):
                    continue
                ok = (match is None) if forbidden else (match is not None)
                assertions.append(
                    Assertion(
                        what=f"blackbox {key}",
                        expected=pattern.source,
                        actual=None if match is None else _shown(match),
                        passed=ok,
                    )
                )
                if not ok:
                    verb = "matches" if forbidden else "does not match"
                    findings.append(
                        Finding(
                            severity=Verdict.CRITICAL,
                            code="http_body_mismatch",
                            message=f"the body {verb} /{_shown(pattern.source)}/ ({key}){cut}",
                            hint=_BODY_HINT,
                        )
                    )

    async def _judge_header(
        self,
        rule: HeaderRule,
        headers: Headers | None,
        time_left_s: float,
        assertions: list[Assertion],
        findings: list[Finding],
    ) -> None:
        values: Sequence[str] = headers.get_list(rule.header) if headers is not None else []
        what = f"blackbox {rule.key} {rule.header}"
        failure: str | None = None
        if not values:
            if not rule.allow_missing:
                failure = f"the response has no {rule.header} header ({rule.key} requires it)"
            assertions.append(Assertion(what=what, expected=rule.pattern.source, passed=failure is None))
        else:
            matched: str | None = None
            for value in values:
                match = await self._search(rule.pattern, value, time_left_s, what, assertions, findings)
                if isinstance(match, _Unjudged):
                    return
                if match is not None:
                    matched = value
                    break
            if rule.forbid and matched is not None:
                failure = (
                    f"{rule.header}: {_shown(matched)} matches /{_shown(rule.pattern.source)}/ ({rule.key})"
                )
            elif not rule.forbid and matched is None:
                failure = f"no {rule.header} value matches /{_shown(rule.pattern.source)}/ ({rule.key}): {_shown(values[0])}"
            assertions.append(
                Assertion(
                    what=what,
                    expected=rule.pattern.source,
                    actual=_shown(matched or values[0]),
                    passed=failure is None,
                )
            )
        if failure is not None:
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code="http_header_mismatch",
                    message=failure,
                    hint="the server (or a proxy or CDN in front of it) sends other headers than the module expects",
                )
            )

    async def _search(
        self,
        pattern: Pattern,
        text: str,
        time_left_s: float,
        what: str,
        assertions: list[Assertion],
        findings: list[Finding],
    ) -> str | _Unjudged | None:
        """The match, None, or `_UNJUDGED` when the pattern ran out of time (its row and finding added)."""
        try:
            return await search(pattern, text, within_s=time_left_s)
        except PatternTooSlow as exc:
            assertions.append(Assertion(what=what, expected=pattern.source, passed=False))
            findings.append(exc.finding())
            return _UNJUDGED

    def _judge_json(
        self, body: bytes, cut: str, assertions: list[Assertion], findings: list[Finding]
    ) -> None:
        assert self.expect_json is not None
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            for path, expected in self.expect_json.items():
                assertions.append(
                    Assertion(what=f"json {path}", expected=_shown(expected), actual=None, passed=False)
                )
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code="http_json_mismatch",
                    message=f"the body is not JSON ({exc}){cut}",
                    hint="the endpoint answered with something else, e.g. an HTML error page",
                )
            )
            return
        for path, expected in self.expect_json.items():
            found, actual = json_path(document, path)
            # 1 == 1.0 is the same JSON number, but true is not 1.
            ok = found and actual == expected and isinstance(actual, bool) == isinstance(expected, bool)
            assertions.append(
                Assertion(
                    what=f"json {path}",
                    expected=_shown(expected),
                    actual=_shown(actual) if found else None,
                    passed=ok,
                )
            )
            if not ok:
                why = f"is {_shown(actual)}" if found else "is missing"
                findings.append(
                    Finding(
                        severity=Verdict.CRITICAL,
                        code="http_json_mismatch",
                        message=f"JSON {path} {why}, expected {_shown(expected)}",
                        hint="the API answered, but not with the expected value",
                    )
                )


class _Unjudged:
    """A pattern that ran out of time: neither a match nor none."""


_UNJUDGED = _Unjudged()
