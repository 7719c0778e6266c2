"""http_check's engine against real loopback servers: phases, content checks, caps, addresses, failures."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from http_monitor.models import HttpCheckResult
from http_monitor.probe import http_check
from monitor_common.context import CheckContext
from monitor_common.errors import InputError, PolicyError
from monitor_common.netpolicy import NetworkPolicy
from support.certs import CertAuthority
from support.dns_server import DNSServer, drop
from support.http_server import HttpServer, TLSFiles


def codes(result: HttpCheckResult) -> list[str]:
    return [f.code for f in result.findings]


async def test_server_delay_shows_up_in_ttfb_not_connect(http_server: HttpServer, ctx: CheckContext) -> None:
    result = await http_check(http_server.url_for("/delay/200"), ctx=ctx)
    assert result.verdict == "ok"
    timings = result.timings_ms
    assert timings is not None and timings.ttfb is not None and timings.connect is not None
    assert 190 <= timings.ttfb < 1000
    assert timings.connect < 100
    assert timings.dns == 0.0  # an IP literal is not looked up
    assert timings.tls == 0.0
    assert timings.total >= timings.ttfb
    assert http_server.count("/delay/200") == 1


async def test_slow_body_shows_up_in_transfer(http_server: HttpServer, ctx: CheckContext) -> None:
    result = await http_check(http_server.url_for("/slow-body/200"), ctx=ctx)
    assert result.timings_ms is not None and result.timings_ms.transfer is not None
    assert result.timings_ms.transfer >= 190
    assert result.timings_ms.ttfb is not None and result.timings_ms.ttfb < 150


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
@pytest.mark.parametrize(
    ("host", "path"), [("127.0.0.1", "/status/200"), ("::1", "/status/404"), ("127.0.0.1", "/redirect/2")]
)
async def test_status_and_remote_address_agree_with_curl(host: str, path: str, ctx: CheckContext) -> None:
    async with HttpServer(host=host) as server:
        url = server.url_for(path)
        proc = await asyncio.create_subprocess_exec(
            "curl",
            "-s",
            "-L",
            "--noproxy",
            "*",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{remote_ip}",
            url,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        curl_status, curl_ip = out.decode().split()
        result = await http_check(url, ctx=ctx, expect_status="100-599")
    assert result.status_code == int(curl_status)
    assert result.remote_ip == curl_ip


async def test_content_assertions(http_server: HttpServer, ctx: CheckContext) -> None:
    url = http_server.url_for("/json")
    good = await http_check(
        url,
        ctx=ctx,
        body_contains='"status"',
        body_regex=r'"count":\s*\d+',
        expect_json={"data.status": "ok", "data.count": 3},
    )
    assert good.verdict == "ok", good.findings
    assert [a.passed for a in good.assertions] == [True, True, True, True, True]
    bad = await http_check(
        url,
        ctx=ctx,
        body_contains="maintenance",
        body_regex=r"^<html",
        expect_json={"data.status": "down", "data.missing": 1},
    )
    assert bad.verdict == "critical"
    assert codes(bad).count("http_body_mismatch") == 2
    assert codes(bad).count("http_json_mismatch") == 2
    by_what = {a.what: a for a in bad.assertions}
    assert by_what["json data.status"].actual == "ok" and not by_what["json data.status"].passed
    assert by_what["json data.missing"].actual is None


async def test_json_expected_but_body_is_not_json(http_server: HttpServer, ctx: CheckContext) -> None:
    result = await http_check(http_server.url_for("/text?body=hello"), ctx=ctx, expect_json={"a": 1})
    assert codes(result) == ["http_json_mismatch"]
    assert "not JSON" in result.findings[0].message


async def test_slow_response_is_a_warning(http_server: HttpServer, ctx: CheckContext) -> None:
    result = await http_check(http_server.url_for("/delay/150"), ctx=ctx, max_response_ms=50)
    assert result.verdict == "warning"
    assert codes(result) == ["http_slow"]


@pytest.mark.parametrize("chunked", ["0", "1"])
async def test_body_is_cut_at_the_cap_and_the_result_says_so(
    http_server: HttpServer, ctx: CheckContext, chunked: str
) -> None:
    result = await http_check(
        http_server.url_for(f"/bytes/50000?chunked={chunked}"), ctx=ctx.replace(body_cap=1000)
    )
    assert result.verdict == "ok"
    assert result.body_bytes == 1000 and result.body_truncated
    assert "body_truncated" in codes(result)
    whole = await http_check(http_server.url_for("/bytes/1000"), ctx=ctx.replace(body_cap=1000))
    assert whole.body_bytes == 1000 and not whole.body_truncated


async def test_oversized_headers_are_a_finding_and_the_next_check_works(
    http_server: HttpServer, ctx: CheckContext
) -> None:
    result = await http_check(http_server.url_for("/big-headers/200000"), ctx=ctx)
    assert codes(result) == ["http_headers_too_large"]
    small = await http_check(http_server.url_for("/big-headers/1000"), ctx=ctx)
    assert small.verdict == "ok"


async def test_redirect_hops_are_recorded_and_timed(http_server: HttpServer, ctx: CheckContext) -> None:
    result = await http_check(http_server.url_for("/redirect/2"), ctx=ctx)
    assert result.verdict == "ok"
    assert [h.status_code for h in result.redirects] == [302, 302]
    assert [h.location for h in result.redirects] == ["/redirect/1", "/status/200"]
    assert result.final_url == http_server.url_for("/status/200")
    assert result.timings_ms is not None and result.timings_ms.redirects > 0


async def test_redirect_loop_and_too_many_redirects(http_server: HttpServer, ctx: CheckContext) -> None:
    loop = await http_check(http_server.url_for("/redirect-loop"), ctx=ctx)
    assert codes(loop) == ["redirect_loop"] and loop.verdict == "critical"
    assert http_server.count("/redirect-loop") == 1  # detected, not fetched again
    long = await http_check(http_server.url_for("/redirect/5"), ctx=ctx, max_redirects=2)
    assert codes(long) == ["too_many_redirects"]
    assert http_server.count("/status/200") == 0


async def test_not_following_redirects_reports_the_redirect(
    http_server: HttpServer, ctx: CheckContext
) -> None:
    result = await http_check(http_server.url_for("/redirect/1"), ctx=ctx, follow_redirects=False)
    assert result.status_code == 302 and result.headers["location"] == "/status/200"


async def test_redirect_into_a_refused_address_is_a_finding_before_any_dial(
    http_server: HttpServer, ctx: CheckContext
) -> None:
    # 10.0.0.1 is refused by the policy, which answers before anything is dialled.
    result = await http_check(http_server.url_for("/redirect-to?url=http://10.0.0.1:9/secret"), ctx=ctx)
    assert codes(result) == ["redirect_blocked"]
    assert "10.0.0.1" in result.findings[0].message and "MCP_MONITOR_ALLOW" in result.findings[0].message


async def test_refused_first_hop_is_an_error_not_a_result(http_server: HttpServer, ctx: CheckContext) -> None:
    with pytest.raises(PolicyError):
        await http_check(http_server.url_for("/"), ctx=ctx.replace(policy=NetworkPolicy()))
    assert http_server.count() == 0


async def test_connect_ip_keeps_host_header(http_server: HttpServer, ctx: CheckContext) -> None:
    # backend.test resolves nowhere: with connect_ip it is never looked up.
    url = f"http://backend.test:{http_server.port}/headers"
    result = await http_check(url, ctx=ctx, connect_ip="127.0.0.1")
    assert result.verdict == "ok" and result.remote_ip == "127.0.0.1"
    assert http_server.requests[-1].header("host") == f"backend.test:{http_server.port}"


async def test_connect_ip_keeps_sni_and_certificate_checks(
    https_server: HttpServer, ctx: CheckContext
) -> None:
    assert https_server.ca_pem is not None
    ca = https_server.ca_pem.decode()
    good = await http_check(
        f"https://localhost:{https_server.port}/", ctx=ctx, connect_ip="127.0.0.1", ca_bundle_pem=ca
    )
    assert good.verdict == "ok" and good.tls is not None and good.tls.days_left is not None
    wrong = await http_check(
        f"https://wrong.test:{https_server.port}/", ctx=ctx, connect_ip="127.0.0.1", ca_bundle_pem=ca
    )
    assert codes(wrong) == ["tls_invalid"]
    assert "wrong.test" in wrong.findings[0].message or "mismatch" in wrong.findings[0].message.lower()


async def test_connect_ip_is_still_checked_by_the_policy(http_server: HttpServer, ctx: CheckContext) -> None:
    with pytest.raises(PolicyError):
        await http_check(
            f"http://backend.test:{http_server.port}/",
            ctx=ctx.replace(policy=NetworkPolicy()),
            connect_ip="127.0.0.1",
        )


async def test_connect_ip_of_the_wrong_family_is_an_input_error(ctx: CheckContext) -> None:
    with pytest.raises(InputError, match="IPv4"):
        await http_check("http://backend.test/", ctx=ctx, connect_ip="127.0.0.1", ip_version="6")


@pytest.fixture
async def dual_stack() -> AsyncIterator[tuple[HttpServer, HttpServer]]:
    """The same port on 127.0.0.1 and ::1."""
    for _ in range(5):
        v6 = HttpServer(host="::1").start()
        try:
            v4 = HttpServer(host="127.0.0.1", port=v6.port).start()
        except OSError:
            v6.stop()
            continue
        try:
            yield v4, v6
        finally:
            v4.stop()
            v6.stop()
        return
    pytest.fail("no port free on both 127.0.0.1 and ::1")


@pytest.mark.parametrize(("ip_version", "expected"), [("4", "127.0.0.1"), ("6", "::1")])
async def test_ip_version_forces_a_family(
    dual_stack: tuple[HttpServer, HttpServer],
    names: Callable[..., Any],
    ctx: CheckContext,
    ip_version: str,
    expected: str,
) -> None:
    v4, v6 = dual_stack
    resolver = names({("dual.test.", "A"): "127.0.0.1", ("dual.test.", "AAAA"): "::1"})
    result = await http_check(
        f"http://dual.test:{v4.port}/", ctx=ctx.replace(resolver=resolver), ip_version=ip_version
    )
    assert result.verdict == "ok" and result.remote_ip == expected
    assert result.timings_ms is not None and result.timings_ms.dns is not None and result.timings_ms.dns > 0
    assert (v6 if ip_version == "6" else v4).count("/") == 1


async def test_unknown_name_is_dns_resolution_failed(names: Callable[..., Any], ctx: CheckContext) -> None:
    resolver = names({("known.test.", "A"): "127.0.0.1"})
    result = await http_check("http://missing.known.test/", ctx=ctx.replace(resolver=resolver))
    assert codes(result) == ["dns_resolution_failed"]


async def test_dns_that_never_answers_times_out_in_the_dns_phase(
    dns_server: DNSServer, ctx: CheckContext
) -> None:
    from monitor_common.netpolicy import dns_resolver

    dns_server.handler = drop
    result = await http_check(
        "http://slow.test/",
        ctx=ctx.replace(resolver=dns_resolver(dns_server.host, dns_server.port, timeout=30)),
        timeout_s=0.5,
    )
    assert codes(result) == ["timeout"]
    assert "phase dns" in result.findings[0].message
    assert result.duration_ms < 2000


@pytest.mark.parametrize(("path", "phase"), [("/hang", "first byte"), ("/slow-body/5000", "body")])
async def test_timeouts_name_the_phase_and_keep_the_deadline(
    http_server: HttpServer, ctx: CheckContext, path: str, phase: str
) -> None:
    result = await http_check(http_server.url_for(path), ctx=ctx, timeout_s=0.4)
    assert codes(result) == ["timeout"]
    assert f"phase {phase}" in result.findings[0].message
    assert result.duration_ms < 1500


async def test_connection_refused(ctx: CheckContext) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await http_check(f"http://127.0.0.1:{port}/", ctx=ctx)
    assert codes(result) == ["connect_refused"]


@contextlib.asynccontextmanager
async def raw_server(reply: bytes | None) -> AsyncIterator[int]:
    """A TCP server on loopback that sends `reply` (None: closes at once) to whatever connects."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.read(1024)
            if reply is not None:
                writer.write(reply)
                await writer.drain()
            else:
                writer.transport.abort()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (b"HELLO THERE\r\n\r\n", "not_http"),  # not HTTP at all: see test_not_http.py
        (None, "http_protocol_error"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "http_protocol_error"),
    ],
)
async def test_malformed_responses_and_resets_are_findings(
    ctx: CheckContext, reply: bytes | None, code: str
) -> None:
    async with raw_server(reply) as port:
        result = await http_check(f"http://127.0.0.1:{port}/", ctx=ctx, timeout_s=3)
    assert result.verdict == "critical"
    assert codes(result) == [code]


