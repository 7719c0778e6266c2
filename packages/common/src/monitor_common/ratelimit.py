"""The per-host rate limit: how often one process may contact one target host.

A monitoring server connects wherever its callers point it, as often as they call. Without a
limit an agent in a loop (or a bulk call naming one host a thousand times) turns it into a flood
tool. `RateLimiter` is a token bucket per host: `rate` requests per second, with a burst of
`rate` requests (at least one), so a call that makes a few requests is not slowed and a loop is
held to the rate. There is one limiter per process, shared by every call and every tool of the
server, built from the `rate_limit_per_host` setting (`MCP_MONITOR_RATE_LIMIT_PER_HOST`,
default 10; 0 turns the limit off) into the check context (`context.CheckContext.limiter`), which
every check passes down to where it connects; this module never reads the settings.

It is applied where every outbound request passes, so no tool can bypass it:

- every HTTP request, each redirect hop included, in the guarded httpx2 transport (pooled
  connections are reused without dialling, so the hook is per request, not per connection);
- every TCP connection `netpolicy.open_tcp` opens (tcp_check, TLS handshakes, STARTTLS, scans);
- every DNS query dns-monitor sends, keyed by the nameserver asked. A question over UDP or plain
  TCP costs `DNS_QUERY_COST` (a quarter) of a token: it is one small datagram each way, a tiny
  fraction of the work a TLS handshake or an HTTP request asks of a server, and an audit of one
  zone asks each nameserver 20 to 30 of them (Zonemaster asks hundreds). At a quarter, one
  `dns_delegation` plus `dnssec_check` fits in a server's burst, and a loop of lookups is still
  held to four times the rate in questions per second. DoT and DoH questions (a TLS connection,
  an HTTP request each) cost a whole token.

Looking up a target's name (the system resolver, or `MCP_MONITOR_RESOLVER`) is infrastructure
the operator chose, as for the network policy, and is not counted. Phase timings (connect time,
DNS latency) leave the wait out (`wait_meter`); a result's total duration includes it.

The host key is the host as contacted: a lower-cased name without its final dot, or the
canonical form of an IP literal (`127.1`, `0x7f000001` and `::ffff:127.0.0.1` are all
127.0.0.1). Two names of one server are two keys: the limit protects a host from a loop over
one target, it is not a bandwidth quota.

A request over the limit waits for its turn when that fits in what is left of its deadline (the
innermost anyio cancel scope and the request's own timeout), else it is not sent and
`RateLimited` is raised at once, naming the host, the rate and the wait it would have needed.
The engines turn it into a finding with the stable code `rate_limited` and severity unknown:
nothing was learnt about the target, which is neither up nor down as far as the check knows. An
engine that does not catch it still gives the caller a clear error (it is a `LimitError`), never
a silently dropped request.

Memory is bounded: a bucket that has refilled is the same as no bucket, so buckets idle long
enough to be full are dropped whenever the table has doubled since the last sweep.
"""

from __future__ import annotations

import contextvars
import functools
import math
import time
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import anyio

from monitor_common.errors import LimitError, TargetError
from monitor_common.targets import IPAddress, parse_ip

if TYPE_CHECKING:
    from monitor_common.results import Finding

DNS_QUERY_COST: Final = 0.25
"""The tokens one DNS question over UDP or TCP takes (see the module docstring)."""

__all__ = [
    "DNS_QUERY_COST",
    "RATE_LIMITED",
    "RateLimited",
    "RateLimiter",
    "WaitMeter",
    "acquire",
    "host_key",
    "wait_meter",
]

RATE_LIMITED: Final = "rate_limited"
"""The finding code the engines use for a request the limit held back: `findings.RATE_LIMITED`'s."""

ENV_RATE_LIMIT: Final = "MCP_MONITOR_RATE_LIMIT_PER_HOST"

_SWEEP_MIN: Final = 1024


