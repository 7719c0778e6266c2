"""The records of `monitor_common.store` and the logic that needs no database.

`advance_state` is the flap suppression: a watch goes down after `failure_threshold` failures
in a row and up after `success_threshold` successes; `percentile` is the nearest-rank
percentile the reports and rollups use. `monitor_common.store` re-exports everything here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from monitor_common import findings

__all__ = [
    "DAY",
    "FAILING_VERDICTS",
    "HOUR",
    "VERDICTS",
    "Announce",
    "Bucket",
    "Change",
    "Completion",
    "Delivery",
    "Incident",
    "Outgoing",
    "ResultRecord",
    "Rollup",
    "Watch",
    "WatchSpec",
    "WatchState",
    "WindowStats",
    "advance_state",
    "percentile",
]

FAILING_VERDICTS = frozenset({"critical", "unknown"})
# Finding codes of a run that did not look at the target (the per-host rate limit held it back, or
# the monitor had no working network): such a run is evidence of nothing, so it moves the watch
# neither down nor up. The shared table of finding codes says which codes these are.
NOT_CHECKED_CODES = findings.NOT_CHECKED_CODES
VERDICTS = ("ok", "warning", "critical", "unknown")
HOUR = 3600.0
DAY = 86400.0
WatchState = Literal["pending", "up", "down"]
Change = Literal["opened", "closed"]


# --- records ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchSpec:
    """What a caller asks to watch."""

    kind: str
    name: str
    definition: Mapping[str, Any]
    interval_s: float
    failure_threshold: int = 2
    success_threshold: int = 1
    # The watches file that declares it (`MCP_MONITOR_WATCHES_FILE`); None: added with a tool.
    managed_by: str | None = None
    notify: tuple[str, ...] = ()  # Apprise URLs and names of operator targets
    notify_repeat_s: float | None = None  # a reminder this often while an incident stays open


@dataclass(frozen=True)
class Watch:
    """A stored watch with its state."""

    kind: str
    name: str
    definition: dict[str, Any]
    interval_s: float
    failure_threshold: int
    success_threshold: int
    paused: bool
    state: WatchState
    state_since: float | None
    consecutive_failures: int
    consecutive_successes: int
    next_run: float
    lease_owner: str | None
    lease_until: float | None
    created_at: float
    last_checked: float | None
    last_verdict: str | None
    runs: int
    managed_by: str | None = None
    notify: tuple[str, ...] = ()
    notify_repeat_s: float | None = None


@dataclass(frozen=True)
class ResultRecord:
    """One check result as stored. `watch` is None for an on-demand check."""

    kind: str
    watch: str | None
    tool: str
    target: str
    checked_at: float
    verdict: str
    summary: str
    duration_ms: float
    latency_ms: float | None = None
    figures: Mapping[str, Any] = field(default_factory=lambda: dict[str, Any]())
    codes: tuple[str, ...] = ()
    scheduled_at: float | None = None
    id: int | None = None
    # The result's findings (severity, code, message, hint) for the notification of an incident
    # it opens; not stored (the codes are).
    findings: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Incident:
    """A period a watch was down: opened by a failure streak, closed by a success streak."""

    id: int
    kind: str
    watch: str
    opened_at: float
    closed_at: float | None
    cause: str
    verdict: str

    def duration_s(self, now: float) -> float:
        return (self.closed_at if self.closed_at is not None else now) - self.opened_at


@dataclass(frozen=True)
class Rollup:
    """One hour of a watch's results after the raw rows expired."""

    kind: str
    watch: str
    hour: float
    counts: dict[str, int]
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    figures: dict[str, Any]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class Bucket(NamedTuple):
    """A watch's results of one hour or one day (`span` seconds from `start`), counted as stored.

    A named tuple, not a dataclass: the status page reads tens of thousands at once.
    """

    watch: str
    span: float
    start: float
    ok: int
    warning: int
    critical: int
    unknown: int
    latency_sum: float
    latency_n: int
    latency_max: float | None

    @property
    def counts(self) -> dict[str, int]:
        return {"ok": self.ok, "warning": self.warning, "critical": self.critical, "unknown": self.unknown}

    @property
    def up(self) -> int:
        """Results that count as up (ok or warning), as the watch report counts them."""
        return self.ok + self.warning

    @property
    def total(self) -> int:
        return self.ok + self.warning + self.critical + self.unknown

    @property
    def mean_ms(self) -> float | None:
        return self.latency_sum / self.latency_n if self.latency_n else None


@dataclass(frozen=True)
class WindowStats:
    """A watch's raw results since some time, aggregated by the database."""

    counts: dict[str, int]
    latencies: list[float]  # sorted
    series: list[tuple[float, dict[str, Any]]]  # (checked_at, figures), at most about `max_points`
    last: ResultRecord | None  # the newest result, also before the window


@dataclass(frozen=True)
class Outgoing:
    """A notification to record for sending: one target of one incident transition."""

    event: str  # opened | resolved | reminder
    target: str  # the Apprise URL (secret)
    shown: str  # how listings and logs name it
    checked: bool  # a caller's URL: the network policy applies when it is sent
    title: str
    body: str


@dataclass(frozen=True)
class Delivery:
    """A notification in the outbox (`deliveries`): pending until sent, then delivered or failed."""

    id: int
    kind: str
    watch: str
    incident: int | None
    event: str
    target: str
    shown: str
    checked: bool
    title: str
    body: str
    created_at: float
    status: str  # pending | delivered | failed
    attempts: int
    next_attempt: float
    lease_owner: str | None
    lease_until: float | None
    sent_at: float | None
    outcome: str | None


# Called inside the transaction that records a transition (or a run of a watch that stays down,
# event "reminder", with the time the incident was last announced): the notifications to record.
Announce = Callable[[Watch, str, Incident, ResultRecord, "float | None"], Sequence[Outgoing]]


@dataclass(frozen=True)
class Completion:
    """What storing a watch's result changed."""

    watch: Watch
    result_id: int
    change: Change | None
    incident: Incident | None
    deliveries: tuple[Delivery, ...] = ()


# --- pure logic ------------------------------------------------------------------------------------


def advance_state(
    state: WatchState,
    failures: int,
    successes: int,
    verdict: str,
    *,
    failure_threshold: int,
    success_threshold: int,
    codes: Sequence[str] = (),
) -> tuple[WatchState, int, int, Change | None]:
    """The state after one more result: (state, consecutive failures, successes, change).

    `pending` (no verdict yet) becomes `up` at the first success (there is nothing to recover
    from) and `down` after `failure_threshold` failures; only going down opens an incident and only
    coming back up from `down` closes one. An unknown result whose finding `codes` all say the
    target was not checked (`NOT_CHECKED_CODES`) changes nothing.
    """
    if verdict == "unknown" and codes and all(code in NOT_CHECKED_CODES for code in codes):
        return state, failures, successes, None
    if verdict in FAILING_VERDICTS:
        failures, successes = failures + 1, 0
        if state != "down" and failures >= failure_threshold:
            return "down", failures, successes, "opened"
    else:
        failures, successes = 0, successes + 1
        if state == "pending" or (state == "down" and successes >= success_threshold):
            return "up", failures, successes, "closed" if state == "down" else None
    return state, failures, successes, None


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile `p` (0-100) of already sorted values; None for none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]
