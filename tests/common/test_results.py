"""The verdict order and the envelope every check returns."""

from __future__ import annotations

import re

import pytest
from monitor_common.results import CheckResult, Finding, Stopwatch, Verdict
from pydantic import ValidationError


def test_verdicts_are_ordered_by_severity() -> None:
    assert Verdict.OK < Verdict.WARNING < Verdict.CRITICAL < Verdict.UNKNOWN
    assert [v.exit_code for v in Verdict] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("severities", "expected"),
    [
        ([], Verdict.OK),
        ([Verdict.OK], Verdict.OK),
        ([Verdict.WARNING, Verdict.OK], Verdict.WARNING),
        ([Verdict.WARNING, Verdict.CRITICAL, Verdict.OK], Verdict.CRITICAL),
        ([Verdict.CRITICAL, Verdict.UNKNOWN], Verdict.UNKNOWN),
    ],
)
def test_envelope_verdict_is_the_worst_finding(severities: list[Verdict], expected: Verdict) -> None:
    findings = [Finding(severity=s, code=f"code_{i}", message="m") for i, s in enumerate(severities)]
    result = CheckResult.build(summary="s", findings=findings, started=Stopwatch())
    assert result.verdict is expected
    # worst first, so a reader sees what matters at the top
    assert [f.severity for f in result.findings] == sorted(severities, reverse=True)


def test_envelope_fields() -> None:
    result = CheckResult.build(summary="ok: fine", findings=[], started=Stopwatch())
    dumped = result.model_dump(mode="json")
    assert set(dumped) == {"verdict", "summary", "findings", "checked_at", "duration_ms"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", dumped["checked_at"])
    assert dumped["duration_ms"] >= 0


@pytest.mark.parametrize("code", ["CertExpired", "cert-expired", "1cert", ""])
def test_finding_codes_are_snake_case(code: str) -> None:
    with pytest.raises(ValidationError):
        Finding(severity=Verdict.OK, code=code, message="m")
