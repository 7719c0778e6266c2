"""Report building for `<kind>_watch_report`, pure: store records in, report models out.

`WatchService.report` reads the store; everything here only computes, so it is tested with
records made by hand: uptime and latency percentiles over a window (raw results plus hourly
rollups), incidents, the trends of the key figures, and the report's findings and summary.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.watches.models import (
    FigureTrend,
    IncidentInfo,
    LastResult,
    LatencyStats,
    TimelineBucket,
    WatchReport,
    WatchReportItem,
    Window,
    iso,
    verdict_of,
)

if TYPE_CHECKING:
    from monitor_common.store import Incident, ResultRecord, Rollup, Watch, WindowStats
    from monitor_common.watches.kind import WatchKind

__all__ = [
    "SLICES",
    "WINDOWS",
    "incident_info",
    "last_result",
    "not_watched",
    "report_of",
    "summarize",
    "timeline",
    "trends",
    "uptime_of",
    "uptime_percent",
    "watch_verdict",
]

WINDOWS = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
# How many slices a timeline cuts each window into: 5 minutes, an hour, 6 hours, a day.
SLICES = {"1h": 12, "24h": 24, "7d": 28, "30d": 30}


def last_result(record: ResultRecord) -> LastResult:
    return LastResult(
        checked_at=iso(record.checked_at) or "",
        verdict=verdict_of(record.verdict),
        summary=record.summary,
        codes=list(record.codes),
        figures=dict(record.figures),
    )


def incident_info(incident: Incident, now: float) -> IncidentInfo:
    return IncidentInfo(
        opened_at=iso(incident.opened_at) or "",
        closed_at=iso(incident.closed_at),
        duration_s=round(incident.duration_s(now), 3),
        cause=incident.cause,
        verdict=verdict_of(incident.verdict),
    )


def trends(series: list[tuple[float, Mapping[str, Any]]]) -> dict[str, FigureTrend]:
    points: dict[str, list[tuple[float, float]]] = {}
    for at, figures in sorted(series, key=lambda p: p[0]):
        for key, value in figures.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                points.setdefault(key, []).append((at, float(value)))
    trends: dict[str, FigureTrend] = {}
    for key, values in points.items():
        (t0, first), (t1, last) = values[0], values[-1]
        numbers = [v for _, v in values]
        trends[key] = FigureTrend(
            first=first,
            last=last,
            min=min(numbers),
            max=max(numbers),
            change_per_day=round((last - first) / (t1 - t0) * 86400, 4) if t1 > t0 else None,
        )
    return trends


def timeline(
    window: Window,
    points: Sequence[tuple[float, str, float | None]],
    rollups: Sequence[Rollup],
    now: float,
) -> list[TimelineBucket]:
    """The window ending at `now` in `SLICES[window]` equal slices, oldest first: per slice the
    checks, the failures (critical or unknown) and the latency p50/p95 of the raw results
    (`points`: checked_at, verdict, latency_ms). A slice that only hourly rollups cover takes
    their counts, the median of their p50s and the highest of their p95s (the raw latencies are
    gone); an empty slice is kept, with no checks, so that a gap shows as one."""
    from monitor_common.store import FAILING_VERDICTS, percentile

    count = SLICES[window]
    width = WINDOWS[window] / count
    start = now - WINDOWS[window]
    checks = [0] * count
    failed = [0] * count
    latencies: list[list[float]] = [[] for _ in range(count)]
    rolled: list[list[Rollup]] = [[] for _ in range(count)]

    def slot(at: float) -> int | None:
        index = int((at - start) // width)
        return min(index, count - 1) if index >= 0 else None

    for at, verdict, latency in points:
        index = slot(at)
        if index is None:
            continue
        checks[index] += 1
        failed[index] += verdict in FAILING_VERDICTS
        if latency is not None:
            latencies[index].append(latency)
    for rollup in rollups:
        index = slot(rollup.hour)
        if index is None:
            continue
        checks[index] += rollup.total
        failed[index] += sum(int(rollup.counts.get(v, 0)) for v in FAILING_VERDICTS)
        rolled[index].append(rollup)
    buckets: list[TimelineBucket] = []
    for index in range(count):
        values = sorted(latencies[index])
        p50, p95 = percentile(values, 50), percentile(values, 95)
        if not values and rolled[index]:
            medians = sorted(r.p50_ms for r in rolled[index] if r.p50_ms is not None)
            highs = [r.p95_ms for r in rolled[index] if r.p95_ms is not None]
            p50, p95 = percentile(medians, 50), max(highs, default=None)
        buckets.append(
            TimelineBucket(
                start=iso(start + index * width) or "",
                checks=checks[index],
                failed=failed[index],
                p50_ms=p50,
                p95_ms=p95,
            )
        )
    return buckets


def uptime_percent(counts: Mapping[str, int]) -> float | None:
    """The share of results that were ok or warning, in percent (None: no result)."""
    return uptime_of(counts.get("ok", 0) + counts.get("warning", 0), sum(counts.values()))


def uptime_of(up: int, total: int) -> float | None:
    """`up` results (ok or warning) of `total`, in percent to 3 decimals (None: no result)."""
    return round(100.0 * up / total, 3) if total else None


def watch_verdict(watch: Watch) -> Verdict:
    """A watch's verdict in a report: critical while down, warning while its last run failed or
    warned (not yet down, or not down any more), else ok."""
    from monitor_common.store import FAILING_VERDICTS

    if watch.state == "down":
        return Verdict.CRITICAL
    if watch.last_verdict in FAILING_VERDICTS or watch.last_verdict == "warning":
        return Verdict.WARNING
    return Verdict.OK


def summarize(
    kind: WatchKind,
    watch: Watch,
    stats: WindowStats,
    rollups: Sequence[Rollup],
    incidents: Sequence[Incident],
    now: float,
    slices: list[TimelineBucket] | None = None,
) -> WatchReportItem:
    """One watch over a window: its raw results (`stats`) and the hourly rollups older than those;
    `slices`, its timeline, only when the caller draws it."""
    from monitor_common.store import percentile

    counts = dict(stats.counts)
    for rollup in rollups:
        for key, value in rollup.counts.items():
            counts[key] += int(value)
    total = sum(counts.values())
    uptime = uptime_percent(counts)
    latencies = stats.latencies
    latency = (
        LatencyStats(
            samples=len(latencies),
            p50_ms=percentile(latencies, 50),
            p95_ms=percentile(latencies, 95),
            p99_ms=percentile(latencies, 99),
            max_ms=latencies[-1],
        )
        if latencies
        else None
    )
    series: list[tuple[float, Mapping[str, Any]]] = [(r.hour, r.figures) for r in rollups]
    series += stats.series
    last = stats.last
    verdict = watch_verdict(watch)
    return WatchReportItem(
        name=watch.name,
        target=kind.target_of(watch.definition),
        state=watch.state,
        paused=watch.paused,
        verdict=verdict,
        checks=total,
        counts=counts,
        uptime_percent=uptime,
        latency=latency,
        incidents=[incident_info(i, now) for i in incidents],
        last_result=last_result(last) if last is not None else None,
        trends={k: v for k, v in trends(series).items() if kind.trends is None or k in kind.trends},
        timeline=slices,
    )


def report_of(kind: str, items: list[WatchReportItem], window: Window, started: Stopwatch) -> WatchReport:
    """The report on several watches: worst first, a finding per watch down or degraded."""
    items = sorted(
        items,
        key=lambda i: (-i.verdict.rank, i.uptime_percent if i.uptime_percent is not None else 101.0, i.name),
    )
    findings: list[Finding] = []
    for item in items:
        if item.state == "down" and not item.paused:
            cause = item.incidents[-1].cause if item.incidents else "failing"
            findings.append(
                Finding(severity=Verdict.CRITICAL, code="watch_down", message=f"{item.name} is down: {cause}")
            )
        elif item.verdict == Verdict.WARNING:
            summary = item.last_result.summary if item.last_result else ""
            findings.append(
                Finding(severity=Verdict.WARNING, code="watch_degraded", message=f"{item.name}: {summary}")
            )
    if not items:
        summary = f"no {kind} watches yet: add one with {kind}_watch action=add"
    else:
        parts = [
            f"{i.name} {i.uptime_percent:.2f}% up" if i.uptime_percent is not None else f"{i.name} no data"
            for i in items[:5]
        ]
        summary = f"{window}: " + ", ".join(parts) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")
    return WatchReport.build(
        summary=summary, findings=findings, started=started, window=window, watches=items
    )


def not_watched(name: str, recorded: Sequence[ResultRecord], window: Window, now: float) -> WatchReport:
    """The report on a target that is not watched but whose on-demand checks were recorded."""
    last = recorded[0]
    return WatchReport(
        verdict=verdict_of(last.verdict),
        summary=f"{name} is not watched; last checked {iso(last.checked_at)}: {last.summary}",
        checked_at=iso(now) or "",
        duration_ms=round((time.time() - now) * 1000, 2),
        window=window,
        recorded=[last_result(r) for r in recorded],
    )