class RateLimited(LimitError):
    """A request to `host` would have had to wait `wait_s` seconds, more than its deadline left."""

    def __init__(self, host: str, *, rate: float, wait_s: float, budget_s: float) -> None:
        super().__init__(
            f"rate limit: requests to {host} are limited to {rate:g}/s from this server and the next "
            f"slot is {wait_s:.2f} s away, past this check's deadline ({max(budget_s, 0.0):.2f} s left), "
            f"so the request was not sent. Space the calls out or give a longer timeout (the operator "
            f"sets the limit with {ENV_RATE_LIMIT})"
        )
        self.host = host
        self.rate = rate
        self.wait_s = wait_s
        self.budget_s = budget_s

    @property
    def hint(self) -> str:
        return (
            f"calls to {self.host} come faster than {self.rate:g}/s: space them out, "
            "or pass a timeout long enough to wait for a slot"
        )

    def finding(self, what: str) -> Finding:
        """The `rate_limited` finding (unknown: nothing was learnt) for `what` was not done."""
        from monitor_common import findings

        return findings.RATE_LIMITED.finding(f"{what}: {self}", hint=self.hint)


@functools.lru_cache(maxsize=4096)
def host_key(host: str) -> str:
    """The bucket a host belongs to: its canonical IP literal, or its lower-cased name."""
    text = host.strip().strip("[]").lower().rstrip(".")
    try:
        ip = parse_ip(text)
    except TargetError:  # neither a name nor an address (`example.123`): keyed as written
        ip = None
    if ip is None:
        return text
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).compressed


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


@dataclass(frozen=True, slots=True)
class Stats:
    """What the limiter did so far (for tests and the reliability report)."""

    granted: int
    """Requests let through, at once or after waiting."""
    delayed: int
    """Of those, how many had to wait."""
    waited_s: float
    """The waits they were given, added up."""
    refused: int
    """Requests not sent because their wait did not fit in their deadline."""
    buckets: int
    """Hosts with a bucket now."""


class RateLimiter:
    """Token buckets keyed by host: `rate` per second, `burst` at once (default: `rate`, at least 1).

    `rate` <= 0 lets everything through. `clock` (monotonic seconds) and `sleep` can be replaced
    for tests; `reserve` is the synchronous core, `acquire` reserves and then sleeps.
    """

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if math.isnan(rate) or math.isinf(rate):
            raise ValueError(f"rate must be a finite number, not {rate!r}")
        self.rate = max(rate, 0.0)
        self.burst = max(1.0, self.rate if burst is None else burst)
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, _Bucket] = {}
        self._sweep_at = _SWEEP_MIN
        self._granted = 0
        self._delayed = 0
        self._waited = 0.0
        self._refused = 0

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def stats(self) -> Stats:
        return Stats(self._granted, self._delayed, round(self._waited, 6), self._refused, len(self._buckets))

    def reserve(self, host: str, budget_s: float = math.inf, cost: float = 1.0) -> float:
        """Take `cost` tokens (one request: 1) for `host` and return how long to wait before using
        them (0.0: now).

        Raises RateLimited, taking nothing, when that wait is longer than `budget_s`.
        """
        if self.rate <= 0:
            return 0.0
        key = host_key(host)
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._sweep_at:
                self._sweep(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        # The bucket may go into debt: each waiter reserves the next slot in turn, so concurrent
        # callers are spaced 1/rate apart without a lock (the event loop runs this synchronously).
        wait = 0.0 if bucket.tokens >= cost else (cost - bucket.tokens) / self.rate
        if wait > 0 and wait > budget_s:  # a token at hand is never refused, however late
            self._refused += 1
            raise RateLimited(key, rate=self.rate, wait_s=wait, budget_s=budget_s)
        bucket.tokens -= cost
        self._granted += 1
        if wait > 0:
            self._delayed += 1
            self._waited += wait
        return wait

    def refund(self, host: str, cost: float = 1.0) -> None:
        """Give back tokens reserved by `reserve` and not used (their waiter was cancelled)."""
        bucket = self._buckets.get(host_key(host))
        if bucket is not None:
            bucket.tokens = min(self.burst, bucket.tokens + cost)

    async def acquire(self, host: str, budget_s: float = math.inf, cost: float = 1.0) -> float:
        """Wait until a request to `host` (costing `cost` tokens) may be sent; the seconds waited.

        Raises RateLimited at once when the wait would be longer than `budget_s`.
        """
        wait = self.reserve(host, budget_s, cost)
        if wait > 0:
            try:
                await self._sleep(wait)
            except BaseException:  # cancelled while waiting: the slot was not used
                self.refund(host, cost)
                raise
        return wait

    def _sweep(self, now: float) -> None:
        # A bucket full by now behaves exactly like a missing one, so dropping it changes nothing.
        self._buckets = {
            key: bucket
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.stamp) * self.rate < self.burst
        }
        self._sweep_at = max(_SWEEP_MIN, 2 * len(self._buckets))


