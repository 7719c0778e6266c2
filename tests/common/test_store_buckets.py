"""The store's hourly and daily buckets on both backends: what the status page and /metrics read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from monitor_common.store import DAY, HOUR, ResultRecord, Store, WatchSpec, open_store

T0 = 1_799_971_200.0  # a day boundary (UTC midnight)


@pytest.fixture
async def store(store_target: str) -> AsyncIterator[Store]:
    opened = await open_store(store_target)
    assert opened is not None
    try:
        yield opened
    finally:
        await opened.close()


def result(verdict: str, at: float, *, watch: str | None = "w", latency: float | None = 10.0) -> ResultRecord:
    return ResultRecord(
        kind="http",
        watch=watch,
        tool="http_check",
        target="https://example.test/",
        checked_at=at,
        verdict=verdict,
        summary=f"it is {verdict}",
        duration_ms=(latency or 0.0) + 1,
        latency_ms=latency,
        codes=("http_status",) if verdict != "ok" else (),
    )


def spec(name: str) -> WatchSpec:
    return WatchSpec(kind="http", name=name, definition={"url": "https://example.test/"}, interval_s=60)


async def test_buckets_count_each_watch_result_per_hour_and_per_day(store: Store) -> None:
    assert T0 % DAY == 0
    await store.add_watch(spec("w"), result("ok", T0, latency=20.0), T0)
    await store.record(result("critical", T0 + 60, latency=None))
    await store.record(result("warning", T0 + HOUR + 5, latency=40.0))
    await store.record(result("bogus", T0 + DAY + 1, latency=5.0))  # an unknown word counts as unknown
    await store.record(result("ok", T0 + 30, watch=None))  # on-demand: no bucket

    hours = await store.buckets("http", T0 + 10, span=HOUR)  # the bucket holding `since` is included
    assert [(b.watch, b.start, b.counts) for b in hours] == [
        ("w", T0, {"ok": 1, "warning": 0, "critical": 1, "unknown": 0}),
        ("w", T0 + HOUR, {"ok": 0, "warning": 1, "critical": 0, "unknown": 0}),
        ("w", T0 + DAY, {"ok": 0, "warning": 0, "critical": 0, "unknown": 1}),
    ]
    first = hours[0]
    assert first.latency_n == 1 and first.mean_ms == 20.0 and first.latency_max == 20.0  # None not averaged

    days = await store.buckets("http", T0, span=DAY, watch="w")
    assert [(b.start, b.total, b.mean_ms, b.latency_max) for b in days] == [
        (T0, 3, 30.0, 40.0),
        (T0 + DAY, 1, 5.0, 5.0),
    ]
    assert await store.buckets("http", T0 + 2 * DAY, span=DAY) == []
    assert await store.buckets("cert", T0, span=DAY) == []

    assert await store.remove_watch("http", "w")
    assert await store.buckets("http", 0, span=DAY) == []


async def test_latest_results_gives_each_watch_its_newest_result(store: Store) -> None:
    await store.add_watch(spec("a"), result("ok", T0, watch="a"), T0)
    await store.add_watch(spec("b"), result("ok", T0, watch="b"), T0)
    await store.record(result("critical", T0 + 120, watch="a"))
    await store.record(result("warning", T0 + 60, watch="a"))  # stored later, checked earlier
    await store.record(result("ok", T0 + 500, watch=None))
    latest = await store.latest_results("http")
    assert {name: (r.verdict, r.checked_at) for name, r in latest.items()} == {
        "a": ("critical", T0 + 120),
        "b": ("ok", T0),
    }
    assert await store.latest_results("dns") == {}


async def test_record_many_stores_rows_and_buckets_as_record_does(store: Store) -> None:
    await store.add_watch(spec("w"), result("ok", T0 - DAY), T0 - DAY)
    batch = [result("ok" if i % 10 else "critical", T0 + 60 * i, latency=float(i)) for i in range(200)]
    await store.record_many(batch)
    assert len(await store.results("http", "w", T0)) == 200
    (day,) = await store.buckets("http", T0, span=DAY)
    assert day.counts == {"ok": 180, "warning": 0, "critical": 20, "unknown": 0}
    assert day.latency_sum == sum(range(200)) and day.latency_max == 199
    assert sum(b.total for b in await store.buckets("http", T0, span=HOUR)) == 200


async def test_the_migration_fills_the_buckets_from_results_and_rollups(
    store: Store, store_target: str
) -> None:
    await store.add_watch(spec("w"), result("ok", T0 - 40 * DAY), T0 - 40 * DAY)
    for i in range(5):
        await store.record(result("critical" if i == 0 else "ok", T0 - 35 * DAY + 60 * i, latency=10.0 * i))
    await store.record(result("ok", T0 + 10, latency=7.0))
    await store.maintain(T0 + 60, retention_days=30, rollup_retention_days=400)  # the old ones roll up
    expected = [tuple(b) for b in await store.buckets("http", 0, span=DAY)]
    # As a store of schema version 3 would be: no buckets yet.
    async with store._conn.transaction(write=True) as tx:  # pyright: ignore[reportPrivateUsage]
        await tx.run("DROP TABLE buckets")
        await tx.run("UPDATE monitor_meta SET value = '3' WHERE key = 'schema_version'")
    reopened = await open_store(store_target)
    assert reopened is not None
    try:
        days = await reopened.buckets("http", 0, span=DAY)
        # Counts come back whole; rolled-up hours keep no latency sum, so only the raw day's does.
        assert [b[:7] for b in days] == [e[:7] for e in expected]
        assert [b.start for b in days] == [T0 - 40 * DAY, T0 - 35 * DAY, T0]
        assert days[1].counts == {"ok": 4, "warning": 0, "critical": 1, "unknown": 0}
        assert days[2].mean_ms == 7.0
        assert sum(b.total for b in await reopened.buckets("http", 0, span=HOUR)) == 7
    finally:
        await reopened.close()
