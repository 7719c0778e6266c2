"""The per-host token bucket (monitor_common.ratelimit) on a fake clock, and its setting."""

from __future__ import annotations

import math

import anyio
import pytest
from monitor_common.config import Settings, set_settings
from monitor_common.context import CheckContext, get_context
from monitor_common.errors import ConfigError, LimitError
from monitor_common.ratelimit import RateLimited, RateLimiter, acquire, host_key, wait_meter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make(rate: float, **kwargs: float) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(rate, clock=clock, sleep=clock.sleep, **kwargs), clock


def test_a_burst_of_rate_requests_passes_at_once_then_one_per_interval() -> None:
    bucket, clock = make(10)
    assert [bucket.reserve("example.com") for _ in range(10)] == [0.0] * 10
    # Tokens are reserved in turn: the 11th waits 0.1 s, the 12th 0.2 s, ...
    waits = [bucket.reserve("example.com") for _ in range(5)]
    assert waits == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    clock.now += 0.5  # the 5 reserved slots are used up by now: the next one is 0.1 s away
    assert bucket.reserve("example.com") == pytest.approx(0.1)


async def test_a_loop_is_held_to_the_rate() -> None:
    bucket, clock = make(10)
    start = clock.now
    for _ in range(110):
        await bucket.acquire("example.com")
    # 10 at once, then 100 more at 10 per second: 10 s of (fake) time, not less.
    assert clock.now - start == pytest.approx(10.0)
    stats = bucket.stats()
    assert (stats.granted, stats.delayed, stats.refused) == (110, 100, 0)


def test_the_bucket_refills_to_the_burst_and_no_further() -> None:
    bucket, clock = make(5)
    for _ in range(5):
        bucket.reserve("a.example")
    clock.now += 3600
    assert [bucket.reserve("a.example") for _ in range(5)] == [0.0] * 5
    assert bucket.reserve("a.example") == pytest.approx(0.2)


def test_hosts_are_independent() -> None:
    bucket, _ = make(2)
    bucket.reserve("a.example")
    bucket.reserve("a.example")
    assert bucket.reserve("a.example") == pytest.approx(0.5)
    assert bucket.reserve("b.example") == 0.0


@pytest.mark.parametrize(
    ("spelling", "key"),
    [
        ("Example.COM.", "example.com"),
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "127.0.0.1"),
        ("[2001:DB8:0::1]", "2001:db8::1"),
    ],
)
def test_every_spelling_of_a_host_shares_its_bucket(spelling: str, key: str) -> None:
    assert host_key(spelling) == key
    bucket, _ = make(1)
    bucket.reserve(key)
    assert bucket.reserve(spelling) == pytest.approx(1.0)


def test_a_wait_longer_than_the_budget_is_refused_and_takes_nothing() -> None:
    bucket, _ = make(1)
    bucket.reserve("example.com")
    with pytest.raises(RateLimited) as caught:
        bucket.reserve("example.com", budget_s=0.5)
    error = caught.value
    assert isinstance(error, LimitError)  # an engine that misses it still gives a clear ToolError
    assert (error.host, error.rate, error.wait_s, error.budget_s) == ("example.com", 1.0, 1.0, 0.5)
    assert "example.com" in str(error) and "limited to 1/s" in str(error)
    assert "MCP_MONITOR_RATE_LIMIT_PER_HOST" in str(error)
    # The refused request reserved nothing: the next caller with time to wait gets the same slot.
    assert bucket.reserve("example.com", budget_s=5) == pytest.approx(1.0)
    assert bucket.stats().refused == 1


async def test_a_cancelled_waiter_gives_its_slot_back() -> None:
    bucket = RateLimiter(1)
    bucket.reserve("example.com")
    with anyio.move_on_after(0.05):
        await bucket.acquire("example.com")  # would wait 1 s
    assert bucket.reserve("example.com") == pytest.approx(1.0, abs=0.1)


def test_a_token_at_hand_is_given_even_with_no_time_left() -> None:
    bucket, _ = make(1)
    assert bucket.reserve("example.com", budget_s=-1.0) == 0.0  # the check's own timeout says the rest
    with pytest.raises(RateLimited):
        bucket.reserve("example.com", budget_s=-1.0)