@pytest.fixture(scope="module")
def expiring_tls() -> TLSFiles:
    leaf = CertAuthority().expiring_in(10)
    return TLSFiles(cert_chain=leaf.chain_pem, key=leaf.key_pem, ca_pem=leaf.ca_pem.encode())


async def test_certificate_expiring_soon(expiring_tls: TLSFiles, ctx: CheckContext) -> None:
    assert expiring_tls.ca_pem is not None
    async with HttpServer(tls=expiring_tls) as server:
        result = await http_check(server.url_for("/"), ctx=ctx, ca_bundle_pem=expiring_tls.ca_pem.decode())
        # The operator's pair (MCP_MONITOR_CERT_WARN_DAYS / _CRITICAL_DAYS), shared with ssl-monitor.
        stricter = await http_check(
            server.url_for("/"),
            ctx=ctx.replace(cert_critical_days=14),
            ca_bundle_pem=expiring_tls.ca_pem.decode(),
        )
        looser = await http_check(
            server.url_for("/"),
            ctx=ctx.replace(cert_warn_days=9, cert_critical_days=3),
            ca_bundle_pem=expiring_tls.ca_pem.decode(),
        )
    assert result.verdict == "warning"  # 10 days: under 21 (warning), not under 7 (critical)
    assert codes(result) == ["cert_expiring_soon"]
    assert stricter.verdict == "critical" and codes(stricter) == ["cert_expiring_soon"]
    assert looser.verdict == "ok" and codes(looser) == []
    assert result.tls is not None and result.tls.days_left is not None and 9 < result.tls.days_left < 11
    assert result.tls.version is not None and result.tls.version.startswith("TLS")


