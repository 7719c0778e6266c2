"""What the status page, the badges and `/metrics` show, read from the store: pure data, no HTML.

Every figure comes from the watch report's own pieces (`watches.report`): the state and verdict
of a watch (`watch_verdict`), uptime as the share of ok and warning results (`uptime_percent`),
incidents as the report shows them (`incident_info`), and, for one watch, the report item itself
(`summarize`). What the report reads per watch from raw results, the page reads for every watch
at once from the store's hourly and daily buckets (`Store.buckets`), one indexed range each, so
500 watches over 90 days cost a few queries rather than 500 reports.

Uptime over 24 h is counted from hourly buckets, over 7, 30 and 90 days from daily ones (UTC
days): a window starts at the start of the hour or day that holds its start.

The state shown is one of `up`, `down`, `degraded` (up, but its last run failed or warned),
`unknown` (no verdict yet, or its last run could not look at the target: the monitor's own
problem, not the target's) and `paused`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from monitor_common._records import DAY, HOUR, NOT_CHECKED_CODES
from monitor_common.results import Verdict
from monitor_common.watches.models import IncidentInfo, WatchReportItem, iso
from monitor_common.watches.report import incident_info, summarize, uptime_of, watch_verdict

if TYPE_CHECKING:
    from monitor_common.store import Incident, ResultRecord, Store, Watch
    from monitor_common.watches.kind import WatchKind

__all__ = [
    "PAGE_WINDOWS",
    "STATES",
    "Point",
    "State",
    "StatusPage",
    "WatchStatus",
    "collect",
    "collect_one",
    "shown_state",
]

State = Literal["up", "down", "degraded", "unknown", "paused"]
STATES: tuple[State, ...] = ("up", "down", "degraded", "unknown", "paused")
PageWindow = Literal["24h", "7d", "30d", "90d"]
# The uptime windows of the page: seconds, and the bucket span they are counted in.
PAGE_WINDOWS: dict[str, tuple[float, float]] = {
    "24h": (DAY, HOUR),
    "7d": (7 * DAY, DAY),
    "30d": (30 * DAY, DAY),
    "90d": (90 * DAY, DAY),
}
BAR_DAYS = 90
RECENT_INCIDENTS = 20  # closed incidents listed on the overview, newest first


class Point(NamedTuple):
    """One bucket of the latency chart: its start, mean and maximum latency (ms)."""

    start: float
    mean_ms: float
    max_ms: float


@dataclass
class WatchStatus:
    """One watch as the page shows it."""

    kind: str
    name: str
    target: str
    state: State
    verdict: Verdict
    since: str | None
    last_checked: str | None
    summary: str
    codes: list[str]
    uptime: dict[str, float | None]
    days: list[float | None]  # daily uptime (percent) of the last BAR_DAYS days, oldest first
    latency: list[Point]
    incidents: list[IncidentInfo]  # open and recent, oldest first
    open_incidents: int
    last: ResultRecord | None = None
    report: WatchReportItem | None = None  # the watch report's item (one watch's page)


@dataclass
class StatusPage:
    """Every watch of the served kinds, worst first, and the incidents to list."""

    generated_at: str
    window: str
    watches: list[WatchStatus] = field(default_factory=lambda: list[WatchStatus]())
    open_incidents: list[tuple[WatchStatus, IncidentInfo]] = field(
        default_factory=lambda: list[tuple[WatchStatus, IncidentInfo]]()
    )
    recent_incidents: list[tuple[WatchStatus, IncidentInfo]] = field(
        default_factory=lambda: list[tuple[WatchStatus, IncidentInfo]]()
    )

    def count(self, state: State) -> int:
        return sum(1 for w in self.watches if w.state == state)


def shown_state(watch: Watch, last: ResultRecord | None) -> State:
    """The state a watch is shown in (badge, page, `monitor_watch_state`)."""
    if watch.paused:
        return "paused"
    if watch.state == "down":
        return "down"
    if watch.state == "pending" or last is None:
        return "unknown"
    if last.verdict == "unknown" and (not last.codes or all(c in NOT_CHECKED_CODES for c in last.codes)):
        return "unknown"
    return "degraded" if watch_verdict(watch) == Verdict.WARNING else "up"


_RANK: dict[State, int] = {"down": 0, "degraded": 1, "unknown": 2, "up": 3, "paused": 4}


# A bucket as `Store.bucket_sums` gives it: (watch, start, up, total, latency_sum, latency_n, latency_max).
Row = tuple[Any, ...]


def _days(days: Sequence[Row], now: float) -> tuple[list[float | None], dict[str, float | None]]:
    """The 90-day bar and the uptime over 7, 30 and 90 days, in one pass over the daily rows."""
    today = now - now % DAY
    first = today - (BAR_DAYS - 1) * DAY
    bar: list[float | None] = [None] * BAR_DAYS
    # Windows of N days start at the start of the day that holds now - N days.
    starts = [(name, today - seconds) for name, (seconds, span) in PAGE_WINDOWS.items() if span == DAY]
    sums = {name: [0, 0] for name, _ in starts}
    for row in days:
        start, up, total = row[1], row[2], row[3]
        index = int((start - first + DAY / 2) // DAY)  # day starts are whole multiples of DAY
        if 0 <= index < BAR_DAYS:
            bar[index] = uptime_of(up, total)
        for name, since in starts:
            if start >= since:
                pair = sums[name]
                pair[0] += up
                pair[1] += total
    return bar, {name: uptime_of(up, total) for name, (up, total) in sums.items()}


def _hours(hours: Sequence[Row], now: float) -> float | None:
    """Uptime over the 24 hours from the start of the hour that holds now - 24 h."""
    since = now - now % HOUR - DAY
    up = total = 0
    for row in hours:
        if row[1] >= since:
            up += row[2]
            total += row[3]
    return uptime_of(up, total)


def _points(rows: Sequence[Row], since: float, span: float) -> list[Point]:
    first = since - since % span
    return [
        Point(float(row[1]), row[4] / row[5], float(row[6] if row[6] is not None else 0.0))
        for row in rows
        if row[1] >= first and row[5]
    ]


def _group(rows: Sequence[Row]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    return grouped


def _status(
    kind: WatchKind,
    watch: Watch,
    last: ResultRecord | None,
    hours: Sequence[Row] | None,
    days: Sequence[Row] | None,
    incidents: Sequence[Incident],
    window: str,
    now: float,
) -> WatchStatus:
    """`hours` and `days` None: no history read (/metrics), so no uptime, bar or chart."""
    bar: list[float | None] = [None] * BAR_DAYS
    uptime: dict[str, float | None] = dict.fromkeys(PAGE_WINDOWS)
    chart: list[Point] = []
    if hours is not None and days is not None:
        bar, daily = _days(days, now)
        uptime = {"24h": _hours(hours, now), **daily}
        seconds, _ = PAGE_WINDOWS[window]
        hourly = window in ("24h", "7d")
        chart = _points(hours if hourly else days, now - seconds, HOUR if hourly else DAY)
    return WatchStatus(
        kind=kind.kind,
        name=watch.name,
        target=kind.target_of(watch.definition),
        state=shown_state(watch, last),
        verdict=watch_verdict(watch),
        since=iso(watch.state_since),
        last_checked=iso(watch.last_checked),
        summary=last.summary if last is not None else "not checked yet",
        codes=list(last.codes) if last is not None else [],
        uptime=uptime,
        days=bar,
        latency=chart,
        incidents=[incident_info(i, now) for i in incidents],
        open_incidents=sum(1 for i in incidents if i.closed_at is None),
        last=last,
    )


async def collect(
    store: Store,
    kinds: Sequence[WatchKind],
    *,
    window: str = "24h",
    history: bool = True,
    now: float | None = None,
) -> StatusPage:
    """Every watch of `kinds` in the store, worst first, with uptime, bars, latency and incidents.

    Without `history` (what /metrics needs): the state, the last result and the open incidents only.
    """
    now = time.time() if now is None else now
    page = StatusPage(generated_at=iso(now) or "", window=window)
    hours_since = now - (7 * DAY if window == "7d" else DAY)
    for kind in kinds:
        watches = await store.list_watches(kind.kind)
        if not watches:
            continue
        latest = await store.latest_results(kind.kind)
        hours: dict[str, list[Row]] | None = None
        days: dict[str, list[Row]] | None = None
        if history:
            hours = _group(await store.bucket_sums(kind.kind, hours_since, span=HOUR))
            days = _group(await store.bucket_sums(kind.kind, now - BAR_DAYS * DAY, span=DAY))
        incidents: dict[str, list[Incident]] = {}
        for incident in await store.incidents(kind.kind, None, now - 7 * DAY if history else now):
            incidents.setdefault(incident.watch, []).append(incident)
        for watch in watches:
            page.watches.append(
                _status(
                    kind,
                    watch,
                    latest.get(watch.name),
                    None if hours is None else hours.get(watch.name, []),
                    None if days is None else days.get(watch.name, []),
                    incidents.get(watch.name, []),
                    window,
                    now,
                )
            )
    page.watches.sort(key=lambda w: (_RANK[w.state], w.uptime["24h"] or 0.0, w.kind, w.name))
    for status in page.watches:
        for info in status.incidents:
            (page.open_incidents if info.closed_at is None else page.recent_incidents).append((status, info))
    page.open_incidents.sort(key=lambda p: p[1].opened_at)
    page.recent_incidents.sort(key=lambda p: p[1].closed_at or "", reverse=True)
    del page.recent_incidents[RECENT_INCIDENTS:]
    return page


async def collect_one(
    store: Store, kind: WatchKind, name: str, *, window: str = "24h", now: float | None = None
) -> WatchStatus | None:
    """One watch with its report item over `window` (None: no such watch)."""
    now = time.time() if now is None else now
    watch = await store.get_watch(kind.kind, name)
    if watch is None:
        return None
    seconds, _ = PAGE_WINDOWS[window]
    since = now - seconds
    hours = await store.bucket_sums(
        kind.kind, now - (7 * DAY if window == "7d" else DAY), span=HOUR, watch=name
    )
    days = await store.bucket_sums(kind.kind, now - BAR_DAYS * DAY, span=DAY, watch=name)
    incidents = await store.incidents(kind.kind, name, since)
    stats = await store.window(kind.kind, name, since)
    status = _status(kind, watch, stats.last, hours, days, incidents, window, now)
    status.report = summarize(kind, watch, stats, await store.rollups(kind.kind, name, since), incidents, now)
    return status
