"""The per-host rate limit end to end: tools called in a loop or in bulk against loopback servers.

The servers here record when each connection and request arrives (on the test's own event loop),
so the assertions are about what a target host saw, not about how long a call took: a token
bucket of rate R and burst R lets at most R + R*w requests through in any window of w seconds.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import dns.message
import pytest
from mcp import Client
from monitor_common.config import Settings, set_settings
from monitor_common.context import get_context
from support.certs import CertAuthority, serve_tls
from support.dns_server import DNSServer, zone
from support.reliability import record

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def use(rate: float) -> Settings:
    settings = Settings(allow_networks=LOOPBACK, rate_limit_per_host=rate)
    set_settings(settings)
    return settings


class Target:
    """An HTTP/1.1 server on a loopback address that records when each connection and request came.

    `/` answers 200; `/redirect/N` answers 302 to `/redirect/N-1`, and `/redirect/0` 200.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.connections: list[float] = []
        self.requests: list[float] = []
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    async def __aenter__(self) -> Target:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(time.monotonic())
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(time.monotonic())
                path = head.split(b" ", 2)[1].decode()
                if path.startswith("/redirect/") and path != "/redirect/0":
                    hops = int(path.rsplit("/", 1)[1])
                    reply = (
                        f"HTTP/1.1 302 Found\r\nLocation: /redirect/{hops - 1}\r\nContent-Length: 0\r\n\r\n"
                    )
                else:
                    reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
                writer.write(reply.encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


def peak(stamps: Sequence[float], window: float = 1.0) -> int:
    """The most events in any `window` seconds."""
    ordered = sorted(stamps)
    best, start = 0, 0
    for end, stamp in enumerate(ordered):
        while stamp - ordered[start] > window:
            start += 1
        best = max(best, end - start + 1)
    return best


def assert_paced(stamps: Sequence[float], rate: float, elapsed: float) -> None:
    """Held to `rate` with a burst of `rate`.

    What the server saw: at most burst + rate*w requests in any window of w = 1 s, plus a little
    for arrival jitter (requests that leave the limiter in turn may reach the server together
    on a loaded machine). What the caller saw: the calls took at least as long as the requests
    beyond the burst need, since tokens come at `rate` from the first request on; a lower bound
    on elapsed time holds however loaded the machine is.
    """
    assert peak(stamps, 1.0) <= 2 * rate + max(1, rate / 4), sorted(stamps)
    assert elapsed >= (len(stamps) - rate) / rate * 0.99, (elapsed, len(stamps))


class Elapsed:
    """`with Elapsed() as took:` ... `took.seconds`."""

    def __enter__(self) -> Elapsed:
        self.started = time.monotonic()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.monotonic() - self.started


class Session:
    """One in-process MCP client session on a server, kept open so that a loop of calls is fast."""

    def __init__(self, module: Any) -> None:
        self._client = Client(module.mcp)

    async def __aenter__(self) -> Session:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._client.__aexit__(*exc_info)

    async def __call__(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self._client.call_tool(tool, arguments)
        assert not result.is_error, result.content
        assert result.structured_content is not None
        return result.structured_content


async def call(module: Any, tool: str, **arguments: Any) -> dict[str, Any]:
    async with Session(module) as session:
        return await session(tool, **arguments)


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    async with Target() as server:
        yield server


async def test_a_loop_of_http_checks_is_held_to_the_default_rate(target: Target) -> None:
    import http_monitor.server

    settings = use(Settings().rate_limit_per_host)  # the default: 10 per second per host
    rate = settings.rate_limit_per_host
    calls = 20
    async with Session(http_monitor.server) as session:
        with Elapsed() as took:
            for _ in range(calls):
                result = await session("http_check", url=target.url())
                assert result["verdict"] == "ok", result["findings"]
    assert len(target.requests) == calls  # every call was served: none dropped
    assert_paced(target.requests, rate, took.seconds)
    stats = get_context().limiter.stats()
    # Calls beyond the burst waited (a few fewer than calls - rate: the loop's own time refills some).
    assert stats.granted == calls and stats.refused == 0 and stats.delayed >= calls - 2 * rate
    ordered = sorted(target.requests)
    gaps = sorted(b - a for a, b in itertools.pairwise(ordered[int(rate) :]))
    record("ratelimit", "http_check loop: most requests seen in any one second", peak(ordered), "requests",
           limit_per_s=rate, burst=rate, bound=2 * rate, calls=calls)  # fmt: skip
    record("ratelimit", "http_check loop: steady rate after the burst (1 / median gap)",
           round(1 / gaps[len(gaps) // 2], 2), "requests/s", limit_per_s=rate)  # fmt: skip


async def test_concurrent_calls_share_one_limiter(target: Target) -> None:
    import http_monitor.server

    rate = 20
    use(rate)
    async with Session(http_monitor.server) as session:
        with Elapsed() as took:
            results = await asyncio.gather(*(session("http_check", url=target.url()) for _ in range(40)))
    assert [r["verdict"] for r in results] == ["ok"] * 40
    assert len(target.requests) == 40
    assert_paced(target.requests, rate, took.seconds)
    assert get_context().limiter.stats().delayed >= 40 - 2 * rate
    record("ratelimit", "40 concurrent http_check calls: most requests seen in any one second",
           peak(target.requests), "requests", limit_per_s=rate, bound=2 * rate)  # fmt: skip


async def test_http_check_many_paces_the_urls_of_one_host(target: Target) -> None:
    import http_monitor.server

    rate = 10
    use(rate)
    urls = [target.url(f"/?i={i}") for i in range(30)]
    with Elapsed() as took:
        result = await call(http_monitor.server, "http_check_many", urls=urls)
    assert result["counts"]["ok"] == 30, result["rows"]
    assert len(target.requests) == 30
    assert_paced(target.requests, rate, took.seconds)
    assert get_context().limiter.stats().delayed >= 10  # (20 when the machine keeps up with the rate)
    record("ratelimit", "http_check_many, 30 URLs of one host: span of the requests",
           round(max(target.requests) - min(target.requests), 2), "s", limit_per_s=rate)  # fmt: skip


async def test_every_redirect_hop_counts(target: Target) -> None:
    import http_monitor.server

    use(0.2)
    result = await call(http_monitor.server, "http_check", url=target.url("/redirect/3"), timeout_s=0.5)
    # The first hop took the only token; the second would wait 5 s, past the 0.5 s timeout.
    assert result["verdict"] == "unknown"
    assert [f["code"] for f in result["findings"]] == ["rate_limited"]
    assert len(target.requests) == 1


async def test_a_call_whose_timeout_is_shorter_than_the_wait_gets_a_finding_at_once(target: Target) -> None:
    import http_monitor.server

    use(0.5)  # one request per 2 s
    first = await call(http_monitor.server, "http_check", url=target.url())
    assert first["verdict"] == "ok"
    started = time.monotonic()
    second = await call(http_monitor.server, "http_check", url=target.url(), timeout_s=0.3)
    elapsed = time.monotonic() - started
    assert second["verdict"] == "unknown"
    (finding,) = second["findings"]
    assert finding["code"] == "rate_limited" and finding["severity"] == "unknown"
    assert "limited to 0.5/s" in finding["message"] and "not sent" in finding["message"]
    assert finding["hint"]
    assert second["duration_ms"] < 250  # refused at once, not after sitting out its 0.3 s timeout
    assert len(target.requests) == 1  # and nothing was sent
    # A call with time to wait waits, and is served.
    third = await call(http_monitor.server, "http_check", url=target.url(), timeout_s=5)
    assert third["verdict"] == "ok" and len(target.requests) == 2
    assert get_context().limiter.stats().delayed == 1
    record("ratelimit", "over-limit call answered with rate_limited after", round(elapsed * 1000), "ms",
           timeout_s=0.3, wait_needed_s=2)  # fmt: skip


async def test_bulk_rows_that_cannot_get_a_slot_in_time_are_rows_with_the_finding(target: Target) -> None:
    import http_monitor.server

    use(0.5)  # a burst of one, then one request per 2 s: past every row's 1 s timeout
    urls = [target.url(f"/?i={i}") for i in range(6)]
    result = await call(http_monitor.server, "http_check_many", urls=urls, timeout_s=1)
    rows = result["rows"]
    assert len(rows) == 6  # one row per URL: nothing silently dropped
    limited = [row for row in rows if "rate limit:" in row["summary"]]
    served = [row for row in rows if row["verdict"] == "ok"]
    assert (len(served), len(limited)) == (1, 5)
    assert all(row["verdict"] == "unknown" for row in limited)
    assert "http_urls_unchecked" in [f["code"] for f in result["findings"]]
    assert len(target.requests) == 1


async def test_hosts_have_their_own_buckets(target: Target) -> None:
    import http_monitor.server

    use(0.2)  # a burst of one, then one request per 5 s
    async with Target("127.0.0.2") as other:
        assert (await call(http_monitor.server, "http_check", url=target.url()))["verdict"] == "ok"
        assert (await call(http_monitor.server, "http_check", url=other.url()))["verdict"] == "ok"
        again = await call(http_monitor.server, "http_check", url=target.url(), timeout_s=0.3)
        assert again["findings"][0]["code"] == "rate_limited"
        # Another spelling of the same address is the same host.
        spelled = await call(
            http_monitor.server, "http_check", url=f"http://127.1:{target.port}/", timeout_s=0.3
        )
        assert spelled["findings"][0]["code"] == "rate_limited"
        assert (len(target.requests), len(other.requests)) == (1, 1)


async def test_zero_turns_the_limit_off(target: Target) -> None:
    import http_monitor.server

    use(0)
    urls = [target.url(f"/?i={i}") for i in range(40)]
    result = await call(http_monitor.server, "http_check_many", urls=urls)
    assert result["counts"]["ok"] == 40
    stats = get_context().limiter.stats()
    assert (stats.granted, stats.delayed, stats.buckets) == (0, 0, 0)


async def test_tcp_check_honours_the_limit(target: Target) -> None:
    import http_monitor.server

    rate = 5
    use(rate)
    async with Session(http_monitor.server) as session:
        with Elapsed() as took:
            for _ in range(8):
                result = await session(
                    "tcp_check", host=target.host, port=target.port, send="GET / HTTP/1.1\r\n\r\n"
                )
                assert result["verdict"] == "ok"
    await asyncio.sleep(0.05)  # the last accept callback runs on this loop
    assert len(target.connections) == 8
    assert_paced(target.connections, rate, took.seconds)
    # A call that waits for its slot does not report the wait as connect time.
    use(1)
    async with Session(http_monitor.server) as session:
        await session("tcp_check", host=target.host, port=target.port, send="GET / HTTP/1.1\r\n\r\n")
        waited = await session(
            "tcp_check", host=target.host, port=target.port, send="GET / HTTP/1.1\r\n\r\n", timeout_s=5
        )
    assert get_context().limiter.stats().delayed == 1 and waited["verdict"] == "ok"
    assert waited["connect_ms"] < get_context().limiter.stats().waited_s * 1000


async def test_http_and_tcp_share_a_host_bucket(target: Target) -> None:
    import http_monitor.server

    use(0.2)
    assert (await call(http_monitor.server, "http_check", url=target.url()))["verdict"] == "ok"
    result = await call(http_monitor.server, "tcp_check", host=target.host, port=target.port, timeout_s=0.3)
    assert [f["code"] for f in result["findings"]] == ["rate_limited"]


async def test_cert_check_honours_the_limit(ca: CertAuthority) -> None:
    import ssl_monitor.server

    rate = 5
    use(rate)
    leaf = ca.valid()
    async with serve_tls(leaf.server_ssl_context()) as (_, port):
        async with Session(ssl_monitor.server) as session:
            with Elapsed() as took:
                for _ in range(8):
                    result = await session(
                        "cert_check", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem
                    )
                    assert result["verdict"] == "ok", result["findings"]
        stats = get_context().limiter.stats()
        assert stats.granted == 8 and stats.delayed >= 8 - 2 * rate
        assert took.seconds >= (8 - rate) / rate * 0.99
        use(0.2)
        await call(ssl_monitor.server, "cert_check", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem)
        limited = await call(
            ssl_monitor.server, "cert_check", host="127.0.0.1", port=port, timeout_s=0.1,
            ca_bundle_pem=leaf.ca_pem,
        )  # fmt: skip
    assert limited["verdict"] == "unknown"
    assert [f["code"] for f in limited["findings"]] == ["rate_limited"]


async def test_dns_lookup_honours_the_limit_per_nameserver(dns_server: DNSServer) -> None:
    """A DNS question costs a quarter of a request (`DNS_QUERY_COST`): a nameserver sees at most
    four times the rate in questions per second, with a burst of as many."""
    import dns_monitor.server
    from monitor_common.ratelimit import DNS_QUERY_COST

    rate = 5
    use(rate)
    answered: list[float] = []
    records = zone({("www.example.com.", "A"): ["192.0.2.1"]})

    def handler(request: dns.message.Message, transport: Any) -> Any:
        answered.append(time.monotonic())
        return records(request, transport)

    dns_server.handler = handler
    server = f"127.0.0.1:{dns_server.port}"
    questions = 30  # the burst (20 questions) and ten beyond it
    async with Session(dns_monitor.server) as session:
        with Elapsed() as took:
            for _ in range(questions):
                result = await session("dns_lookup", name="www.example.com", server=server)
                assert result["verdict"] == "ok", result["findings"]
    assert len(answered) == questions
    assert_paced(answered, rate / DNS_QUERY_COST, took.seconds)
    assert get_context().limiter.stats().delayed >= questions - 2 * rate / DNS_QUERY_COST
    use(1)  # a burst of one token: four questions, then one every quarter second
    per_token = round(1 / DNS_QUERY_COST)
    async with Session(dns_monitor.server) as session:
        for _ in range(per_token):
            await session("dns_lookup", name="www.example.com", server=server)
        assert get_context().limiter.stats().delayed == 0
        waited = await session("dns_lookup", name="www.example.com", server=server, timeout_s=5)
        limited = await session("dns_lookup", name="www.example.com", server=server, timeout_s=0.1)
    assert waited["verdict"] == "ok" and get_context().limiter.stats().delayed == 1
    # The wait for the slot is not the server's latency.
    assert waited["lookups"][0]["latency_ms"] < get_context().limiter.stats().waited_s * 1000
    # Asked again at once with 0.1 s to spare: a quarter second away, so not sent.
    assert limited["verdict"] == "unknown"
    assert [f["code"] for f in limited["findings"]] == ["rate_limited"]
    assert len(answered) == questions + per_token + 1


async def test_the_wait_for_a_slot_does_not_count_against_max_response_ms(target: Target) -> None:
    import http_monitor.server

    use(1)  # a burst of one, then one request per second
    first = await call(http_monitor.server, "http_check", url=target.url(), max_response_ms=500)
    assert first["verdict"] == "ok", first["findings"]
    # The second request waits about a second for its slot: our own pacing, not the target's time.
    second = await call(http_monitor.server, "http_check", url=target.url(), max_response_ms=500, timeout_s=5)
    assert get_context().limiter.stats().delayed == 1
    assert second["verdict"] == "ok", second["findings"]
    assert second["duration_ms"] >= 500  # the call itself did take the wait


async def test_http_timing_profiles_the_target_not_the_wait_for_slots(target: Target) -> None:
    import http_monitor.server

    use(4)  # a burst of four, then one request per 250 ms: samples 5 and 6 wait for theirs
    result = await call(http_monitor.server, "http_timing", url=target.url(), samples=6, timeout_s=10)
    assert len(target.requests) == 6 and get_context().limiter.stats().delayed >= 1
    totals = result["phases_ms"]["total"]
    # A loopback answer takes milliseconds; a sample that counted its wait would show about 250.
    assert totals["max"] < 150, totals
    assert result["duration_ms"] >= 250  # the profile itself did take the waits


async def test_http_timing_whose_samples_were_all_held_back_is_unknown_not_critical(target: Target) -> None:
    import http_monitor.server

    use(1)  # one token, the next a second away
    assert (await call(http_monitor.server, "http_check", url=target.url()))["verdict"] == "ok"
    result = await call(http_monitor.server, "http_timing", url=target.url(), samples=2, timeout_s=0.5)
    assert len(target.requests) == 1  # no sample was sent: nothing was learnt about the target
    assert result["verdict"] == "unknown", result["findings"]
    assert [f["code"] for f in result["findings"]] == ["rate_limited"]
    assert result["summary"].startswith("unknown: ")


async def test_a_headers_check_held_back_says_unknown_in_its_summary_too(target: Target) -> None:
    import http_monitor.server

    use(1)
    assert (await call(http_monitor.server, "http_check", url=target.url()))["verdict"] == "ok"
    result = await call(http_monitor.server, "http_security_headers", url=target.url(), timeout_s=0.5)
    assert [f["code"] for f in result["findings"]] == ["rate_limited"]
    assert result["verdict"] == "unknown" and result["summary"].startswith("unknown: "), result["summary"]


async def test_many_names_of_one_server_share_its_limit(target: Target) -> None:
    # Each name has a bucket of its own, but every connection also takes a token of the address
    # it dials: a thousand wildcard names pointing at one server cannot multiply its limit.
    import http_monitor.server

    def url(name: str) -> str:
        return f"http://{name}.example.test:{target.port}/"

    use(0.05)  # a burst of one, then one request per 20 s: no refill while the test runs
    first = await call(http_monitor.server, "http_check", url=url("a"), connect_ip=target.host)
    assert first["verdict"] == "ok"
    second = await call(http_monitor.server, "http_check", url=url("b"), connect_ip=target.host, timeout_s=1)
    assert [f["code"] for f in second["findings"]] == ["rate_limited"]
    assert target.host in second["findings"][0]["message"]
    assert len(target.connections) == 1  # held back before dialling
    # With time to wait it waits for the address's slot (2.5 s at 0.4/s), and the wait is not
    # counted as connect time.
    use(0.4)
    await call(http_monitor.server, "http_check", url=url("c"), connect_ip=target.host)
    waited = await call(http_monitor.server, "http_check", url=url("d"), connect_ip=target.host, timeout_s=6)
    assert waited["verdict"] == "ok" and len(target.connections) == 3
    assert get_context().limiter.stats().delayed == 1
    assert waited["timings_ms"]["connect"] < 500 < get_context().limiter.stats().waited_s * 1000
