"""What http_check says beyond "up": downgrades and other domains on the way, ports that are not
HTTP, Retry-After, and what the limits cost a bulk call. Real loopback servers throughout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote as urlquote

import pytest
from http_monitor import tls
from http_monitor._firstbytes import KEPT, quote
from http_monitor.bulk import http_check_many
from http_monitor.models import HttpCheckResult
from http_monitor.probe import http_check
from http_monitor.redirects import http_redirects
from monitor_common.context import CheckContext
from monitor_common.ratelimit import RateLimiter
from monitor_common.results import Verdict
from support.http_server import HttpServer, TLSFiles


def codes(result: HttpCheckResult) -> list[str]:
    return [f.code for f in result.findings]


def redirect_to(server: HttpServer, url: str, status: int = 302) -> str:
    return server.url_for(f"/redirect-to?url={urlquote(url, safe='')}&status={status}")


async def test_a_redirect_from_https_to_plain_http_is_critical_in_both_tools(
    https_server: HttpServer, http_server: HttpServer, ctx: CheckContext
) -> None:
    assert https_server.ca_pem is not None
    start = redirect_to(https_server, http_server.url_for("/"), 301)
    ca = https_server.ca_pem.decode()
    checked = await http_check(start, ctx=ctx, ca_bundle_pem=ca)
    traced = await http_redirects(start, ctx=ctx, ca_bundle_pem=ca)
    assert checked.status_code == 200 and checked.verdict == "critical"
    assert "redirect_https_downgrade" in codes(checked)
    assert "from https to plain http" in checked.summary
    # One rule: the same finding, word for word, from http_redirects.
    ours = next(f for f in checked.findings if f.code == "redirect_https_downgrade")
    theirs = next(f for f in traced.findings if f.code == "redirect_https_downgrade")
    assert ours == theirs
    # Not following redirects, there is no chain to judge.
    single = await http_check(start, ctx=ctx, ca_bundle_pem=ca, follow_redirects=False)
    assert "redirect_https_downgrade" not in codes(single) and single.verdict == "ok"


async def test_a_final_url_on_another_domain_is_a_notice(http_server: HttpServer, ctx: CheckContext) -> None:
    async with HttpServer(host="127.0.0.2") as elsewhere:
        start = redirect_to(http_server, elsewhere.url_for("/"))
        checked = await http_check(start, ctx=ctx)
        traced = await http_redirects(start, ctx=ctx)
    crossing = [f for f in checked.findings if f.code == "redirect_cross_domain"]
    assert len(crossing) == 1 and crossing[0].severity == Verdict.OK
    assert checked.verdict == "ok" and "127.0.0.2" in checked.summary
    assert [f.severity for f in traced.findings if f.code == "redirect_cross_domain"] == [Verdict.WARNING]
    assert crossing[0].message == next(
        f.message for f in traced.findings if f.code == "redirect_cross_domain"
    )


async def test_redirects_within_one_site_say_nothing(http_server: HttpServer, ctx: CheckContext) -> None:
    result = await http_check(http_server.url_for("/redirect/2"), ctx=ctx)
    assert result.verdict == "ok" and codes(result) == []


@pytest.fixture
def system_store_is_the_test_ca(
    monkeypatch: pytest.MonkeyPatch, http_tls: TLSFiles, tmp_path: Path
) -> Iterator[None]:
    """The bulk path trusts the system store only: make that the test CA (SSL_CERT_FILE)."""
    assert http_tls.ca_pem is not None
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(http_tls.ca_pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    tls._context.cache_clear()  # pyright: ignore[reportPrivateUsage]
    yield
    tls._context.cache_clear()  # pyright: ignore[reportPrivateUsage]


@pytest.mark.usefixtures("system_store_is_the_test_ca")
async def test_bulk_rows_flag_the_downgrade_too(
    https_server: HttpServer, http_server: HttpServer, ctx: CheckContext
) -> None:
    start = redirect_to(https_server, http_server.url_for("/"))
    many = await http_check_many([start, https_server.url_for("/")], ctx=ctx.replace(limiter=RateLimiter(0)))
    rows = {row.url: row for row in many.rows}
    assert rows[start].verdict == "critical" and "from https to plain http" in rows[start].summary
    assert rows[https_server.url_for("/")].verdict == "ok"


@contextlib.asynccontextmanager
async def banner_server(banner: bytes, reply: bytes | None = None) -> AsyncIterator[int]:
    """A TCP server on loopback that speaks first (`banner`), answers what it reads with
    `reply`, and hangs up, as a mail or SSH server does when it reads an HTTP request."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            writer.write(banner)
            await writer.drain()
            await reader.read(1024)
            if reply is not None:
                writer.write(reply)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("banner", "reply", "shown", "protocol"),
    [
        (
            b"220 mail.example.test ESMTP Postfix\r\n",
            b"502 5.5.2 Error: command not recognized\r\n",
            "220 mail.example.test ESMTP Postfix\\r\\n",
            "SMTP",
        ),
        (
            b"SSH-2.0-OpenSSH_9.6p1\r\n",
            b"Invalid SSH identification string.\r\n",
            "SSH-2.0-OpenSSH_9.6p1",
            "SSH",
        ),
        (b"+OK POP3 ready\r\n", None, "+OK POP3 ready\\r\\n", "POP3"),
    ],
)
async def test_a_port_that_speaks_another_protocol_says_so_and_quotes_it(
    ctx: CheckContext, banner: bytes, reply: bytes | None, shown: str, protocol: str
) -> None:
    async with banner_server(banner, reply) as port:
        result = await http_check(f"http://127.0.0.1:{port}/", ctx=ctx, timeout_s=3)
        many = await http_check_many([f"http://127.0.0.1:{port}/"], ctx=ctx, timeout_s=3)
    assert codes(result) == ["not_http"] and result.verdict == "critical"
    assert "something other than HTTP" in result.summary and shown in result.summary
    assert "disconnected" not in result.summary
    assert protocol in (result.findings[0].hint or "")
    assert many.rows[0].verdict == "critical" and shown in many.rows[0].summary


