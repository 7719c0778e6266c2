"""A report's timeline (what the MCP Apps view draws): the window in equal slices, pure."""

from __future__ import annotations

from typing import get_args

import pytest
from monitor_common.store import Rollup
from monitor_common.watches.models import Window, iso
from monitor_common.watches.report import SLICES, WINDOWS, timeline

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
HOUR = 3600.0


@pytest.mark.parametrize(
    ("window", "slices", "width_s"),
    [("1h", 12, 300.0), ("24h", 24, HOUR), ("7d", 28, 6 * HOUR), ("30d", 30, 24 * HOUR)],
)
def test_each_window_is_cut_into_equal_slices_ending_now(window: Window, slices: int, width_s: float) -> None:
    buckets = timeline(window, [], [], NOW)
    assert len(buckets) == slices == SLICES[window]
    assert slices * width_s == WINDOWS[window]
    assert buckets[0].start == iso(NOW - WINDOWS[window]) and buckets[-1].start == iso(NOW - width_s)
    # Empty slices are kept, so that a gap in the checks shows as one.
    assert all(b.checks == 0 and b.failed == 0 and b.p50_ms is None for b in buckets)


def test_every_window_has_slices() -> None:
    assert set(get_args(Window)) == set(SLICES) == set(WINDOWS)


def test_results_fall_in_their_slice_with_failures_and_latency() -> None:
    start = NOW - HOUR
    points: list[tuple[float, str, float | None]] = [
        (start - 1, "critical", 999.0),  # before the window: left out
        (start, "ok", 10.0),  # the first instant of the first slice
        (start + 299.9, "warning", 30.0),  # still the first slice; warning is up
        (start + 300, "critical", None),  # the second slice; a failure without latency
        (start + 301, "unknown", 50.0),  # unknown counts as failed, as in the uptime
        (NOW, "ok", 20.0),  # the very end belongs to the last slice
    ]
    buckets = timeline("1h", points, [], NOW)
    first, second, last = buckets[0], buckets[1], buckets[-1]
    assert (first.checks, first.failed, first.p50_ms, first.p95_ms) == (2, 0, 10.0, 30.0)
    assert (second.checks, second.failed, second.p50_ms, second.p95_ms) == (2, 2, 50.0, 50.0)
    assert (last.checks, last.failed, last.p50_ms) == (1, 0, 20.0)
    assert sum(b.checks for b in buckets) == 5
    assert first.start == "2027-01-15T07:00:00Z" and second.start == "2027-01-15T07:05:00Z"


def test_percentiles_are_nearest_rank_within_a_slice() -> None:
    points = [(NOW - 10, "ok", float(ms)) for ms in range(1, 101)]
    (*_, last) = timeline("24h", points, [], NOW)
    assert (last.checks, last.p50_ms, last.p95_ms) == (100, 50.0, 95.0)


def test_rolled_up_hours_fill_the_slices_whose_raw_results_are_gone() -> None:
    def rollup(hour: float, ok: int, critical: int, p50: float, p95: float) -> Rollup:
        counts = {"ok": ok, "warning": 0, "critical": critical, "unknown": 0}
        return Rollup("http", "site", hour, counts, p50, p95, p95, p95, {})

    day0 = NOW - 30 * 24 * HOUR
    rollups = [rollup(day0, 10, 2, 100.0, 300.0), rollup(day0 + HOUR, 12, 0, 120.0, 200.0)]
    buckets = timeline("30d", [(NOW - 1, "ok", 5.0)], rollups, NOW)
    first = buckets[0]
    assert (first.checks, first.failed) == (24, 2)
    # The median of the hours' p50s and the worst of their p95s: the raw latencies are gone.
    assert (first.p50_ms, first.p95_ms) == (100.0, 300.0)
    assert (buckets[-1].checks, buckets[-1].p50_ms) == (1, 5.0)
