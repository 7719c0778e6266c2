"""Real server processes on one store: shared scheduling, take-over after kill -9, durability.

The servers are `python -m support.watch_server` over stdio (their scheduler runs from the
start, no client needed), checking the loopback `http_server` of the test. Every child gets
only loopback targets and the store under test through its environment.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from monitor_common.store import ResultRecord, Store, WatchSpec, open_store
from support.http_server import HttpServer

TESTS = Path(__file__).resolve().parents[1]


def child_env(db: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(TESTS),
        MCP_MONITOR_DB=db,
        MCP_MONITOR_ALLOW_NETWORKS="127.0.0.0/8",
        MCP_MONITOR_WATCH_MIN_INTERVAL_S="0.1",
        **extra,
    )
    return env


class Child:
    """A watch server process; stdin stays open so that it keeps serving."""

    def __init__(self, db: str, log: Path) -> None:
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "support.watch_server", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            env=child_env(db),
        )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()  # end of input: the server exits cleanly
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        elif self.proc.stdin is not None:
            self.proc.stdin.close()
        self.log.close()


@pytest.fixture
def children(tmp_path: Path) -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.stop()


async def add(store: Store, name: str, url: str, interval: float) -> None:
    now = time.time()
    first = ResultRecord(
        kind="probe", watch=name, tool="probe_check", target=url, checked_at=now, verdict="ok", summary="added",
        duration_ms=1.0,
    )  # fmt: skip
    await store.add_watch(WatchSpec("probe", name, {"url": url}, interval), first, now)


async def test_two_servers_share_the_watches_and_one_takes_over_after_kill(
    store_target: str, http_server: HttpServer, children: list[Child], tmp_path: Path
) -> None:
    interval, count = 1.0, 6
    store = await open_store(store_target)
    assert store is not None
    try:
        names = [f"w{i}" for i in range(count)]
        for name in names:
            await add(store, name, http_server.url_for(f"/status/200?watch={name}"), interval)
        children.extend(Child(store_target, tmp_path / f"child{i}.log") for i in range(2))

        async def scheduled(name: str) -> list[ResultRecord]:
            return [r for r in await store.results("probe", name, 0) if r.scheduled_at is not None]

        # Wait (not sleep a fixed time: the children start slowly on a loaded machine) until both
        # servers run watches and every watch has a few scheduled runs to measure gaps on.
        latest: dict[int, float] = {}
        with anyio.fail_after(90):
            while True:
                await anyio.sleep(0.5)
                latest.clear()
                runs = {name: await scheduled(name) for name in names}
                for results in runs.values():
                    for r in results:
                        pid = int(r.figures["pid"])
                        latest[pid] = max(latest.get(pid, 0.0), r.checked_at)
                if len(latest) == 2 and all(len(results) >= 4 for results in runs.values()):
                    break
        # Kill the server that ran the latest check: it holds work, so the take-over is real.
        busiest = max(latest, key=latest.__getitem__)
        victim, survivor = sorted(children, key=lambda c: c.proc.pid != busiest)
        killed_at = time.time()
        victim.kill()
        with anyio.fail_after(60):  # every watch runs again after the kill (its lease expired)
            pending = set(names)
            while pending:
                await anyio.sleep(0.25)  # polling another process's writes: no event to wait on
                pending = {
                    n for n in pending if not any(r.checked_at > killed_at for r in await scheduled(n))
                }
        survivor.stop()

        for name in names:
            results = [r for r in await store.results("probe", name, 0) if r.scheduled_at is not None]
            slots = [r.scheduled_at for r in results]
            assert len(slots) == len(set(slots)), (
                f"{name}: a slot ran twice: {[(r.scheduled_at, r.checked_at, r.figures['pid']) for r in results]}"
            )
            # The first run after start-up catches up on the slots missed while the servers were
            # starting and restarts the schedule; from then on, one run per interval: the next
            # slot is one interval after the last, or later when a run finished more than an
            # interval late (a starved process on a loaded machine restarts the schedule from
            # then); never earlier.
            before = [r for r in results[1:] if r.checked_at < killed_at - 0.2]
            slots = [r.scheduled_at for r in before if r.scheduled_at is not None]
            gaps = [b - a for a, b in itertools.pairwise(slots)]
            assert gaps and all(gap > interval - 0.01 for gap in gaps), f"{name}: {gaps}"
            after = [r for r in results if r.checked_at > killed_at]
            assert after, f"{name} was not taken over"
            # The survivor runs the slot due next: no slot of the dead server's is skipped. (The
            # slot, not the wall-clock time of the run, which a loaded machine delays.)
            assert after[0].scheduled_at is not None
            assert after[0].scheduled_at - killed_at < interval + 1.0, name
            assert all(int(r.figures["pid"]) == survivor.proc.pid for r in after)
    finally:
        await store.close()


WRITER = """
import os, sys
import anyio
from mcp import Client
from support.watch_server import build

