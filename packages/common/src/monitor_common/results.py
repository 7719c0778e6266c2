"""The result envelope every check tool returns, and the verdict and findings it is made of.

A check never reports a target's failure by raising: it returns a `CheckResult` subclass whose
`verdict` is the worst of its findings' severities. `unknown` means the check itself could not
complete (for example the resolver it was told to use did not answer), which is different from
the target being down (`critical`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CheckResult", "Finding", "Stopwatch", "Verdict", "utc_now"]


class Verdict(StrEnum):
    """How bad a result is, ordered: ok < warning < critical < unknown.

    `unknown` ranks worst because an operator must look: nothing is known about the target.
    The order matches the exit statuses of monitoring plugins (0, 1, 2, 3).
    """

    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def exit_code(self) -> int:
        """The Nagios-style exit status: 0 ok, 1 warning, 2 critical, 3 unknown."""
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Verdict):
            return NotImplemented
        return _RANK[self] < _RANK[other]

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Verdict):
            return NotImplemented
        return _RANK[self] <= _RANK[other]

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Verdict):
            return NotImplemented
        return _RANK[self] > _RANK[other]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Verdict):
            return NotImplemented
        return _RANK[self] >= _RANK[other]

    @classmethod
    def worst(cls, verdicts: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
        """The most severe of `verdicts`; `ok` for none."""
        return max(verdicts, key=_RANK.__getitem__, default=cls.OK)


_RANK = {Verdict.OK: 0, Verdict.WARNING: 1, Verdict.CRITICAL: 2, Verdict.UNKNOWN: 3}


class Finding(BaseModel):
    """One observation about the target, with a stable machine-readable code."""

    model_config = ConfigDict(frozen=True)

    severity: Verdict = Field(description="How bad this observation is: ok, warning, critical or unknown")
    code: str = Field(
        description="Stable snake_case identifier, e.g. cert_expiring_soon", pattern=r"^[a-z][a-z0-9_]*$"
    )
    message: str = Field(description="What was observed, in one sentence")
    hint: str | None = Field(default=None, description="What to do about it, if anything")


def utc_now() -> str:
    """The current time as ISO 8601 UTC with seconds precision, e.g. 2026-11-26T00:37:16Z."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


class CheckResult(BaseModel):
    """The envelope shared by every check tool; tools subclass it and add their own fields."""

    # A server declares a dozen result models and a `call` from cron uses one: each builds its
    # validator and serializer when first used, not when its module is imported.
    model_config = ConfigDict(defer_build=True)

    verdict: Verdict = Field(description="Worst severity among the findings (ok when there are none)")
    summary: str = Field(description="One line a person or model can read alone")
    findings: list[Finding] = Field(default_factory=lambda: list[Finding]())
    checked_at: str = Field(description="When the check started, ISO 8601 UTC")
    duration_ms: float = Field(description="Total time the check took, in milliseconds")

    @classmethod
    def build(cls, *, summary: str, findings: list[Finding], started: Stopwatch, **fields: object) -> Self:
        """Make a result whose verdict is derived from `findings` and whose timing comes from `started`."""
        verdict = Verdict.worst([f.severity for f in findings])
        return cls(
            verdict=verdict,
            summary=summary,
            findings=sorted(findings, key=lambda f: -f.severity.rank),
            checked_at=started.started_at,
            duration_ms=started.elapsed_ms(),
            **fields,
        )


class Stopwatch:
    """Wall-clock start time for the envelope plus a monotonic clock for durations."""

    __slots__ = ("_t0", "started_at")

    def __init__(self) -> None:
        self.started_at = utc_now()
        self._t0 = time.perf_counter()

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self._t0) * 1000, 2)