async def test_untrusted_certificate_with_verification_off(
    https_server: HttpServer, ctx: CheckContext
) -> None:
    strict = await http_check(https_server.url_for("/"), ctx=ctx)
    assert codes(strict) == ["tls_invalid"]
    assert "certificate" in strict.findings[0].message
    lax = await http_check(https_server.url_for("/"), ctx=ctx, verify_tls=False)
    assert lax.verdict == "ok"
    assert lax.tls is not None and lax.tls.days_left is not None and lax.tls.days_left > 300


async def test_every_check_uses_a_fresh_connection(http_server: HttpServer, ctx: CheckContext) -> None:
    for _ in range(3):
        await http_check(http_server.url_for("/"), ctx=ctx)
    ports = {r.client[1] for r in http_server.requests if r.client}
    assert len(ports) == 3


@pytest.mark.parametrize(
    ("arguments", "needle"),
    [
        ({"body_regex": "(unclosed"}, "body_regex"),
        ({"expect_json": {"": 1}}, "expect_json"),
        ({"method": "GE T"}, "method"),
        ({"headers": {"X-A": "b\r\nInjected: 1"}}, "line break"),
        ({"ip_version": "5"}, "ip_version"),
        ({"ca_bundle_pem": "not a pem"}, "ca_bundle_pem"),
    ],
)
async def test_bad_input_is_an_input_error_before_any_request(
    http_server: HttpServer, ctx: CheckContext, arguments: dict[str, Any], needle: str
) -> None:
    with pytest.raises(InputError, match=needle):
        await http_check(http_server.url_for("/"), ctx=ctx, **arguments)
    assert http_server.count() == 0


