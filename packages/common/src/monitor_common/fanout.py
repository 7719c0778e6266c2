"""Run many checks concurrently under a global limit, a per-host limit and one deadline.

`fanout(items, check, on_timeout=...)` calls `check(item)` for every item and returns the
results in input order, whatever order they finish in::

    results = await fanout(
        urls,
        probe,
        key=lambda url: urlsplit(url).hostname or "",
        concurrency=20,            # checks in flight at once, all hosts together
        per_host=4,                # checks in flight at once against one host
        item_timeout=10.0,         # seconds one check may take once it has started
        deadline=30.0,             # seconds the whole run may take
        on_timeout=lambda url, why: timed_out_result(url, why),
        on_error=None,             # let an unexpected exception propagate
        progress=report,           # await report(done, total, message) after every item
        held=held,                 # a HeldBack that adds up the waits rule 6 describes
    )

Rules, in the order they apply to one item:

1. It waits for a per-host slot (when `key` is given), then for a global slot, so an item
   held back by its host's limit does not occupy one of the `concurrency` slots meanwhile.
   Slots are granted first come first served, so items start roughly in input order.
2. `item_timeout` bounds `check(item)` only, not the wait for a slot. A check that runs over
   is cancelled and `on_timeout(item, "item_timeout")` stands in for its result.
3. When `deadline` seconds have passed since the call, every check still running or waiting
   is cancelled and `on_timeout(item, "deadline")` stands in for each of them; `fanout` then
   returns what it has. Results that finished in time are kept.
4. An exception from `check` is handed to `on_error(item, exc)`, whose return value becomes
   the item's result. Without `on_error`, the first exception cancels every other check and
   is re-raised as itself (not wrapped in an exception group) once they have all stopped.
   Exceptions raised by `on_timeout`, `on_error` or `progress` are treated the same way.
5. After each item has its result (and has released its slots), `progress(done, total,
   message)` is awaited, one call at a time, so `done` goes 1, 2, ... total in call order.
   If the deadline cuts the run short, one last call reports `done == total` with a message
   saying how many checks did not finish.
6. With `held` (a `HeldBack`), an item that had to wait for its per-host slot while a global
   slot was free - held back by its host's limit alone - adds that wait to it, so that a bulk
   call can say how much the per-host limit cost (`bulk.held_back_note`).

Cancelling the caller (a cancel scope around `fanout`, or the MCP request being cancelled)
cancels every check, and `fanout` does not return or raise before all of them have stopped:
no task outlives the call. A check that ignores cancellation (blocking code in a thread,
say) delays that; checks should be plain async code.

Argument errors (`concurrency=0`, a negative timeout, ...) raise `InputError`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import anyio
import anyio.lowlevel

from monitor_common.errors import InputError

__all__ = ["HeldBack", "ProgressCallback", "TimeoutReason", "fanout"]

T = TypeVar("T")
R = TypeVar("R")

TimeoutReason = Literal["item_timeout", "deadline"]
"""Why an item has no result of its own: its check ran over, or the run's deadline passed."""

ProgressCallback = Callable[[int, int, str | None], Awaitable[None]]
"""`await progress(done, total, message)`: the shape MCP progress notifications take."""


@dataclass
class HeldBack:
    """Waits that a limit imposed on the items of a run: how many waited, the longest, the sum."""

    items: int = 0
    longest_s: float = 0.0
    total_s: float = 0.0

    def add(self, seconds: float) -> None:
        """Count one item's wait (nothing for a wait of zero)."""
        if seconds <= 0:
            return
        self.items += 1
        self.longest_s = max(self.longest_s, seconds)
        self.total_s += seconds


