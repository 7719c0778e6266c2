"""The scheduler on both stores: intervals kept, one run per interval among schedulers, take-over."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from pathlib import Path

import anyio
import pytest
from monitor_common.scheduler import Scheduler, StoreHandle
from monitor_common.store import ResultRecord, Store, Watch, WatchSpec, open_store

INTERVAL = 0.4


def record(watch: Watch, owner: str, started: float) -> ResultRecord:
    return ResultRecord(
        kind="probe",
        watch=watch.name,
        tool="probe_check",
        target=owner,  # which scheduler ran it, for the test
        checked_at=started,
        scheduled_at=watch.next_run,
        verdict="ok",
        summary="fine",
        duration_ms=1.0,
    )


def runner(owner: str, seconds: float = 0.02):
    async def run_watch(watch: Watch) -> ResultRecord:
        started = time.time()
        await anyio.sleep(seconds)
        return record(watch, owner, started)

    return run_watch


async def add_watches(target: str, count: int, interval: float = INTERVAL) -> list[str]:
    store = await open_store(target)
    assert store is not None
    names = [f"w{i}" for i in range(count)]
    try:
        now = time.time()
        for name in names:
            first = ResultRecord(
                kind="probe", watch=name, tool="probe_check", target="add", checked_at=now, verdict="ok",
                summary="first", duration_ms=1.0,
            )  # fmt: skip
            await store.add_watch(WatchSpec("probe", name, {"url": "x"}, interval), first, now)
    finally:
        await store.close()
    return names


async def scheduled_results(target: str, names: list[str]) -> dict[str, list[ResultRecord]]:
    store = await open_store(target)
    assert store is not None
    try:
        return {
            name: [r for r in await store.results("probe", name, 0) if r.scheduled_at is not None]
            for name in names
        }
    finally:
        await store.close()


def scheduler(target: str, owner: str, *, seconds: float = 0.02) -> Scheduler:
    return Scheduler("probe", StoreHandle(lambda: target), runner(owner, seconds), owner=owner, poll_s=0.2)


async def test_every_watch_runs_once_per_interval_between_two_schedulers(store_target: str) -> None:
    names = await add_watches(store_target, 8)
    a, b = scheduler(store_target, "a"), scheduler(store_target, "b")
    started = time.time()
    async with anyio.create_task_group() as tg:
        tg.start_soon(a.run)
        tg.start_soon(b.run)
        await anyio.sleep(3.0)
        tg.cancel_scope.cancel()
    for scheduler_ in (a, b):
        await scheduler_.handle.close()
    elapsed = time.time() - started
    runs = await scheduled_results(store_target, names)
    owners: Counter[str] = Counter()
    for name, results in runs.items():
        due = [r.scheduled_at for r in results]
        assert len(due) == len(set(due)), f"{name} ran twice for one slot"
        gaps = [later - earlier for earlier, later in itertools.pairwise(due)]  # type: ignore[operator]
        assert all(gap == pytest.approx(INTERVAL, abs=0.01) for gap in gaps), (
            f"{name} skipped or drifted: {gaps}"
        )
        assert len(results) >= int(elapsed / INTERVAL) - 2
        owners.update(r.target for r in results)
    assert set(owners) == {"a", "b"}, owners  # both took part
    assert max(a.lags) < 0.5 and max(b.lags) < 0.5


async def test_a_stopped_scheduler_hands_its_watches_over_at_once(store_target: str) -> None:
    names = await add_watches(store_target, 6, interval=1.0)
    # "a" stops in the middle of its runs: cancelled, it completes nothing but hands its leases
    # back. (A process that dies keeps them until they expire: tests/common/test_watch_processes.py.)
    a, b = scheduler(store_target, "a", seconds=0.6), scheduler(store_target, "b")
    async with anyio.create_task_group() as tg:
        tg.start_soon(a.run)
        await anyio.sleep(1.3)  # every watch is due once in this time, all leased to a
        assert a.running > 0
        tg.cancel_scope.cancel()
    await a.handle.close()
    died = time.time()
    async with anyio.create_task_group() as tg:
        tg.start_soon(b.run)
        await anyio.sleep(2.5)
        tg.cancel_scope.cancel()
    await b.handle.close()
    runs = await scheduled_results(store_target, names)
    for name, results in runs.items():
        by_b = [r for r in results if r.target == "b"]
        assert by_b, f"{name} was never taken over"
        # Within one interval (plus the poll) of the stop, b runs it: a's leases are gone.
        assert by_b[0].checked_at - died < 1.0 + 0.3, name


async def test_an_unusable_store_is_retried_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "dir.db").mkdir()
    target = str(tmp_path / "dir.db")
    failing = Scheduler("probe", StoreHandle(lambda: target), runner("x"), poll_s=0.1)
    with anyio.move_on_after(0.5):
        await failing.run()
    assert "cannot open the SQLite store" in caplog.text


async def test_no_store_file_is_created_without_watches(tmp_path: Path) -> None:
    target = tmp_path / "monitor.db"
    idle = Scheduler("probe", StoreHandle(lambda: str(target)), runner("x"), poll_s=0.05)
    with anyio.move_on_after(0.3):
        await idle.run()
    assert not target.exists()


async def test_paused_and_removed_watches_do_not_run(store_target: str) -> None:
    names = await add_watches(store_target, 3, interval=0.3)
    store = await open_store(store_target)
    assert isinstance(store, Store)
    try:
        await store.set_paused("probe", "w0", True, time.time())
        await store.remove_watch("probe", "w1")
        running = scheduler(store_target, "a")
        with anyio.move_on_after(1.2):
            await running.run()
        await running.handle.close()
        runs = await scheduled_results(store_target, names)
        assert runs["w0"] == [] and runs["w1"] == [] and len(runs["w2"]) >= 3
    finally:
        await store.close()
