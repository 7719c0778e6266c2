"""The store on both backends: watches, leases, state and incidents, results, retention."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from monitor_common.errors import InputError, StoreError
from monitor_common.store import (
    ResultRecord,
    Store,
    WatchSpec,
    advance_state,
    open_store,
    percentile,
)

HOUR = 3600.0
DAY = 86400.0


@pytest.mark.parametrize(
    ("state", "failures", "successes", "verdict", "expected"),
    [
        ("pending", 0, 0, "ok", ("up", 0, 1, None)),
        ("pending", 0, 0, "critical", ("pending", 1, 0, None)),
        ("pending", 1, 0, "critical", ("down", 2, 0, "opened")),
        ("up", 0, 5, "warning", ("up", 0, 6, None)),
        ("up", 0, 5, "unknown", ("up", 1, 0, None)),
        ("up", 1, 0, "critical", ("down", 2, 0, "opened")),
        ("up", 1, 0, "ok", ("up", 0, 1, None)),
        ("down", 7, 0, "critical", ("down", 8, 0, None)),
        ("down", 7, 0, "ok", ("down", 0, 1, None)),
        ("down", 0, 1, "ok", ("up", 0, 2, "closed")),
    ],
)
def test_flap_suppression(
    state: str, failures: int, successes: int, verdict: str, expected: tuple[str, int, int, str | None]
) -> None:
    # failure_threshold 2, success_threshold 2: one bad or good result alone changes nothing.
    got = advance_state(state, failures, successes, verdict, failure_threshold=2, success_threshold=2)  # type: ignore[arg-type]
    assert got == expected


def test_a_run_held_back_by_the_rate_limit_moves_the_watch_neither_way() -> None:
    # Two rate-limited runs in a row would open an incident if they counted as failures; an
    # unknown run with another finding, or with rate_limited beside it, still counts.
    held = {"failure_threshold": 2, "success_threshold": 2, "codes": ("rate_limited",)}
    assert advance_state("up", 1, 0, "unknown", **held) == ("up", 1, 0, None)
    assert advance_state("down", 3, 1, "unknown", **held) == ("down", 3, 1, None)
    assert advance_state(
        "up", 1, 0, "unknown", failure_threshold=2, success_threshold=2, codes=("rate_limited", "timeout")
    ) == ("down", 2, 0, "opened")
    assert advance_state("up", 1, 0, "unknown", failure_threshold=2, success_threshold=2) == (
        "down",
        2,
        0,
        "opened",
    )


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 95) == 7
    assert percentile([], 50) is None


@pytest.fixture
async def store(store_target: str) -> AsyncIterator[Store]:
    opened = await open_store(store_target)
    assert opened is not None
    try:
        yield opened
    finally:
        await opened.close()


def result(
    verdict: str = "ok",
    *,
    at: float | None = None,
    watch: str | None = "w",
    latency: float = 10.0,
    figures: dict[str, float] | None = None,
) -> ResultRecord:
    return ResultRecord(
        kind="http",
        watch=watch,
        tool="http_check",
        target="https://example.test/",
        checked_at=time.time() if at is None else at,
        verdict=verdict,
        summary=f"it is {verdict}",
        duration_ms=latency + 1,
        latency_ms=latency,
        figures=figures or {},
        codes=("http_status",) if verdict != "ok" else (),
    )


def spec(
    name: str = "w", interval_s: float = 60, failure_threshold: int = 2, success_threshold: int = 1
) -> WatchSpec:
    return WatchSpec(
        kind="http",
        name=name,
        definition={"url": "https://example.test/"},
        interval_s=interval_s,
        failure_threshold=failure_threshold,
        success_threshold=success_threshold,
    )


async def test_watch_lifecycle(store: Store) -> None:
    now = time.time()
    done = await store.add_watch(spec(), result("ok", at=now), now)
    assert done.watch.state == "up" and done.watch.runs == 1 and done.result_id > 0
    # The first scheduled run comes one interval later, spread by up to 10 %.
    assert now + 54 <= done.watch.next_run <= now + 60
    with pytest.raises(InputError, match="already exists"):
        await store.add_watch(spec(), result(), now)
    assert [w.name for w in await store.list_watches("http")] == ["w"]
    assert await store.list_watches("cert") == []

    paused = await store.set_paused("http", "w", True, now)
    assert paused is not None and paused.paused
    assert await store.claim_due("http", "a", now + 1000, 10) == []
    resumed = await store.set_paused("http", "w", False, now + 5)
    assert resumed is not None and not resumed.paused and resumed.next_run == now + 5
    assert await store.set_paused("http", "nope", True, now) is None

    assert await store.remove_watch("http", "w")
    assert not await store.remove_watch("http", "w")
    assert await store.results("http", "w", 0) == []


async def test_leases_one_owner_per_run(store: Store) -> None:
    now = time.time()
    await store.add_watch(spec(interval_s=10), result(at=now), now)
    due = now + 10
    assert await store.next_due("http", now) == pytest.approx(due, abs=1.0)
    assert await store.claim_due("http", "a", now, 10) == []  # not due yet
    (claimed,) = await store.claim_due("http", "a", due, 10)
    assert claimed.lease_owner == "a"
    assert await store.claim_due("http", "b", due + 1, 10) == []  # leased to a
    # While a holds the lease, the next thing to look at is when it expires.
    assert await store.next_due("http", due + 1) == pytest.approx(due + 10)

    done = await store.complete(claimed, "a", result(at=due + 0.1), due + 0.2)
    assert done is not None
    assert done.watch.lease_owner is None
    # Anchored to the schedule: one interval after the run was due, not after it finished.
    assert done.watch.next_run == pytest.approx(claimed.next_run + 10)


async def test_an_expired_lease_passes_to_another_process(store: Store) -> None:
    now = time.time()
    await store.add_watch(spec(interval_s=10), result(at=now), now)
    due = (await store.list_watches("http"))[0].next_run
    (taken,) = await store.claim_due("http", "dead", due, 10)
    # "dead" never completes; after one interval its lease has expired.
    assert await store.claim_due("http", "alive", due + 9.9, 10) == []
    (retaken,) = await store.claim_due("http", "alive", due + 10, 10)
    assert retaken.lease_owner == "alive"
    late = await store.complete(taken, "dead", result(at=due + 10.5), due + 10.5)
    assert late is not None and late.watch.lease_owner == "alive"  # the late result counts, the lease stays
    done = await store.complete(retaken, "alive", result(at=due + 10.1), due + 10.6)
    assert done is not None and done.watch.lease_owner is None
    assert done.watch.next_run == pytest.approx(due + 20)


async def test_a_run_far_behind_restarts_the_schedule(store: Store) -> None:
    now = time.time()
    await store.add_watch(spec(interval_s=10), result(at=now), now)
    due = (await store.list_watches("http"))[0].next_run
    (claimed,) = await store.claim_due("http", "a", due + 100, 10)
    done = await store.complete(claimed, "a", result(at=due + 100), due + 100)
    assert done is not None and done.watch.next_run == pytest.approx(due + 110)


async def test_incidents_open_and_close_with_thresholds(store: Store) -> None:
    t = time.time()
    await store.add_watch(spec(failure_threshold=2, success_threshold=2), result("ok", at=t), t)
    states: list[tuple[str, str | None]] = []
    for i, verdict in enumerate(
        ["critical", "ok", "critical", "critical", "critical", "ok", "unknown", "ok", "ok"]
    ):
        at = t + 10 * (i + 1)
        claim_at = t + 1000 * (i + 1)  # always past the next run
        (watch,) = await store.claim_due("http", "a", claim_at, 1)
        done = await store.complete(watch, "a", result(verdict, at=at), claim_at)
        assert done is not None
        states.append((done.watch.state, done.change))
    assert states == [
        ("up", None),
        ("up", None),  # one failure alone does not count
        ("up", None),
        ("down", "opened"),
        ("down", None),
        ("down", None),  # one success alone does not either
        ("down", None),
        ("down", None),
        ("up", "closed"),
    ]
    (incident,) = await store.incidents("http", "w", t)
    assert incident.opened_at == pytest.approx(t + 40)
    assert incident.closed_at == pytest.approx(t + 90)
    assert incident.duration_s(t + 1000) == pytest.approx(50)
    assert "it is critical" in incident.cause and "http_status" in incident.cause
    assert await store.incidents("http", "w", t + 95) == []


async def test_removed_while_running_drops_the_result(store: Store) -> None:
    now = time.time()
    await store.add_watch(spec(interval_s=10), result(at=now), now)
    (claimed,) = await store.claim_due("http", "a", now + 11, 10)
    await store.remove_watch("http", "w")
    assert await store.complete(claimed, "a", result(), now + 12) is None


async def test_recorded_on_demand_results(store: Store) -> None:
    ids = [await store.record(result(v, watch=None, at=1000.0 + i)) for i, v in enumerate(["ok", "critical"])]
    recorded = await store.recorded("http", "https://example.test/")
    assert [r.id for r in recorded] == ids[::-1]
    assert recorded[0].verdict == "critical" and recorded[0].codes == ("http_status",)
    assert await store.result_ids([*ids, 999_999]) == set(ids)


async def test_retention_rolls_whole_hours_into_rollups(store: Store) -> None:
    now = 1_800_000_000.0  # on an hour boundary
    await store.add_watch(spec(), result(at=now - 40 * DAY), now - 40 * DAY)
    old_hour = now - 35 * DAY
    for i, verdict in enumerate(["ok"] * 7 + ["critical"] * 2 + ["warning"]):
        await store.record(
            result(verdict, at=old_hour + 60 * i, latency=10.0 * (i + 1), figures={"days_left": 100.0 - i})
        )
    await store.record(result("ok", at=now - 1 * DAY))  # recent: stays raw
    await store.record(result("ok", watch=None, at=now - 40 * DAY))  # old on-demand: dropped

    done = await store.maintain(now, retention_days=30, rollup_retention_days=400, every_s=3600)
    assert done == (12, 0)
    assert (
        await store.maintain(now + 60, retention_days=30, rollup_retention_days=400) is None
    )  # within the hour
    rollups = await store.rollups("http", "w", now - 50 * DAY)
    assert [r.hour for r in rollups] == [now - 40 * DAY, old_hour]
    hour = rollups[1]
    assert hour.counts == {"ok": 7, "warning": 1, "critical": 2, "unknown": 0}
    assert hour.p50_ms == 50 and hour.p95_ms == 100 and hour.max_ms == 100
    assert hour.figures == {"days_left": 91.0}
    assert len(await store.results("http", "w", 0)) == 1

    # Rollups themselves expire after rollup_retention_days (the last raw row is rolled first).
    later = now + 400 * DAY
    done = await store.maintain(later, retention_days=30, rollup_retention_days=380)
    assert done == (1, 3)
    assert await store.rollups("http", "w", 0) == []


async def test_two_opens_migrate_once(store_target: str) -> None:
    first = await open_store(store_target)
    second = await open_store(store_target)
    assert first is not None and second is not None
    try:
        now = time.time()
        await first.add_watch(spec(), result(at=now), now)
        assert [w.name for w in await second.list_watches("http")] == ["w"]
    finally:
        await first.close()
        await second.close()


async def test_a_newer_schema_is_refused(store: Store, store_target: str) -> None:
    async with store._conn.transaction(write=True) as tx:  # pyright: ignore[reportPrivateUsage]
        await tx.run("UPDATE monitor_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 99"):
        await open_store(store_target)


async def test_sqlite_file_is_created_only_on_demand(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "monitor.db"
    assert await open_store(str(path), create=False) is None
    assert not path.exists()
    store = await open_store(str(path))
    assert store is not None
    try:
        async with store._conn.transaction(write=False) as tx:  # pyright: ignore[reportPrivateUsage]
            assert (await tx.fetch("PRAGMA journal_mode"))[0][0] == "wal"
    finally:
        await store.close()
    reopened = await open_store(str(path), create=False)
    assert reopened is not None
    await reopened.close()


async def test_unusable_stores_raise_store_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match=r"SQLite store .*dir\.db"):
        await open_store(str(tmp_path / "dir.db"))
    # Nothing listens on port 9 of loopback; the password never appears in the message.
    with pytest.raises(StoreError, match=r"PostgreSQL store postgresql://\*\*\*:\*\*\*@127\.0\.0\.1:9/x"):
        await open_store("postgresql://u:secret@127.0.0.1:9/x")


async def test_window_aggregates_without_loading_every_row(store: Store) -> None:
    start = 1_700_000_000.0
    await store.add_watch(spec(), result(at=start - 10), start - 10)
    for i in range(3000):
        verdict = "critical" if i % 100 == 0 else "ok"
        await store.record(
            result(verdict, at=start + i, latency=float(i % 50), figures={"days_left": 90 - i / 1000})
        )
    stats = await store.window("http", "w", start, max_points=100)
    assert stats.counts == {"ok": 2970, "warning": 0, "critical": 30, "unknown": 0}
    assert len(stats.latencies) == 3000 and stats.latencies == sorted(stats.latencies)
    assert 100 <= len(stats.series) <= 110
    assert stats.series[0] == (start, {"days_left": 90.0})  # exact first and last points
    assert stats.series[-1] == (start + 2999, {"days_left": 90 - 2999 / 1000})
    assert stats.last is not None and stats.last.checked_at == start + 2999
    empty = await store.window("http", "w", start + 10_000)
    assert empty.counts["ok"] == 0 and empty.series == [] and empty.last is not None