def test_rate_zero_lets_everything_through() -> None:
    bucket, _ = make(0)
    assert not bucket.enabled
    assert all(bucket.reserve("example.com", budget_s=0) == 0.0 for _ in range(10_000))
    assert bucket.stats().buckets == 0


def test_a_fractional_rate_has_a_burst_of_one() -> None:
    bucket, _ = make(0.5)
    assert bucket.reserve("example.com") == 0.0
    assert bucket.reserve("example.com") == pytest.approx(2.0)


def test_idle_buckets_are_evicted() -> None:
    bucket, clock = make(10)
    for i in range(5000):
        bucket.reserve(f"host{i}.example")
        clock.now += 0.001
    # Only the hosts of the last second can still differ from a full bucket.
    assert bucket.stats().buckets < 2100
    clock.now += 10
    for i in range(1100):
        bucket.reserve(f"other{i}.example")
    assert bucket.stats().buckets <= 1100 + 1024


def test_the_setting_parses_and_defaults_to_ten() -> None:
    assert Settings().rate_limit_per_host == 10.0
    assert Settings.load(environ={"MCP_MONITOR_RATE_LIMIT_PER_HOST": "2.5"}).rate_limit_per_host == 2.5
    assert Settings.load(environ={"MCP_MONITOR_RATE_LIMIT_PER_HOST": "0"}).rate_limit_per_host == 0.0
    assert Settings.load(flags={"rate_limit_per_host": "50"}).rate_limit_per_host == 50.0
    for bad in ("-1", "fast", "inf", "nan"):
        with pytest.raises(ConfigError, match="MCP_MONITOR_RATE_LIMIT_PER_HOST"):
            Settings.load(environ={"MCP_MONITOR_RATE_LIMIT_PER_HOST": bad})


def test_one_limiter_per_settings() -> None:
    settings = Settings(rate_limit_per_host=3)
    set_settings(settings)
    shared = get_context().limiter
    assert shared is get_context().limiter and shared.rate == 3
    set_settings(settings.replace(rate_limit_per_host=4))
    assert get_context().limiter is not shared and get_context().limiter.rate == 4


def test_the_limiter_reads_no_settings() -> None:
    # The limit a check obeys is its context's, whatever the process-wide settings say.
    set_settings(Settings(rate_limit_per_host=1))
    context = CheckContext(limiter=RateLimiter(5))
    assert context.limiter.rate == 5 and get_context().limiter.rate == 1


async def test_acquire_fits_the_wait_in_the_enclosing_deadline() -> None:
    bucket = RateLimiter(2)
    await acquire(bucket, "example.com")
    await acquire(bucket, "example.com")
    with wait_meter() as meter:
        waited = await acquire(bucket, "example.com", timeout=5)  # 0.5 s: fits
    assert waited == pytest.approx(0.5, abs=0.05) and meter.waited_s == waited
    with anyio.fail_after(0.2), pytest.raises(RateLimited):
        await acquire(bucket, "example.com")  # 0.5 s away, 0.2 s left: refused at once, not timed out
    with pytest.raises(RateLimited):
        await acquire(bucket, "example.com", timeout=0.1)
    assert bucket.stats().refused == 2
    assert math.isclose(bucket.stats().waited_s, waited, abs_tol=0.05)


async def test_acquire_leaves_the_request_its_share_of_the_timeout() -> None:
    # At 1/s the second request waits 1 s for its slot. With 1.5 s to go, waiting would leave
    # 0.5 s for the request itself (less than half): it is refused as rate_limited rather than
    # sent to time out and be blamed on the target. With 2.5 s it waits (1.5 s stay for it).
    bucket = RateLimiter(1)
    await acquire(bucket, "example.com")
    with pytest.raises(RateLimited):
        await acquire(bucket, "example.com", timeout=1.5)
    with anyio.fail_after(1.5), pytest.raises(RateLimited):
        await acquire(bucket, "example.com")
    waited = await acquire(bucket, "example.com", timeout=2.5)
    assert waited == pytest.approx(1.0, abs=0.1)