async def test_request_headers_and_method_are_sent(http_server: HttpServer, ctx: CheckContext) -> None:
    result = await http_check(
        http_server.url_for("/headers"), ctx=ctx, method="head", headers={"X-Probe": "1"}
    )
    assert result.verdict == "ok" and result.body_bytes == 0
    request = http_server.requests[-1]
    assert request.method == "HEAD" and request.header("x-probe") == "1"
    assert (request.header("user-agent") or "").startswith("mcp-http-monitor/")


async def test_a_server_that_never_speaks_tls_times_out_in_the_tls_phase(ctx: CheckContext) -> None:
    handlers: list[asyncio.Task[None]] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        try:
            with contextlib.suppress(ConnectionError):
                await reader.read()  # until the client gives up
        finally:
            writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await http_check(f"https://127.0.0.1:{port}/", ctx=ctx, timeout_s=0.4)
    finally:
        server.close()
        # The client closed its socket when it gave up (no leak), so every handler returns.
        await asyncio.wait_for(asyncio.gather(*handlers), 5)
        await server.wait_closed()
    assert codes(result) == ["timeout"]
    assert "phase tls" in result.findings[0].message


async def test_expired_certificate_with_verification_off_is_still_reported(ctx: CheckContext) -> None:
    leaf = CertAuthority().expired(days_ago=2)
    async with HttpServer(tls=TLSFiles(cert_chain=leaf.chain_pem, key=leaf.key_pem)) as server:
        strict = await http_check(server.url_for("/"), ctx=ctx, ca_bundle_pem=leaf.ca_pem)
        lax = await http_check(server.url_for("/"), ctx=ctx, verify_tls=False)
    assert codes(strict) == ["tls_invalid"] and "expired" in strict.findings[0].message
    assert codes(lax) == ["cert_expired"] and lax.verdict == "critical"


async def test_a_full_accept_queue_times_out_in_the_connect_phase(ctx: CheckContext) -> None:
    import socket

    # A listener that never accepts, with its queue full: Linux drops further SYNs, so the
    # next connection attempt hangs in the TCP handshake, as with a host that drops packets.
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        filler.connect(("127.0.0.1", port))
        result = await http_check(f"http://127.0.0.1:{port}/", ctx=ctx, timeout_s=0.4)
    assert codes(result) == ["timeout"]
    assert "phase connect" in result.findings[0].message
    assert result.duration_ms < 1500