async def fanout(
    items: Sequence[T],
    check: Callable[[T], Awaitable[R]],
    *,
    on_timeout: Callable[[T, TimeoutReason], R],
    key: Callable[[T], str] | None = None,
    concurrency: int = 20,
    per_host: int = 4,
    item_timeout: float | None = None,
    deadline: float | None = None,
    on_error: Callable[[T, Exception], R] | None = None,
    progress: ProgressCallback | None = None,
    held: HeldBack | None = None,
) -> list[R]:
    """Await `check(item)` for every item, concurrently and bounded; results in input order.

    Args:
        items: What to check. An empty sequence returns `[]` without calling anything.
        check: The async check for one item.
        on_timeout: Builds the result for an item whose check ran over `item_timeout`
            (`"item_timeout"`) or that had not finished when `deadline` passed (`"deadline"`).
        key: The host an item talks to, for the per-host limit. None (the default) means no
            per-host limit: only `concurrency` applies.
        concurrency: Most checks in flight at once (>= 1). Default 20.
        per_host: Most checks in flight at once for one `key` value (>= 1). Default 4.
            Ignored without `key`.
        item_timeout: Seconds one check may run once it has its slots; None (default) for no limit.
        deadline: Seconds the whole call may take; None (default) for no limit.
        on_error: Maps an exception raised by `check` to a result. None (default): the first
            exception cancels the other checks and propagates unchanged.
        progress: Awaited as `progress(done, total, message)` after each item; see the module
            docstring for the guarantees.
        held: Filled in with the waits the per-host limit alone imposed (rule 6); None (default)
            measures nothing.

    Raises:
        InputError: An argument is out of range.
    """
    _validate(concurrency=concurrency, per_host=per_host, item_timeout=item_timeout, deadline=deadline)
    total = len(items)
    if total == 0:
        return []

    keys = [_key_of(key, item) for item in items] if key is not None else None
    global_slots = anyio.CapacityLimiter(concurrency)
    host_slots: dict[str, anyio.CapacityLimiter] = {}
    if keys is not None:
        for host in keys:
            if host not in host_slots:
                host_slots[host] = anyio.CapacityLimiter(per_host)

    results: dict[int, R] = {}
    progress_lock = anyio.Lock()
    done = 0
    failure: BaseException | None = None

    def label(index: int) -> str:
        host = keys[index] if keys is not None else ""
        return host or f"item {index + 1}"

    async def report(message: str) -> None:
        nonlocal done
        if progress is None:
            return
        # One call at a time, so a callback that awaits (sending a notification) cannot let a
        # later count overtake an earlier one.
        async with progress_lock:
            done += 1
            await progress(done, total, message)

    async def run_check(index: int, item: T) -> str:
        """Put the item's result in `results`; return the progress message describing it."""
        try:
            if item_timeout is None:
                results[index] = await check(item)
                return f"{label(index)}: done"
            with anyio.move_on_after(item_timeout) as scope:
                results[index] = await check(item)
            if scope.cancelled_caught and index not in results:
                results[index] = on_timeout(item, "item_timeout")
                return f"{label(index)}: timed out after {item_timeout:g} s"
            return f"{label(index)}: done"
        except Exception as exc:  # any exception from a check is the caller's to map
            if on_error is None:
                raise
            results[index] = on_error(item, exc)
            return f"{label(index)}: failed ({type(exc).__name__})"

    def stop(exc: Exception, cancel_all: anyio.CancelScope) -> None:
        nonlocal failure
        if failure is None:
            failure = exc
        cancel_all.cancel()

    async def run_one(index: int, item: T, cancel_all: anyio.CancelScope) -> None:
        try:
            host_limiter = host_slots[keys[index]] if keys is not None else None
            queued = None
            if held is not None and host_limiter is not None and host_limiter.available_tokens < 1:
                queued = anyio.current_time()
            async with _maybe(host_limiter):
                if queued is not None and held is not None and global_slots.available_tokens >= 1:
                    held.add(anyio.current_time() - queued)  # rule 6: its host's limit alone
                async with global_slots:
                    try:
                        message = await run_check(index, item)
                    except Exception as exc:  # noqa: BLE001 - re-raised unchanged once the others stop
                        # Cancel while still holding the slots, so no waiting item starts meanwhile.
                        stop(exc, cancel_all)
                        return
            await report(message)
        except Exception as exc:  # noqa: BLE001 - re-raised unchanged once the others stop
            stop(exc, cancel_all)

    with anyio.move_on_after(deadline if deadline is not None else math.inf) as deadline_scope:
        async with anyio.create_task_group() as tg:
            for index, item in enumerate(items):
                tg.start_soon(run_one, index, item, tg.cancel_scope)
                if index % concurrency == concurrency - 1:
                    # Let the first checks start while the rest are queued behind them: spawning
                    # a thousand tasks in one go would hold back every request until it is done.
                    await anyio.lowlevel.checkpoint()

    if failure is not None:
        raise failure

    missing = [index for index in range(total) if index not in results]
    for index in missing:
        results[index] = on_timeout(items[index], "deadline")
    if missing and deadline_scope.cancelled_caught and progress is not None:
        await progress(
            total,
            total,
            f"deadline of {deadline:g} s reached: {len(missing)} of {total} checks did not finish",
        )
    return [results[index] for index in range(total)]


def _validate(*, concurrency: int, per_host: int, item_timeout: float | None, deadline: float | None) -> None:
    for name, value in (("concurrency", concurrency), ("per_host", per_host)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InputError(
                f"{name} must be a whole number of at least 1, got {value!r}; for example {name}=4"
            )
    for name, seconds in (("item_timeout", item_timeout), ("deadline", deadline)):
        if seconds is None:
            continue
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)  # pyright: ignore[reportUnnecessaryIsInstance]
            or not math.isfinite(seconds)
            or seconds <= 0
        ):
            raise InputError(
                f"{name} must be a positive number of seconds or None for no limit, got {seconds!r}; "
                f"for example {name}=10.0"
            )


def _key_of(key: Callable[[T], str], item: T) -> str:
    host = key(item)
    if not isinstance(host, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InputError(f"key must return the item's host as a string, got {host!r} for {item!r}")
    return host


class _NoLimit:
    """Stands in for a per-host limiter when there is no per-host limit."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def _maybe(limiter: anyio.CapacityLimiter | None) -> anyio.CapacityLimiter | _NoLimit:
    return limiter if limiter is not None else _NoLimit()