def _budget(timeout: float | None) -> float:
    """How long a request may wait for its slot: the time left before the innermost cancel
    scope's deadline (capped at `timeout`), less what the request itself needs.

    Half of the time left, or one second when there is more, stays for the request: a wait that
    ate the whole timeout would end in a timeout blamed on the target, where the truth is that
    the limiter held the request back (`rate_limited`).
    """
    budget = math.inf if timeout is None else timeout
    deadline = anyio.current_effective_deadline()
    if deadline != math.inf:
        budget = min(budget, deadline - anyio.current_time())
    return budget - min(_REQUEST_SHARE_S, budget / 2)


_REQUEST_SHARE_S = 1.0


async def acquire(
    limiter: RateLimiter,
    host: str,
    timeout: float | None = None,  # noqa: ASYNC109 - a budget, not a scope
    *,
    cost: float = 1.0,
) -> float:
    """Wait for `limiter` (the check context's) to let a request to `host` through (`cost` tokens:
    1 for a request or connection, `DNS_QUERY_COST` for a DNS question); the seconds waited.

    The wait and the request after it must fit in `timeout` (None: no cap) and in the deadline of
    the enclosing anyio cancel scopes (see `_budget`); otherwise RateLimited is raised before
    anything is sent. The wait is added to the `wait_meter` open in this task, if any.
    """
    if not limiter.enabled:
        return 0.0
    waited = await limiter.acquire(host, _budget(timeout), cost)
    meter = _meter.get()
    if meter is not None and waited:
        meter.waited_s += waited
    return waited


async def acquire_address(
    limiter: RateLimiter,
    ip: IPAddress,
    host: str,
    timeout: float | None = None,  # noqa: ASYNC109 - a budget, not a scope
) -> float:
    """Wait for a token of the address about to be dialled for `host`; the seconds waited.

    A request takes a token of the host it names (`acquire`); a connection to a name takes one
    of the address as well, so that many names of one server (wildcard DNS, `connect_ip`) share
    that server's limit instead of having one each. A host written as that very address has
    paid already. The wait also counts in the `wait_meter` as `connect_waited_s`, which the HTTP
    checks take out of their connect phase.
    """
    address = (getattr(ip, "ipv4_mapped", None) or ip).compressed
    if host_key(host) == address:
        return 0.0
    waited = await acquire(limiter, address, timeout)
    meter = _meter.get()
    if meter is not None and waited:
        meter.connect_waited_s += waited
    return waited


@dataclass(slots=True)
class WaitMeter:
    waited_s: float = 0.0
    connect_waited_s: float = 0.0  # the part of waited_s spent inside a connect (acquire_address)


_meter: contextvars.ContextVar[WaitMeter | None] = contextvars.ContextVar("ratelimit_meter", default=None)


@contextmanager
def wait_meter() -> Generator[WaitMeter]:
    """Add up the rate-limit waits of the requests made inside (in this task), so that timings
    of connect or exchange phases can leave out the time spent waiting for a slot."""
    meter = WaitMeter()
    token = _meter.set(meter)
    try:
        yield meter
    finally:
        _meter.reset(token)