async def write(run, url):
    print(f"pid {os.getpid()}", flush=True)
    server, service = build()
    async with Client(server) as client:
        for i in range(10_000):
            result = await client.call_tool(
                "probe_watch", {"action": "add", "name": f"{run}-{i}", "url": url, "interval_s": 30}
            )
            assert not result.is_error, result.content
            print(result.structured_content["result_id"], flush=True)

# The imports once, then one forked writer per line read (each opens the store itself): twenty
# cold starts of the interpreter would take most of the test's time on a loaded machine.
for line in sys.stdin:
    run, url = line.split()
    pid = os.fork()
    if pid == 0:
        try:
            anyio.run(write, run, url)
        finally:
            os._exit(1)
    os.waitpid(pid, 0)
    print("reaped", flush=True)
"""


def test_kill_9_during_writes_loses_nothing_reported(http_server: HttpServer, tmp_path: Path) -> None:
    db = tmp_path / "monitor.db"
    env = child_env(str(db))
    reported: list[int] = []

    async def seed() -> None:
        # A few fast watches keep the scheduler writing while the tool adds watches.
        store = await open_store(str(db))
        assert store is not None
        try:
            for i in range(4):
                await add(store, f"fast{i}", http_server.url_for(f"/status/200?fast={i}"), 0.1)
        finally:
            await store.close()

    anyio.run(seed)
    rng = random.Random(5)
    writers = subprocess.Popen(
        [sys.executable, "-c", WRITER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert writers.stdin is not None and writers.stdout is not None
    try:
        for run in range(20):
            writers.stdin.write(f"run{run} {http_server.url_for('/status/200')}\n")
            writers.stdin.flush()
            hello = writers.stdout.readline()
            assert hello.startswith("pid "), f"run {run}: the writer did not start: {hello!r}"
            first = writers.stdout.readline()
            assert first.strip().isdigit(), f"run {run}: the writer did not write: {first!r}"
            reported.append(int(first))
            deadline = time.monotonic() + rng.uniform(0.05, 0.6)
            while time.monotonic() < deadline:
                line = writers.stdout.readline()
                if line.strip().isdigit():
                    reported.append(int(line))
            os.kill(int(hello.split()[1]), signal.SIGKILL)
            # Whatever it printed before dying was reported as stored ("reaped": all of it is read).
            for line in writers.stdout:
                if line.strip() == "reaped":
                    break
                if line.strip().isdigit():
                    reported.append(int(line))
            else:
                raise AssertionError(f"run {run}: the process forking the writers exited")

            import sqlite3

            conn = sqlite3.connect(db, timeout=15)
            try:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            finally:
                conn.close()
    finally:
        writers.stdin.close()  # end of input: it exits
        try:
            writers.wait(10)
        except subprocess.TimeoutExpired:  # a failed run left its writer alive
            writers.kill()
            writers.wait(10)
        writers.stdout.close()

    async def check() -> set[int]:
        store = await open_store(str(db))
        assert store is not None
        try:
            return await store.result_ids(reported)
        finally:
            await store.close()

    assert len(reported) > 40
    assert anyio.run(check) == set(reported)