async def test_a_binary_banner_is_escaped_and_bounded(ctx: CheckContext) -> None:
    banner = bytes(range(256)) * 4
    async with banner_server(banner) as port:
        result = await http_check(f"http://127.0.0.1:{port}/", ctx=ctx, timeout_s=3)
    assert codes(result) == ["not_http"]
    message = result.findings[0].message
    assert message.isprintable()  # no control byte of the banner made it through
    assert "\\x00\\x01\\x02" in message and message.endswith("…")
    assert len(message) < 400
    assert quote(banner) in message and len(quote(banner)) <= 4 * KEPT + 3


async def test_a_server_that_closes_without_a_word_is_still_a_protocol_error(ctx: CheckContext) -> None:
    async with banner_server(b"") as port:
        result = await http_check(f"http://127.0.0.1:{port}/", ctx=ctx, timeout_s=3)
    assert codes(result) == ["http_protocol_error"]


async def test_https_to_a_plain_http_port_says_it_is_not_tls_and_to_use_http(
    http_server: HttpServer, ctx: CheckContext
) -> None:
    from http_monitor.tcp import tcp_check

    plain = http_server.url_for("/").replace("http://", "https://")
    result = await http_check(plain, ctx=ctx, timeout_s=3)
    assert codes(result) == ["tls_invalid"] and result.verdict == "critical"
    assert "something that is not TLS" in result.summary
    assert "use http://" in (result.findings[0].hint or "")
    host, port = plain.removeprefix("https://").rstrip("/").rsplit(":", 1)
    raw = await tcp_check(host, int(port), ctx, tls=True, timeout_s=3)
    assert [f.code for f in raw.findings] == ["tls_invalid"]
    assert "not TLS" in raw.findings[0].message and "use http://" in (raw.findings[0].hint or "")


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_seconds_is_in_the_summary(
    http_server: HttpServer, ctx: CheckContext, status: int
) -> None:
    url = http_server.url_for(f"/status/{status}?header=Retry-After:%2090")
    result = await http_check(url, ctx=ctx)
    assert result.verdict == "critical" and "http_status_unexpected" in codes(result)
    assert "retry after 90 s (Retry-After)" in result.summary


async def test_retry_after_as_a_date_is_in_the_summary(http_server: HttpServer, ctx: CheckContext) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    url = http_server.url_for(f"/status/503?header={urlquote('Retry-After: ' + when)}")
    result = await http_check(url, ctx=ctx)
    assert "retry after 60 min (Retry-After)" in result.summary


async def test_retry_after_on_another_status_is_not_in_the_summary(
    http_server: HttpServer, ctx: CheckContext
) -> None:
    result = await http_check(http_server.url_for("/status/500?header=Retry-After:%20120"), ctx=ctx)
    assert "retry after" not in result.summary


async def test_bulk_summary_says_what_the_per_host_limit_cost(
    http_server: HttpServer, ctx: CheckContext
) -> None:
    urls = [http_server.url_for(f"/delay/300?i={i}") for i in range(4)]
    limited = ctx.replace(limiter=RateLimiter(0), per_host_concurrency=1)
    result = await http_check_many(urls, ctx=limited, concurrency=4)
    assert result.counts["ok"] == 4
    assert "the per-host limit (1 at once) held 3 back, up to" in result.summary
    assert "MCP_MONITOR_PER_HOST_CONCURRENCY" in result.summary
    # The figure is the wait of the last one: about three answers of 300 ms.
    longest = float(result.summary.split("held 3 back, up to ")[1].split(" s")[0])
    assert 0.8 <= longest <= 10
    free = await http_check_many(urls, ctx=ctx.replace(limiter=RateLimiter(0)), concurrency=4)
    assert "held" not in free.summary


async def test_bulk_summary_says_what_the_rate_limit_cost(http_server: HttpServer, ctx: CheckContext) -> None:
    urls = [http_server.url_for(f"/?i={i}") for i in range(4)]
    # 2 per second, a burst of 2: the third waits about 0.5 s, the fourth about 1 s.
    result = await http_check_many(urls, ctx=ctx.replace(limiter=RateLimiter(2)), concurrency=4)
    assert result.counts["ok"] == 4
    assert "the rate limit (2/s per host) held 2 back, up to" in result.summary
    assert "MCP_MONITOR_RATE_LIMIT_PER_HOST" in result.summary
    # What the rows report is the target's time, not the wait.
    assert all(row.total_ms is not None and row.total_ms < 400 for row in result.rows)
