"""The other six tools' engines against loopback servers: bulk, timing, each IP, redirects, headers, tcp."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from http_monitor.backends import http_check_each_ip
from http_monitor.bulk import http_check_many
from http_monitor.headers import http_security_headers
from http_monitor.probe import http_check
from http_monitor.redirects import http_redirects, registrable_domain
from http_monitor.tcp import tcp_check
from http_monitor.timing import http_timing, percentile
from monitor_common.context import CheckContext
from monitor_common.errors import InputError, LimitError, PolicyError
from monitor_common.netpolicy import NetworkPolicy
from monitor_common.ratelimit import RateLimiter
from monitor_common.results import CheckResult
from support.http_server import HttpServer, TLSFiles


def codes(result: CheckResult) -> list[str]:
    return [f.code for f in result.findings]


# --- http_check_many --------------------------------------------------------------------------


async def test_many_rows_worst_first_with_counts_and_progress(
    http_server: HttpServer, ctx: CheckContext
) -> None:
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int, message: str | None) -> None:
        seen.append((done, total))

    # The slow URL is far past the threshold and the others far below it, even on a loaded machine.
    urls = [http_server.url_for(p) for p in ("/status/200", "/status/503", "/delay/900", "/status/404")] + [
        "ftp://x/"
    ]
    result = await http_check_many(urls, ctx=ctx, max_response_ms=450, progress=progress)
    assert [row.verdict for row in result.rows] == ["unknown", "critical", "critical", "warning", "ok"]
    assert result.counts == {"ok": 1, "warning": 1, "critical": 2, "unknown": 1}
    assert result.verdict == "unknown"
    assert seen == [(i, 5) for i in range(1, 6)]
    assert {r.status_code for r in result.rows if r.verdict == "critical"} == {503, 404}


async def test_many_reuses_pooled_connections_within_the_per_host_limit(
    http_server: HttpServer, ctx: CheckContext
) -> None:
    # 28 requests to one host: the per-host rate limit (tested in tests/security) would pace them.
    ctx = ctx.replace(limiter=RateLimiter(0))
    urls = [http_server.url_for(f"/delay/20?i={i}") for i in range(24)]
    first = await http_check_many(urls, ctx=ctx)
    second = await http_check_many(urls[:4], ctx=ctx)
    assert first.counts["ok"] == 24 and second.counts["ok"] == 4
    ports = {r.client[1] for r in http_server.requests if r.client}
    assert len(ports) <= 4  # 28 requests over at most per_host connections, kept across calls


async def test_cookies_carry_within_a_redirect_chain_and_never_to_a_later_check(
    http_server: HttpServer, ctx: CheckContext
) -> None:
    # One hop sets a cookie and redirects: the next hop of the same walk sends it back, as a
    # browser does. The pooled client keeps nothing: a later bulk check (or another caller's) and
    # a single check start without it.
    query = urlencode(
        [("status", "302"), ("header", "Location: /headers?i=1"), ("header", "Set-Cookie: sid=abc")]
    )
    first = await http_check_many([http_server.url_for(f"/text?{query}")], ctx=ctx)
    assert first.counts["ok"] == 1, first.rows
    later = await http_check_many([http_server.url_for("/headers?i=2")], ctx=ctx)
    assert later.counts["ok"] == 1
    single = await http_check(http_server.url_for("/headers?i=3"), ctx=ctx)
    assert single.status_code == 200
    cookies = {r.query: r.header("cookie") for r in http_server.requests if r.path == "/headers"}
    assert cookies == {"i=1": "sid=abc", "i=2": None, "i=3": None}


async def test_many_limits(http_server: HttpServer, ctx: CheckContext) -> None:
    with pytest.raises(LimitError, match="MCP_MONITOR_MAX_TARGETS"):
        await http_check_many([http_server.url] * 3, ctx=ctx.replace(max_targets=2))
    with pytest.raises(InputError):
        await http_check_many([], ctx=ctx)
    with pytest.raises(InputError, match="expect_status"):
        await http_check_many([http_server.url], ctx=ctx, expect_status="abc")
    assert http_server.count() == 0


async def test_many_deadline_turns_unfinished_urls_into_unknown_rows(
    http_server: HttpServer, ctx: CheckContext
) -> None:
    urls = [http_server.url_for("/status/200")] + [http_server.url_for(f"/hang?i={i}") for i in range(3)]
    result = await http_check_many(urls, ctx=ctx, timeout_s=5, deadline_s=0.5)
    assert result.counts == {"ok": 1, "warning": 0, "critical": 0, "unknown": 3}
    assert result.duration_ms < 2000


async def test_many_refused_url_is_a_row(http_server: HttpServer, ctx: CheckContext) -> None:
    result = await http_check_many([http_server.url, "http://10.1.2.3/"], ctx=ctx)
    refused = next(r for r in result.rows if "10.1.2.3" in r.url)
    assert refused.verdict == "unknown" and "refused" in refused.summary


async def test_many_rows_say_what_http_check_says(
    http_server: HttpServer, https_server: HttpServer, ctx: CheckContext
) -> None:
    # The bulk path skips the full result, not the judgement: redirects, TLS failures, refused
    # ports and timeouts (with their phase) read as they do in http_check. A dozen requests to
    # one address at once: the per-host rate limit (tested in tests/security) is off.
    ctx = ctx.replace(limiter=RateLimiter(0))
    with contextlib.closing(socket.socket()) as closed:
        closed.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{closed.getsockname()[1]}/"
        urls = [
            http_server.url_for("/redirect/2"),
            http_server.url_for("/status/503"),
            http_server.url_for("/hang"),
            https_server.url_for("/"),
            refused,
        ]
        # 2 s: long enough that no URL but /hang runs out of time on a loaded machine.
        many = await http_check_many(urls, ctx=ctx, timeout_s=2.0)
        singles = await asyncio.gather(*(http_check(url, ctx=ctx, timeout_s=2.0) for url in urls))
    rows = {row.url: row for row in many.rows}
    for single in singles:
        row = rows[single.url]
        assert (row.verdict, row.status_code) == (single.verdict, single.status_code), single.url
        assert _without_ms(row.summary) == _without_ms(single.summary)
    assert "timed out in phase first byte" in rows[http_server.url_for("/hang")].summary
    assert rows[http_server.url_for("/redirect/2")].status_code == 200


def _without_ms(summary: str) -> str:
    return re.sub(r"in \d+ ms", "in N ms", summary)


# --- http_timing ------------------------------------------------------------------------------


def test_percentile() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 0.95) == 5.0
    assert percentile([1.0, 2.0], 0.5) == 1.0


async def test_timing_uses_fresh_connections_and_names_the_slow_phase(
    http_server: HttpServer, ctx: CheckContext
) -> None:
    result = await http_timing(http_server.url_for("/delay/100"), ctx=ctx, samples=3)
    assert result.verdict == "ok" and len(result.samples) == 3
    assert result.slowest_phase == "ttfb"
    assert result.phases_ms["ttfb"].min >= 95
    assert result.phases_ms["connect"].max < 100
    assert result.jitter_ms is not None
    ports = {r.client[1] for r in http_server.requests if r.client}
    assert len(ports) == 3


async def test_timing_with_failing_samples(ctx: CheckContext) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await http_timing(f"http://127.0.0.1:{port}/", ctx=ctx, samples=2)
    assert result.verdict == "critical" and codes(result) == ["connect_refused"]
    assert [s.error for s in result.samples] == ["connect_refused"] * 2


# --- http_check_each_ip -----------------------------------------------------------------------


@pytest.fixture
async def two_backends() -> AsyncIterator[tuple[HttpServer, HttpServer]]:
    """127.0.0.1 and 127.0.0.2 on the same port."""
    first = HttpServer(host="127.0.0.1").start()
    try:
        second = HttpServer(host="127.0.0.2", port=first.port).start()
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


async def test_each_ip_flags_differences(
    two_backends: tuple[HttpServer, HttpServer], names: Callable[..., Any], ctx: CheckContext
) -> None:
    first, second = two_backends
    resolver = names({("pool.test.", "A"): ["127.0.0.1", "127.0.0.2"]})
    same = await http_check_each_ip(f"http://pool.test:{first.port}/", ctx=ctx.replace(resolver=resolver))
    assert same.verdict == "ok" and [b.ip for b in same.backends] == ["127.0.0.1", "127.0.0.2"]
    assert (
        first.requests[-1].header("host") == second.requests[-1].header("host") == f"pool.test:{first.port}"
    )
    body = await http_check_each_ip(
        f"http://pool.test:{first.port}/whoami", ctx=ctx.replace(resolver=resolver)
    )
    assert codes(body) == ["backend_body_differs"]
    status = await http_check_each_ip(
        f"http://pool.test:{first.port}/whoami?status_on=127.0.0.2:503", ctx=ctx.replace(resolver=resolver)
    )
    assert set(codes(status)) == {"backend_down", "backend_status_differs", "backend_body_differs"}
    assert status.verdict == "critical"
    slow = await http_check_each_ip(
        f"http://pool.test:{first.port}/status/200?delay_on=127.0.0.2:300", ctx=ctx.replace(resolver=resolver)
    )
    assert codes(slow) == [], "delay_on only applies to /whoami"
    slow = await http_check_each_ip(
        f"http://pool.test:{first.port}/whoami?delay_on=127.0.0.2:400", ctx=ctx.replace(resolver=resolver)
    )
    assert "backend_latency_outlier" in codes(slow)


async def test_each_ip_an_address_held_back_by_the_rate_limit_is_unknown_not_down(
    two_backends: tuple[HttpServer, HttpServer], names: Callable[..., Any], ctx: CheckContext
) -> None:
    first, second = two_backends
    resolver = names({("pool.test.", "A"): ["127.0.0.1", "127.0.0.2"]})
    url = f"http://pool.test:{first.port}/status/200"
    ctx = ctx.replace(limiter=RateLimiter(1))  # one token for pool.test, the next a second away
    limited = await http_check_each_ip(url, ctx=ctx.replace(resolver=resolver), timeout_s=0.5)
    # One address got the token and answered; the other was never asked: nothing says it is down.
    assert len(first.requests) + len(second.requests) == 1
    assert codes(limited) == ["rate_limited"], limited.findings
    assert limited.verdict == "unknown"
    assert sorted(b.verdict for b in limited.backends) == ["ok", "unknown"]
    # With time to wait, the second address waits for its slot: that wait is not its latency.
    ctx = ctx.replace(limiter=RateLimiter(1))
    waited = await http_check_each_ip(url, ctx=ctx.replace(resolver=resolver), timeout_s=5)
    assert waited.verdict == "ok" and codes(waited) == [], waited.findings
    assert all(b.total_ms is not None and b.total_ms < 500 for b in waited.backends), waited.backends


async def test_each_ip_certificate_differs(names: Callable[..., Any], ctx: CheckContext) -> None:
    import trustme

    authority = trustme.CA()
    first = HttpServer(tls=TLSFiles.from_trustme(authority, "pool.test"), host="127.0.0.1").start()
    try:
        second = HttpServer(
            tls=TLSFiles.from_trustme(authority, "pool.test"), host="127.0.0.2", port=first.port
        ).start()
        try:
            resolver = names({("pool.test.", "A"): ["127.0.0.1", "127.0.0.2"]})
            result = await http_check_each_ip(
                f"https://pool.test:{first.port}/",
                ctx=ctx.replace(resolver=resolver),
                ca_bundle_pem=authority.cert_pem.bytes().decode(),
            )
        finally:
            second.stop()
    finally:
        first.stop()
    assert codes(result) == ["backend_cert_differs"]
    assert all(b.verdict == "ok" and b.cert_sha256 for b in result.backends)


async def test_each_ip_ipv6_path_failing(
    http_server: HttpServer, names: Callable[..., Any], ctx: CheckContext
) -> None:
    # Nothing listens on [::1] at this port.
    resolver = names({("dual.test.", "A"): "127.0.0.1", ("dual.test.", "AAAA"): "::1"})
    result = await http_check_each_ip(
        f"http://dual.test:{http_server.port}/", ctx=ctx.replace(resolver=resolver)
    )
    assert {"ipv6_path_failing", "backend_down"} <= set(codes(result))
    only_v4 = await http_check_each_ip(
        f"http://dual.test:{http_server.port}/", ctx=ctx.replace(resolver=resolver), ip_version="4"
    )
    assert only_v4.verdict == "ok" and [b.family for b in only_v4.backends] == ["IPv4"]


async def test_each_ip_refused_everywhere_is_an_error(names: Callable[..., Any], ctx: CheckContext) -> None:
    resolver = names({("internal.test.", "A"): "127.0.0.1"})
    with pytest.raises(PolicyError):
        await http_check_each_ip(
            "http://internal.test/", ctx=ctx.replace(policy=NetworkPolicy(), resolver=resolver)
        )


# --- http_redirects ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "registrable"),
    [
        ("www.shop.example.co.uk", "example.co.uk"),
        ("a.b.example.com", "example.com"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_registrable_domain(host: str, registrable: str) -> None:
    assert registrable_domain(host) == registrable


async def test_redirect_chain_hop_by_hop(http_server: HttpServer, ctx: CheckContext) -> None:
    result = await http_redirects(http_server.url_for("/redirect/4"), ctx=ctx)
    assert [h.status_code for h in result.hops] == [302, 302, 302, 302, 200]
    assert result.hops[0].location == "/redirect/3" and result.hops[-1].location is None
    assert all(h.time_ms is not None and h.time_ms > 0 for h in result.hops)
    assert set(codes(result)) == {"redirect_chain_long", "redirect_no_https_upgrade"}


async def test_redirect_loop_and_cap(http_server: HttpServer, ctx: CheckContext) -> None:
    loop = await http_redirects(http_server.url_for("/redirect-loop"), ctx=ctx)
    assert "redirect_loop" in codes(loop)
    capped = await http_redirects(http_server.url_for("/redirect/9"), ctx=ctx, max_hops=3)
    assert "too_many_redirects" in codes(capped)


async def test_hsts_of_each_hop(https_server: HttpServer, ctx: CheckContext) -> None:
    assert https_server.ca_pem is not None
    final = https_server.url_for("/status/200")
    hsts = "max-age=31536000%3B%20includeSubDomains"
    url = https_server.url_for(
        f"/text?status=301&header=Location:%20{final}&header=Strict-Transport-Security:%20{hsts}"
    )
    result = await http_redirects(url, ctx=ctx, ca_bundle_pem=https_server.ca_pem.decode())
    assert [h.status_code for h in result.hops] == [301, 200]
    assert result.hops[0].hsts == "max-age=31536000; includeSubDomains"
    assert result.hops[1].hsts is None
    assert result.verdict == "ok", result.findings


async def test_https_downgrade_and_hsts(
    https_server: HttpServer, http_server: HttpServer, ctx: CheckContext
) -> None:
    assert https_server.ca_pem is not None
    url = https_server.url_for(f"/redirect-to?url={http_server.url_for('/status/200')}")
    result = await http_redirects(url, ctx=ctx, ca_bundle_pem=https_server.ca_pem.decode())
    assert "redirect_https_downgrade" in codes(result) and result.verdict == "critical"
    assert result.hops[0].cert_days_left is not None and result.hops[0].cert_days_left > 300


async def test_cross_domain_hop(
    http_server: HttpServer, names: Callable[..., Any], ctx: CheckContext
) -> None:
    resolver = names({("www.site.test.", "A"): "127.0.0.1", ("cdn.other.test.", "A"): "127.0.0.1"})
    target = f"http://cdn.other.test:{http_server.port}/status/200"
    result = await http_redirects(
        f"http://www.site.test:{http_server.port}/redirect-to?url={target}",
        ctx=ctx.replace(resolver=resolver),
    )
    assert "redirect_cross_domain" in codes(result)
    assert result.final_url == target


async def test_redirect_into_refused_address(http_server: HttpServer, ctx: CheckContext) -> None:
    result = await http_redirects(
        http_server.url_for("/redirect-to?url=http://169.254.169.254/latest/"), ctx=ctx
    )
    assert "redirect_blocked" in codes(result)
    assert result.hops[-1].url == "http://169.254.169.254/latest/" and result.hops[-1].status_code is None


# --- http_security_headers --------------------------------------------------------------------

GOOD = [
    ("strict-transport-security", "max-age=63072000; includeSubDomains; preload"),
    ("content-security-policy", "default-src 'self'; frame-ancestors 'none'"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("set-cookie", "sid=1; Secure; HttpOnly; SameSite=Lax"),
]


def _with_headers(server: HttpServer, headers: list[tuple[str, str]]) -> str:
    query = "&".join(
        f"header={name}:%20{value.replace(' ', '%20').replace(';', '%3B')}" for name, value in headers
    )
    return server.url_for(f"/text?{query}")


async def test_security_headers_grade(
    https_server: HttpServer, http_server: HttpServer, ctx: CheckContext
) -> None:
    assert https_server.ca_pem is not None
    ca = https_server.ca_pem.decode()
    good = await http_security_headers(_with_headers(https_server, GOOD), ctx=ctx, ca_bundle_pem=ca)
    # 100 + CSP 5 + cookies 5 + referrer 5 + framing via CSP 5; nothing answers http on port 80.
    assert (good.grade, good.score, good.verdict) == ("A+", 120, "ok"), good.summary
    tests = {t.test: t.result for t in good.tests}
    assert tests["redirection"] == "redirection-not-needed-no-http"
    assert tests["subresource-integrity"] == "sri-not-implemented-response-not-html"  # text/plain
    assert len(tests) == 10 and all(t.passed for t in good.tests)

    bare = await http_security_headers(http_server.url_for("/text?header=Server:%20nginx/1.25.3"), ctx=ctx)
    # Graded over http: no CSP -25, no https redirect -20, no HSTS -20, no nosniff -5, no XFO -20.
    assert (bare.grade, bare.score, bare.verdict) == ("F", 10, "warning"), bare.summary
    assert set(codes(bare)) == {
        "csp_missing", "redirect_no_https_upgrade", "hsts_missing", "nosniff_missing",
        "framing_unprotected", "security_headers_poor", "version_banner",
    }  # fmt: skip

    # http redirecting to the https page: the redirection test passes and the https page is graded.
    upgrade = http_server.url_for(
        "/redirect-to?" + urlencode({"url": _with_headers(https_server, GOOD), "status": 301})
    )
    upgraded = await http_security_headers(upgrade, ctx=ctx, ca_bundle_pem=ca)
    assert {t.test: t.result for t in upgraded.tests}["redirection"] == "redirection-to-https"
    assert (upgraded.score, upgraded.final_url) == (120, good.final_url), upgraded.summary

    # Without the CA the certificate does not verify: graded all the same, as the scanner does.
    untrusted = await http_security_headers(_with_headers(https_server, GOOD), ctx=ctx)
    # 100 - 20 (HSTS on an unverified certificate): under 90, so no bonuses.
    assert (untrusted.grade, untrusted.score, untrusted.verdict) == ("B+", 80, "critical"), untrusted.summary
    assert {t.test: t.result for t in untrusted.tests}["strict-transport-security"] == "hsts-invalid-cert"
    assert (
        codes(untrusted)[0] == "tls_invalid"
        and "certificate verification failed" in untrusted.findings[0].message
    )

    missing = await http_security_headers(https_server.url_for("/status/404"), ctx=ctx, ca_bundle_pem=ca)
    assert (missing.grade, codes(missing), missing.status_code) == (None, ["security_headers_ungraded"], 404)


@pytest.mark.parametrize("url", ["https://127.0.0.1:9/", "http://127.0.0.1:9/"])
async def test_security_headers_refused_target_is_a_policy_error(url: str) -> None:
    # The https URL and its http twin are fetched at once; the refusal must still come out as
    # itself (a ToolError of the call), not wrapped in an exception group.
    with pytest.raises(PolicyError, match="loopback"):
        await http_security_headers(url, ctx=CheckContext(policy=NetworkPolicy(), limiter=RateLimiter(10)))


# --- tcp_check --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def banner_server(banner: bytes) -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(banner)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
            await reader.read(100)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_tcp_banner_and_pattern(ctx: CheckContext) -> None:
    async with banner_server(b"220 mail.test ESMTP ready\r\n") as port:
        ok = await tcp_check("127.0.0.1", port, ctx=ctx, expect_regex=r"^220 ")
        bad = await tcp_check("127.0.0.1", port, ctx=ctx, expect_regex=r"^SSH-", timeout_s=1)
    assert ok.verdict == "ok" and ok.matched and ok.banner == "220 mail.test ESMTP ready\r\n"
    assert ok.connect_ms is not None and ok.remote_ip == "127.0.0.1"
    assert codes(bad) == ["tcp_banner_mismatch"] and bad.matched is False


async def test_tcp_banner_is_capped(ctx: CheckContext) -> None:
    async with banner_server(b"x" * 10_000) as port:
        result = await tcp_check("127.0.0.1", port, ctx=ctx, expect_regex="never", timeout_s=1)
    assert result.banner_bytes == 4096 and result.banner == "x" * 4096
    assert codes(result) == ["tcp_banner_mismatch"]


async def test_tcp_send_then_read(http_server: HttpServer, ctx: CheckContext) -> None:
    result = await tcp_check(
        "127.0.0.1",
        http_server.port,
        ctx=ctx,
        send="GET / HTTP/1.0\r\n\r\n",
        expect_regex=r"HTTP/1\.[01] 200",
    )
    assert result.verdict == "ok" and result.matched
    assert http_server.count("/") == 1


async def test_tcp_tls(https_server: HttpServer, ctx: CheckContext) -> None:
    assert https_server.ca_pem is not None
    good = await tcp_check(
        "127.0.0.1", https_server.port, ctx=ctx, tls=True, ca_bundle_pem=https_server.ca_pem.decode()
    )
    assert good.verdict == "ok" and good.tls is not None and good.tls.days_left is not None
    assert good.tls.alpn is None  # a raw TCP check offers no application protocol
    untrusted = await tcp_check("127.0.0.1", https_server.port, ctx=ctx, tls=True)
    assert codes(untrusted) == ["tls_invalid"]


async def test_tcp_refused_and_policy(ctx: CheckContext) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = await tcp_check("127.0.0.1", port, ctx=ctx)
    assert codes(refused) == ["connect_refused"]
    with pytest.raises(PolicyError):
        await tcp_check("127.0.0.1", port, ctx=ctx.replace(policy=NetworkPolicy()))
