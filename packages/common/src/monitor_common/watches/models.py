"""The results of the watch tools (pydantic models, so each tool has an output schema) and the
small helpers every part of the watches uses to fill them in."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from monitor_common.results import CheckResult, Finding, Verdict

__all__ = [
    "Action",
    "FigureTrend",
    "IncidentInfo",
    "LastResult",
    "LatencyStats",
    "TimelineBucket",
    "WatchActionResult",
    "WatchInfo",
    "WatchReport",
    "WatchReportItem",
    "Window",
    "envelope",
    "iso",
    "verdict_of",
    "watch_uri",
]

Window = Literal["1h", "24h", "7d", "30d"]
Action = Literal["add", "remove", "list", "pause", "resume", "test_notify"]


class WatchInfo(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built when a watch tool first runs

    name: str = Field(description="The watch's name")
    target: str = Field(description="What it checks")
    state: Literal["pending", "up", "down"] = Field(
        description="up or down after the thresholds; pending before"
    )
    paused: bool
    interval_s: float
    failure_threshold: int
    success_threshold: int
    state_since: str | None = Field(default=None, description="When the state last changed, ISO 8601 UTC")
    last_checked: str | None = None
    last_verdict: Verdict | None = None
    next_run: str | None = Field(default=None, description="When it runs next (None while paused)")
    runs: int = Field(description="Checks run so far")
    uri: str = Field(description="The resource with its history, to read or subscribe to")
    definition: dict[str, Any] = Field(description="The check's arguments")
    file: str | None = Field(default=None, description="The watches file that declares it: change it there")
    notify: list[str] = Field(
        default_factory=lambda: list[str](),
        description="Where incidents are sent besides MCP_MONITOR_NOTIFY: target names, URLs redacted",
    )
    notify_repeat_s: float | None = Field(default=None, description="A reminder this often while down")


class WatchActionResult(CheckResult):
    """What a watch action did; for add, with the first check's result."""

    action: Action
    watch: WatchInfo | None = None
    watches: list[WatchInfo] = Field(default_factory=lambda: list[WatchInfo]())
    result: dict[str, Any] | None = Field(default=None, description="add: the first check's full result")
    result_id: int | None = Field(default=None, description="add: the id under which that result is stored")


class LatencyStats(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built when a watch tool first runs

    samples: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class IncidentInfo(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built when a watch tool first runs

    opened_at: str
    closed_at: str | None = Field(description="None while it is still open")
    duration_s: float
    cause: str = Field(description="Summary and finding codes of the result that opened it")
    verdict: Verdict


class TimelineBucket(BaseModel):
    """One slice of a report's window, for drawing it (the MCP Apps view): checks, failures, latency."""

    model_config = ConfigDict(defer_build=True)  # built when a watch tool first runs

    start: str = Field(description="ISO 8601 UTC")
    checks: int
    failed: int = Field(description="Results that were critical or unknown")
    p50_ms: float | None = None
    p95_ms: float | None = None


class FigureTrend(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built when a watch tool first runs

    first: float
    last: float
    min: float
    max: float
    change_per_day: float | None = Field(description="Average change per day over the window")


class LastResult(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built when a watch tool first runs

    checked_at: str
    verdict: Verdict
    summary: str
    codes: list[str]
    figures: dict[str, Any]


class WatchReportItem(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built when a watch tool first runs

    name: str
    target: str
    state: Literal["pending", "up", "down"]
    paused: bool
    verdict: Verdict = Field(description="critical while down, warning while failing or degraded, else ok")
    checks: int = Field(description="Results in the window (raw and rolled up)")
    counts: dict[str, int] = Field(description="Results per verdict in the window")
    uptime_percent: float | None = Field(description="Share of results that were ok or warning")
    latency: LatencyStats | None = None
    incidents: list[IncidentInfo] = Field(default_factory=lambda: list[IncidentInfo]())
    last_result: LastResult | None = None
    trends: dict[str, FigureTrend] = Field(
        default_factory=lambda: dict[str, FigureTrend](), description="Key figures over the window"
    )
    # Only for a host that shows the MCP Apps view (`monitor_common.apps`); left out of the result
    # otherwise, so that a model reading the report pays nothing for it.
    timeline: list[TimelineBucket] | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="The window in equal slices, oldest first (for hosts that draw the report)",
    )


class WatchReport(CheckResult):
    """History of this server's watches over a window, worst first."""

    window: Window
    watches: list[WatchReportItem] = Field(default_factory=lambda: list[WatchReportItem]())
    recorded: list[LastResult] = Field(
        default_factory=lambda: list[LastResult](),
        description="On-demand results stored for a target that is not watched (MCP_MONITOR_RECORD)",
    )


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def verdict_of(text: str | None) -> Verdict:
    try:
        return Verdict(text or "unknown")
    except ValueError:
        return Verdict.UNKNOWN


def envelope(verdict: Verdict, summary: str, findings: list[Finding], started: float) -> dict[str, Any]:
    return CheckResult(
        verdict=verdict,
        summary=summary,
        findings=findings,
        checked_at=iso(started) or "",
        duration_ms=round((time.time() - started) * 1000, 2),
    ).model_dump(mode="json")


def watch_uri(name: str) -> str:
    """`monitor://watches/{name}` with the name percent-encoded (names are often URLs)."""
    return "monitor://watches/" + quote(name, safe="")
