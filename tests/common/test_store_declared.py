"""The store brought to a watches file (`Store.sync_declared`), on both backends: what is added,
replaced, updated in place (history kept), removed, taken over, and what is left alone."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import anyio
import pytest
from monitor_common.store import ResultRecord, Store, WatchSpec, open_store

FILE = "/etc/mcp-monitor/watches.yaml"


@pytest.fixture
async def store(store_target: str) -> AsyncIterator[Store]:
    opened = await open_store(store_target)
    assert opened is not None
    try:
        yield opened
    finally:
        await opened.close()


def declared(name: str, url: str, interval_s: float = 60, failure_threshold: int = 2) -> WatchSpec:
    return WatchSpec(
        "http", name, {"url": url}, interval_s, failure_threshold=failure_threshold, managed_by=FILE
    )


def first(name: str, url: str) -> ResultRecord:
    return ResultRecord(
        kind="http", watch=name, tool="http_check", target=url, checked_at=time.time(), verdict="ok",
        summary="ok", duration_ms=1.0,
    )  # fmt: skip


async def results(store: Store, name: str) -> int:
    return len(await store.results("http", name, 0))


async def test_the_store_follows_the_file(store: Store) -> None:
    now = time.time()
    # A watch added with the tool under another name is never touched by the file.
    await store.add_watch(
        WatchSpec("http", "mine", {"url": "https://mine.test/"}, 60), first("mine", "x"), now
    )

    outcome = await store.sync_declared(
        "http", [declared("a", "https://a.test/"), declared("b", "https://b.test/")], now
    )
    assert (outcome.added, outcome.changed, outcome.updated, outcome.removed) == (["a", "b"], [], [], [])
    a = await store.get_watch("http", "a")
    assert a is not None and a.managed_by == FILE
    assert a.next_run <= now, "a declared watch is due at once: its first run is scheduled, not run at load"

    # Give both a history, then: a's interval and threshold change (kept), b's URL changes
    # (replaced: its history is another check's), c is new.
    claimed = await store.claim_due("http", "owner", now + 1, 10)
    assert sorted(w.name for w in claimed) == ["a", "b"]
    for watch in claimed:
        await store.complete(watch, "owner", first(watch.name, str(watch.definition["url"])), now + 1)
    assert await results(store, "a") == 1 and await results(store, "b") == 1

    later = now + 10
    outcome = await store.sync_declared(
        "http",
        [
            declared("a", "https://a.test/", interval_s=30, failure_threshold=4),
            declared("b", "https://b2.test/"),
            declared("c", "https://c.test/"),
        ],
        later,
    )
    assert (outcome.added, outcome.changed, outcome.updated, outcome.removed) == (["c"], ["b"], ["a"], [])
    a = await store.get_watch("http", "a")
    assert a is not None and (a.interval_s, a.failure_threshold, a.runs) == (30, 4, 1)
    assert a.next_run <= later + 30, "a shorter interval moves the next run earlier"
    assert await results(store, "a") == 1, "only thresholds and interval changed: the history stays"
    b = await store.get_watch("http", "b")
    assert b is not None and b.definition == {"url": "https://b2.test/"} and b.runs == 0
    assert await results(store, "b") == 0, "another URL is another check: its history went"

    # The same file again changes nothing.
    again = await store.sync_declared(
        "http",
        [
            declared("a", "https://a.test/", interval_s=30, failure_threshold=4),
            declared("b", "https://b2.test/"),
            declared("c", "https://c.test/"),
        ],
        later,
    )
    assert str(again) == "no change"

    # Dropping entries removes those watches with their history; the tool's watch stays.
    outcome = await store.sync_declared("http", [declared("c", "https://c.test/")], later)
    assert sorted(outcome.removed) == ["a", "b"]
    assert [w.name for w in await store.list_watches("http")] == ["c", "mine"]
    assert await results(store, "a") == 0
    mine = await store.get_watch("http", "mine")
    assert mine is not None and mine.managed_by is None

    # Another kind's watches are another server's business.
    assert await store.sync_declared("dns", [], later) is not None
    assert [w.name for w in await store.list_watches("http")] == ["c", "mine"]


async def test_a_declared_name_takes_over_a_watch_added_with_the_tool(store: Store) -> None:
    now = time.time()
    await store.add_watch(WatchSpec("http", "home", {"url": "https://h.test/"}, 60), first("home", "h"), now)
    outcome = await store.sync_declared("http", [declared("home", "https://h.test/", interval_s=60)], now)
    assert outcome.adopted == ["home"] and outcome.updated == ["home"] and outcome.changed == []
    home = await store.get_watch("http", "home")
    assert home is not None and home.managed_by == FILE and home.runs == 1  # same check: history kept


async def test_processes_syncing_the_same_file_at_once_agree(store_target: str) -> None:
    specs = [declared(f"w{i}", f"https://w{i}.test/") for i in range(20)]
    stores = [await open_store(store_target) for _ in range(3)]
    try:
        async with anyio.create_task_group() as tg:
            for opened in stores:
                assert opened is not None
                tg.start_soon(opened.sync_declared, "http", specs, time.time())
        assert stores[0] is not None
        watches = await stores[0].list_watches("http")
        assert sorted(w.name for w in watches) == sorted(s.name for s in specs)
    finally:
        for opened in stores:
            if opened is not None:
                await opened.close()


async def test_a_run_of_a_replaced_watch_is_not_counted_as_the_new_ones(store: Store) -> None:
    now = time.time()
    await store.sync_declared("http", [declared("w", "https://old.test/")], now)
    (running,) = await store.claim_due("http", "owner", now + 1, 10)
    # The file changes the URL while the old check is still running.
    await store.sync_declared("http", [declared("w", "https://new.test/")], now + 2)
    assert await store.complete(running, "owner", first("w", "https://old.test/"), now + 3) is None
    assert await results(store, "w") == 0
    replaced = await store.get_watch("http", "w")
    assert replaced is not None and replaced.runs == 0 and replaced.lease_owner is None
