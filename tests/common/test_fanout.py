"""fanout: limits, timeouts, deadline, order, progress, errors and cancellation, with real timing.

Sleeps are short and margins generous (a slow CI machine must not make these flaky): a check
that should be cut off sleeps for seconds, and elapsed-time bounds leave a second of slack.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass, field

import anyio
import anyio.lowlevel
import pytest
from monitor_common.errors import InputError
from monitor_common.fanout import HeldBack, TimeoutReason, fanout

LONG = 10.0  # a check that must never be allowed to finish
SLACK = 1.0


def timed_out(item: object, reason: TimeoutReason) -> str:
    return f"{reason}:{item}"


@dataclass
class Tracker:
    """Records what the checks did: how many ran at once, overall and per host, and which finished."""

    in_flight: Counter[str] = field(default_factory=lambda: Counter[str]())
    max_in_flight: Counter[str] = field(default_factory=lambda: Counter[str]())
    total: int = 0
    max_total: int = 0
    started: list[str] = field(default_factory=lambda: list[str]())
    finished: list[str] = field(default_factory=lambda: list[str]())
    cancelled: list[str] = field(default_factory=lambda: list[str]())

    async def run(self, name: str, host: str, seconds: float) -> str:
        self.started.append(name)
        self.in_flight[host] += 1
        self.total += 1
        self.max_in_flight[host] = max(self.max_in_flight[host], self.in_flight[host])
        self.max_total = max(self.max_total, self.total)
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            self.cancelled.append(name)
            raise
        finally:
            self.in_flight[host] -= 1
            self.total -= 1
        self.finished.append(name)
        return f"ok:{name}"


async def test_global_limit_is_never_exceeded() -> None:
    tracker = Tracker()
    items = [f"i{n}" for n in range(30)]

    results = await fanout(
        items, lambda i: tracker.run(i, "", 0.02), concurrency=5, per_host=100, on_timeout=timed_out
    )

    assert results == [f"ok:{i}" for i in items]
    assert tracker.max_total == 5


async def test_without_key_there_is_no_per_host_limit() -> None:
    tracker = Tracker()
    items = [f"i{n}" for n in range(10)]

    await fanout(items, lambda i: tracker.run(i, "", 0.1), concurrency=10, per_host=1, on_timeout=timed_out)

    assert tracker.max_total == 10


async def test_per_host_limit_is_never_exceeded_while_other_hosts_proceed() -> None:
    tracker = Tracker()
    items = [("a", n) for n in range(8)] + [("b", n) for n in range(8)] + [("c", n) for n in range(8)]

    results = await fanout(
        items,
        lambda it: tracker.run(f"{it[0]}{it[1]}", it[0], 0.03),
        key=lambda it: it[0],
        concurrency=20,
        per_host=2,
        on_timeout=timed_out,
    )

    assert results == [f"ok:{h}{n}" for h, n in items]
    assert tracker.max_in_flight == {"a": 2, "b": 2, "c": 2}
    assert tracker.max_total == 6  # the three hosts ran side by side


async def test_items_held_by_their_host_do_not_occupy_global_slots() -> None:
    # Host "a" comes first and has many items, but with per_host=1 only one of them may run;
    # the waiting ones must not take the global slots that "b" and "c" need.
    tracker = Tracker()
    items = ["a1", "a2", "a3", "a4", "b1", "c1"]
    t0 = time.monotonic()
    started_at: dict[str, float] = {}

    async def check(item: str) -> str:
        started_at[item] = time.monotonic() - t0
        return await tracker.run(item, item[0], 0.3)

    await fanout(items, check, key=lambda i: i[0], concurrency=3, per_host=1, on_timeout=timed_out)

    assert started_at["b1"] < 0.2
    assert started_at["c1"] < 0.2
    assert tracker.max_in_flight["a"] == 1


async def test_item_timeout_yields_on_timeout_result_without_delaying_others() -> None:
    finished_at: dict[str, float] = {}
    t0 = time.monotonic()

    async def check(item: str) -> str:
        await anyio.sleep(LONG if item == "slow" else 0.05)
        finished_at[item] = time.monotonic() - t0
        return f"ok:{item}"

    results = await fanout(["f1", "slow", "f2", "f3"], check, item_timeout=0.5, on_timeout=timed_out)
    elapsed = time.monotonic() - t0

    assert results == ["ok:f1", "item_timeout:slow", "ok:f2", "ok:f3"]
    assert "slow" not in finished_at
    assert max(finished_at.values()) < 0.4
    assert 0.5 <= elapsed < 0.5 + SLACK


async def test_item_timeout_does_not_count_the_wait_for_a_slot() -> None:
    # One slot, three checks of 0.3 s each: the last one waits 0.6 s, more than item_timeout.
    tracker = Tracker()

    results = await fanout(
        ["x", "y", "z"],
        lambda i: tracker.run(i, "", 0.3),
        concurrency=1,
        item_timeout=0.5,
        on_timeout=timed_out,
    )

    assert results == ["ok:x", "ok:y", "ok:z"]


async def test_deadline_stops_everything_and_marks_unfinished_items() -> None:
    tracker = Tracker()
    # Two slots: "fast" finishes, "slow1" and "slow2" are running at the deadline, and the
    # rest never get a slot.
    items = ["fast", "slow1", "slow2", "never1", "never2"]
    t0 = time.monotonic()

    results = await fanout(
        items,
        lambda i: tracker.run(i, "", 0.05 if i == "fast" else LONG),
        concurrency=2,
        deadline=0.5,
        on_timeout=timed_out,
    )
    elapsed = time.monotonic() - t0

    assert results == ["ok:fast", "deadline:slow1", "deadline:slow2", "deadline:never1", "deadline:never2"]
    assert 0.5 <= elapsed < 0.5 + SLACK
    assert sorted(tracker.cancelled) == ["slow1", "slow2"]
    assert "never1" not in tracker.started
    assert tracker.total == 0


async def test_item_timeout_and_deadline_are_told_apart() -> None:
    async def check(item: str) -> str:
        await anyio.sleep(LONG)
        return item

    results = await fanout(
        ["a", "b"],
        check,
        concurrency=1,
        item_timeout=0.2,
        deadline=0.3,
        on_timeout=timed_out,
    )

    assert results == ["item_timeout:a", "deadline:b"]


async def test_results_are_in_input_order_whatever_the_completion_order() -> None:
    completed: list[int] = []

    async def check(n: int) -> int:
        await anyio.sleep(0.02 * (10 - n))
        completed.append(n)
        return n * n

    results = await fanout(list(range(10)), check, on_timeout=lambda n, _: -1)

    assert completed == list(range(9, -1, -1))
    assert results == [n * n for n in range(10)]


async def test_first_checks_start_before_a_long_list_is_queued() -> None:
    # Queueing thousands of items takes long enough to hold back every request if the first
    # checks had to wait for all of it: they start once `concurrency` items are queued.
    tasks_seen: list[int] = []

    async def check(n: int) -> int:
        if n == 0:
            tasks_seen.append(len(asyncio.all_tasks()))
        await anyio.lowlevel.checkpoint()
        return n

    items = list(range(2000))
    results = await fanout(
        items, check, on_timeout=lambda n, _: -1, key=lambda n: str(n % 10), concurrency=20
    )

    assert results == items
    assert tasks_seen and tasks_seen[0] < 100


async def test_progress_is_called_once_per_item_with_increasing_counts() -> None:
    calls: list[tuple[int, int, str | None]] = []

    async def progress(done: int, total: int, message: str | None) -> None:
        # A callback that yields, as sending a notification does, must not reorder counts.
        await anyio.sleep(0.001 * (done % 3))
        calls.append((done, total, message))

    async def check(n: int) -> int:
        await anyio.sleep(0.01 * (n % 4))
        return n

    await fanout(list(range(12)), check, progress=progress, on_timeout=lambda n, _: -1)

    assert [done for done, _, _ in calls] == list(range(1, 13))
    assert {total for _, total, _ in calls} == {12}
    assert all(message for _, _, message in calls)


async def test_progress_messages_name_the_host_and_the_outcome() -> None:
    messages: list[str | None] = []

    async def progress(done: int, total: int, message: str | None) -> None:
        messages.append(message)

    async def check(host: str) -> str:
        if host == "bad.example":
            raise ConnectionError("refused")
        await anyio.sleep(LONG if host == "slow.example" else 0)
        return host

    await fanout(
        ["ok.example", "bad.example", "slow.example"],
        check,
        key=lambda h: h,
        item_timeout=0.2,
        on_timeout=timed_out,
        on_error=lambda h, e: f"error:{h}",
        progress=progress,
    )

    assert sorted(m or "" for m in messages) == [
        "bad.example: failed (ConnectionError)",
        "ok.example: done",
        "slow.example: timed out after 0.2 s",
    ]


async def test_progress_reaches_total_when_the_deadline_cuts_the_run_short() -> None:
    calls: list[tuple[int, int, str | None]] = []

    async def progress(done: int, total: int, message: str | None) -> None:
        calls.append((done, total, message))

    async def check(n: int) -> int:
        await anyio.sleep(0 if n == 0 else LONG)
        return n

    await fanout([0, 1, 2], check, deadline=0.3, progress=progress, on_timeout=lambda n, _: -1)

    assert [done for done, _, _ in calls] == [1, 3]
    assert calls[-1][1] == 3
    assert "2 of 3" in (calls[-1][2] or "")


async def test_on_error_maps_exceptions_to_results() -> None:
    async def check(n: int) -> str:
        await anyio.sleep(0.01)
        if n % 2:
            raise ValueError(f"odd {n}")
        return f"even {n}"

    results = await fanout([0, 1, 2, 3], check, on_timeout=timed_out, on_error=lambda n, exc: f"error: {exc}")

    assert results == ["even 0", "error: odd 1", "even 2", "error: odd 3"]


async def test_without_on_error_the_exception_propagates_and_cancels_the_others() -> None:
    tracker = Tracker()
    before = asyncio.all_tasks()

    class Boom(Exception):
        pass

    async def check(item: str) -> str:
        if item == "bad":
            await anyio.sleep(0.05)
            raise Boom("the check broke")
        return await tracker.run(item, "", 0.5)

    with pytest.raises(Boom, match="the check broke"):
        await fanout(["s1", "s2", "bad", "s3", "s4"], check, concurrency=3, on_timeout=timed_out)

    assert asyncio.all_tasks() == before
    await anyio.sleep(0.7)  # longer than the checks would have taken
    assert tracker.finished == []
    assert sorted(tracker.cancelled) == ["s1", "s2"]
    assert "s3" not in tracker.started


async def test_outer_cancellation_leaves_no_task_running() -> None:
    tracker = Tracker()
    before = asyncio.all_tasks()
    t0 = time.monotonic()

    with anyio.move_on_after(0.2) as scope:
        await fanout(
            [f"i{n}" for n in range(10)],
            lambda i: tracker.run(i, "", 0.5),
            concurrency=4,
            on_timeout=timed_out,
        )

    assert scope.cancelled_caught
    assert time.monotonic() - t0 < 0.2 + SLACK
    assert asyncio.all_tasks() == before
    assert tracker.total == 0
    assert sorted(tracker.cancelled) == sorted(tracker.started)
    assert len(tracker.started) == 4
    await anyio.sleep(0.5)
    assert tracker.finished == []


async def test_empty_input_calls_nothing() -> None:
    async def check(item: str) -> str:
        raise AssertionError("not called")

    async def progress(done: int, total: int, message: str | None) -> None:
        raise AssertionError("not called")

    assert await fanout([], check, on_timeout=timed_out, progress=progress) == []


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("concurrency", 0),
        ("concurrency", -3),
        ("concurrency", 2.5),
        ("concurrency", True),
        ("per_host", 0),
        ("item_timeout", 0),
        ("item_timeout", -1.0),
        ("item_timeout", math.nan),
        ("item_timeout", math.inf),
        ("deadline", 0.0),
        ("deadline", "5"),
    ],
)
async def test_invalid_arguments_raise_input_error_naming_the_argument(argument: str, value: object) -> None:
    async def check(item: str) -> str:
        return item

    with pytest.raises(InputError, match=argument):
        await fanout(["x"], check, on_timeout=timed_out, **{argument: value})  # type: ignore[arg-type]


async def test_key_must_return_a_string() -> None:
    async def check(item: int) -> int:
        return item

    with pytest.raises(InputError, match="key must return"):
        await fanout([1], check, key=lambda i: i, on_timeout=lambda i, _: 0)  # type: ignore[arg-type, return-value]


async def test_held_back_counts_only_what_the_per_host_limit_alone_imposed() -> None:
    async def check(item: str) -> str:
        await anyio.sleep(0.2)
        return item

    # One host, one slot: the second and third wait for it while global slots are free.
    held = HeldBack()
    await fanout(["a1", "a2", "a3"], check, on_timeout=timed_out, key=lambda i: i[0], per_host=1, held=held)
    assert held.items == 2
    assert 0.3 <= held.longest_s <= 0.4 + SLACK and held.total_s >= 0.45
    # The global limit holding them back is not the per-host limit's doing.
    held = HeldBack()
    await fanout(
        ["a1", "b1", "c1"], check, on_timeout=timed_out, key=lambda i: i[0], concurrency=1, held=held
    )
    assert held.items == 0
