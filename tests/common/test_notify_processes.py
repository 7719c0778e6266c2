"""Notifications from real server processes sharing one store (SQLite file, PostgreSQL database).

The servers are `python -m support.watch_server serve` (their scheduler and outbox run from the
start) watching the loopback `http_server`, whose `/switch/{key}` the test flips from 200 to 503
and back; a local webhook receives the real Apprise deliveries. Every wait is on a condition with
a generous deadline: the machine may be loaded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from monitor_common.store import SEND_LEASE_S, ResultRecord, Store, WatchSpec, open_store
from support.http_server import HttpServer
from support.receivers import WebhookReceiver, webhook_receiver

TESTS = Path(__file__).resolve().parents[1]
SECRET = "hunter2-webhook-TOKEN"

# A server whose first send kills it, as a crash between recording a transition and delivering
# its notification would: the notification stays pending in the store, leased to a dead process.
CRASHING = """
import os, signal
from monitor_common.notify import outbox
from monitor_common.serve import main
from support.watch_server import build

async def crash(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

outbox.send = crash
main(build()[0], ["serve"])
"""


def child_env(db: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_MONITOR_")}
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

    def __init__(self, db: str, log: Path, *, script: str | None = None, **env: str) -> None:
        self.log = log.open("wb")
        command = [sys.executable, "-c", script] if script else [sys.executable, "-m", "support.watch_server"]
        self.proc = subprocess.Popen(
            [*command, "serve"] if not script else command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            env=child_env(db, **env),
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        elif self.proc.stdin is not None:
            self.proc.stdin.close()
        self.log.close()


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.stop()


async def add(store: Store, name: str, url: str, notify: str) -> None:
    now = time.time()
    first = ResultRecord(
        kind="probe", watch=name, tool="probe_check", target=url, checked_at=now, verdict="ok",
        summary="added", duration_ms=1.0,
    )  # fmt: skip
    spec = WatchSpec("probe", name, {"url": url}, 0.5, failure_threshold=2, notify=(notify,))
    await store.add_watch(spec, first, now)


async def wait_for_runs(store: Store, name: str, count: int, seconds: float = 90) -> None:
    with anyio.fail_after(seconds):
        while True:
            watch = await store.get_watch("probe", name)
            assert watch is not None
            if watch.runs >= count:
                return
            await anyio.sleep(0.2)  # another process's writes: nothing to wait on but the store


async def received(hook: WebhookReceiver, count: int, seconds: float = 90) -> list[str]:
    found = await anyio.to_thread.run_sync(lambda: hook.wait_for(count, timeout=seconds))
    return [r.title for r in found]


async def test_two_processes_send_one_down_and_one_resolved(
    store_target: str, http_server: HttpServer, children: list[Child], tmp_path: Path
) -> None:
    store = await open_store(store_target)
    assert store is not None
    try:
        with webhook_receiver() as hook:
            await add(store, "api", http_server.url_for("/switch/api"), hook.url(f"/hook/{SECRET}"))
            children.extend(Child(store_target, tmp_path / f"child{i}.log") for i in range(2))
            await wait_for_runs(store, "api", 4)
            http_server.switch("api", 503)
            assert await received(hook, 1) == ["DOWN: api (critical)"]
            http_server.switch("api", 200)
            titles = await received(hook, 2)
            assert titles[1].startswith("RESOLVED: api (down ")
            # Both processes went on running the watch (and claiming due notifications) for a
            # while: nothing more was sent.
            watch = await store.get_watch("probe", "api")
            assert watch is not None
            await wait_for_runs(store, "api", watch.runs + 8)
            assert len(hook.received) == 2, hook.titles()
            deliveries = await store.deliveries("probe", "api")
            assert sorted((d.event, d.status, d.outcome) for d in deliveries) == [
                ("opened", "delivered", "delivered"),
                ("resolved", "delivered", "delivered"),
            ]
            # Which process ran which check: both took part (the pid is in the figures).
            pids = {int(r.figures["pid"]) for r in await store.results("probe", "api", 0) if r.scheduled_at}
            assert pids <= {c.proc.pid for c in children}
    finally:
        await store.close()
    for index in range(2):
        assert SECRET not in (tmp_path / f"child{index}.log").read_text()


@pytest.mark.timeout(300)
async def test_a_process_killed_before_delivering_leaves_it_to_the_next(
    store_target: str, http_server: HttpServer, children: list[Child], tmp_path: Path
) -> None:
    store = await open_store(store_target)
    assert store is not None
    try:
        with webhook_receiver() as hook:
            await add(store, "api", http_server.url_for("/switch/api"), hook.url())
            crashing = Child(store_target, tmp_path / "crashing.log", script=CRASHING)
            children.append(crashing)
            await wait_for_runs(store, "api", 3)
            http_server.switch("api", 503)
            # The crashing server records the transition and its notification, then dies.
            with anyio.fail_after(90):
                while crashing.proc.poll() is None:  # noqa: ASYNC110 - a process, not a task
                    await anyio.sleep(0.1)
            assert crashing.proc.returncode == -signal.SIGKILL
            (pending,) = await store.deliveries("probe", "api")
            assert (pending.event, pending.status, pending.attempts) == ("opened", "pending", 0)
            assert pending.lease_owner is not None and str(crashing.proc.pid) in pending.lease_owner
            assert hook.received == []
            killed_at = time.time()

            survivor = Child(store_target, tmp_path / "survivor.log")
            children.append(survivor)
            assert await received(hook, 1, seconds=SEND_LEASE_S + 90) == ["DOWN: api (critical)"]
            # Not before the dead process's lease ran out: it might still have been sending.
            assert pending.lease_until is not None
            assert hook.received[0].at >= pending.lease_until - 0.5 > killed_at - SEND_LEASE_S
            http_server.switch("api", 200)
            titles = await received(hook, 2)
            assert titles[1].startswith("RESOLVED: api")
            watch = await store.get_watch("probe", "api")
            assert watch is not None
            await wait_for_runs(store, "api", watch.runs + 6)
            assert len(hook.received) == 2, hook.titles()
            deliveries = await store.deliveries("probe", "api")
            assert sorted((d.event, d.status, d.attempts) for d in deliveries) == [
                ("opened", "delivered", 1),
                ("resolved", "delivered", 1),
            ]
    finally:
        await store.close()


def test_notify_secrets_stay_out_of_outputs_audit_lines_and_logs(
    http_server: HttpServer, tmp_path: Path
) -> None:
    """`call` with -vv (debug logs of every library, Apprise's and urllib3's included) and the
    audit line on stderr: the secrets of a notify URL appear in neither, nor in the output."""
    env = child_env(str(tmp_path / "monitor.db"))
    with webhook_receiver() as hook:
        hook_url = hook.url(f"/hook/{SECRET}").replace("json://", f"json://user:{SECRET}pw@")
        env["MCP_MONITOR_NOTIFY_TARGETS"] = f"ops=json://127.0.0.1:{hook.port}/ops/{SECRET}ops"

        def call(*arguments: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "support.watch_server", "-vv", "call", "probe_watch", *arguments],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
                check=False,
                stdin=subprocess.DEVNULL,
            )

        url = http_server.url_for("/switch/s")
        added = call("action=add", "name=s", f"url={url}", "notify=" + json.dumps([hook_url, "ops"]))
        assert added.returncode == 0, added.stderr
        tested = call("action=test_notify", "name=s")
        listed = call("action=list")
        assert tested.returncode == 0, tested.stderr
        # The messages did go out, to the secret paths, with the credentials.
        paths = sorted(r.path for r in hook.wait_for(2))
        assert paths == [f"/hook/{SECRET}", f"/ops/{SECRET}ops"]
        assert any(r.headers.get("authorization") for r in hook.received)
    everything = "".join(p.stdout + p.stderr for p in (added, tested, listed))
    assert "DEBUG" in everything and "notify" in tested.stderr  # debug logs and audit lines were written
    assert "delivered" in tested.stdout
    assert SECRET not in everything
