"""Runs every active watch of one kind at its interval, while a server runs.

    handle = StoreHandle(lambda: get_settings().db)
    scheduler = Scheduler("http", handle, run_watch, concurrency=50)
    async with anyio.create_task_group() as tg:
        tg.start_soon(scheduler.run)      # until cancelled

Several processes may run a scheduler on one store: each takes due watches through leases
(see `monitor_common.store`), so every watch runs once per interval among them. The loop sleeps
until the next watch is due (at most `poll_s`, so watches added by another process are seen
soon), takes as many due watches as it has free slots, and runs each in its own task. A run
that fails to reach the store is logged and the loop retries with back-off; it never ends the
server. Once a minute it offers to do the store's hourly retention work.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import suppress

import anyio
import anyio.abc

from monitor_common.errors import StoreError
from monitor_common.store import Announce, Completion, ResultRecord, Store, Watch, lease_s, open_store

__all__ = ["RunWatch", "Scheduler", "StoreHandle", "new_owner"]

logger = logging.getLogger("monitor_common.scheduler")

# Runs one watch's check and returns the result to store; must not raise for a failing target.
RunWatch = Callable[[Watch], Awaitable[ResultRecord]]
OnCompletion = Callable[[Completion], Awaitable[None]]

MAINTENANCE_CHECK_S = 60.0
MAX_BACKOFF_S = 30.0


def new_owner() -> str:
    """A lease owner id unique to this scheduler: host, process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class StoreHandle:
    """The store named by `target()`, opened on first use and shared by tools and the scheduler.

    `get(create=False)` does not create a SQLite file that does not exist yet (a server without
    watches never writes to disk); `get()` does.
    """

    def __init__(self, target: Callable[[], str | None]) -> None:
        self._target = target
        self._store: Store | None = None
        self._lock = anyio.Lock()

    async def get(self, *, create: bool = True) -> Store | None:
        if self._store is not None:
            return self._store
        async with self._lock:
            if self._store is None:
                self._store = await open_store(self._target(), create=create)
            return self._store

    async def require(self) -> Store:
        store = await self.get(create=True)
        assert store is not None
        return store

    async def reset(self) -> None:
        """Close the store after a failure; the next `get` opens it again."""
        async with self._lock:
            store, self._store = self._store, None
        if store is not None:
            with anyio.CancelScope(shield=True):
                try:
                    await store.close()
                except StoreError as exc:
                    logger.debug("closing a failed store: %s", exc)

    async def close(self) -> None:
        await self.reset()


class Scheduler:
    """Takes due watches of `kind` from the store and runs them, at most `concurrency` at once."""

    def __init__(
        self,
        kind: str,
        handle: StoreHandle,
        run_watch: RunWatch,
        *,
        concurrency: int = 50,
        poll_s: float = 1.0,
        owner: str | None = None,
        on_completion: OnCompletion | None = None,
        retention: Callable[[], tuple[float, float]] | None = None,
        announce: Announce | None = None,
    ) -> None:
        self.kind = kind
        self.handle = handle
        self.run_watch = run_watch
        self.concurrency = concurrency
        self.poll_s = poll_s
        self.owner = owner or new_owner()
        self.on_completion = on_completion
        self.retention = retention
        self.announce = announce  # the notifications of a transition, recorded with it
        self.running = 0
        # Seconds from when each recent run was due to when it started (the load benchmark's figure).
        self.lags: deque[float] = deque(maxlen=100_000)
        self._wake = anyio.Event()
        self._last_maintenance = 0.0

    def wake(self) -> None:
        """Look at the store now (a watch was added or resumed)."""
        self._wake.set()

    async def run(self) -> None:
        """Schedule until cancelled."""
        backoff = 1.0
        async with anyio.create_task_group() as tg:
            while True:
                try:
                    delay = await self._tick(tg)
                    backoff = 1.0
                except StoreError as exc:
                    logger.warning("watch scheduler (%s): %s; retrying in %.0f s", self.kind, exc, backoff)
                    await self.handle.reset()
                    delay, backoff = backoff, min(backoff * 2, MAX_BACKOFF_S)
                with anyio.move_on_after(delay):
                    await self._wake.wait()
                self._wake = anyio.Event()

    async def _tick(self, tg: anyio.abc.TaskGroup) -> float:
        store = await self.handle.get(create=False)
        if store is None:
            return self.poll_s
        now = time.time()
        free = self.concurrency - self.running
        for watch in await store.claim_due(self.kind, self.owner, now, free):
            self.running += 1
            tg.start_soon(self._run_one, store, watch)
        await self._maintain(store, now)
        if self.running >= self.concurrency:
            return self.poll_s  # a finishing run wakes the loop
        due = await store.next_due(self.kind, time.time())
        if due is None:
            return self.poll_s
        return min(max(due - time.time(), 0.0), self.poll_s)

    async def _run_one(self, store: Store, watch: Watch) -> None:
        try:
            self.lags.append(time.time() - watch.next_run)
            result: ResultRecord | None = None
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._keep_lease, store, watch)
                result = await self.run_watch(watch)
                tg.cancel_scope.cancel()
            assert result is not None
            completion = await store.complete(
                watch, self.owner, result, time.time(), announce=self.announce, sender=self.owner
            )
            if completion is not None and self.on_completion is not None:
                await self.on_completion(completion)
        except StoreError as exc:
            # The lease expires and the watch runs again; nothing else to undo.
            logger.warning("watch %s/%s: its result could not be stored: %s", self.kind, watch.name, exc)
        except anyio.get_cancelled_exc_class():
            # The server is stopping: hand the lease back, so that another process (or this one,
            # restarted) runs the watch now rather than after the lease expires.
            with anyio.CancelScope(shield=True), anyio.move_on_after(1.0), suppress(StoreError):
                await store.renew_lease(watch, self.owner, time.time())  # on failure it expires
            raise
        finally:
            self.running -= 1
            self.wake()

    async def _keep_lease(self, store: Store, watch: Watch) -> None:
        """Renew the lease every third of its length while the check runs, so that a check slower
        than its interval is not taken for dead; a process that dies stops renewing."""
        lease = lease_s(watch.interval_s)
        while True:
            await anyio.sleep(lease / 3)
            try:
                if not await store.renew_lease(watch, self.owner, time.time() + lease):
                    return
            except StoreError as exc:
                logger.warning("watch %s/%s: could not renew its lease: %s", self.kind, watch.name, exc)
                return

    async def _maintain(self, store: Store, now: float) -> None:
        if self.retention is None or now - self._last_maintenance < MAINTENANCE_CHECK_S:
            return
        self._last_maintenance = now
        retention_days, rollup_days = self.retention()
        done = await store.maintain(now, retention_days=retention_days, rollup_retention_days=rollup_days)
        if done is not None:
            logger.info("store retention: %d raw results rolled up or dropped, %d old rollups dropped", *done)
