"""The loopback test server behaves as the suites rely on: routes, protocols, TLS, stopping."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
import trustme
from support.http_fixtures import *  # noqa: F403  (until tests/conftest.py star-imports them)
from support.http_server import HttpServer, TLSFiles


def client(server: HttpServer, **kwargs: Any) -> httpx2.AsyncClient:
    verify: ssl.SSLContext | bool = server.client_ssl_context() if server.tls is not None else True
    return httpx2.AsyncClient(verify=verify, trust_env=False, **kwargs)


async def get(server: HttpServer, path: str, **kwargs: Any) -> httpx2.Response:
    async with client(server) as http:
        return await http.get(server.url_for(path), **kwargs)


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


# -- routes --------------------------------------------------------------------------------------


async def test_root_answers_ok(http_server: HttpServer) -> None:
    response = await get(http_server, "/")
    assert (response.status_code, response.text) == (200, "ok")
    assert http_server.url == f"http://127.0.0.1:{http_server.port}"


@pytest.mark.parametrize("code", [200, 204, 301, 404, 500, 503])
async def test_status_route_answers_that_status(http_server: HttpServer, code: int) -> None:
    response = await get(http_server, f"/status/{code}")
    assert response.status_code == code
    assert http_server.count(f"/status/{code}") == 1


async def test_unknown_paths_and_bad_parameters(http_server: HttpServer) -> None:
    assert (await get(http_server, "/nowhere")).status_code == 404
    assert (await get(http_server, "/status/abc")).status_code == 400
    assert (await get(http_server, "/status/99")).status_code == 400
    assert (await get(http_server, "/redirect-to?url=/&status=200")).status_code == 400


async def test_head_gets_headers_without_body(http_server: HttpServer) -> None:
    async with client(http_server) as http:
        response = await http.head(http_server.url_for("/bytes/100"))
    assert response.headers["content-length"] == "100"
    assert response.content == b""
    assert http_server.requests[-1].method == "HEAD"


async def test_delay_holds_back_the_response(http_server: HttpServer) -> None:
    started = time.monotonic()
    response = await get(http_server, "/delay/300")
    assert response.status_code == 200
    assert 0.28 <= time.monotonic() - started < 3


async def test_delay_trips_a_first_byte_timeout(http_server: HttpServer) -> None:
    with pytest.raises(httpx2.ReadTimeout):
        await get(http_server, "/delay/5000", timeout=httpx2.Timeout(5, read=0.2))


async def test_slow_body_sends_headers_first(http_server: HttpServer) -> None:
    async with client(http_server) as http:
        started = time.monotonic()
        async with http.stream("GET", http_server.url_for("/slow-body/600")) as response:
            headers_after = time.monotonic() - started
            body = await response.aread()
        body_after = time.monotonic() - started
    assert response.status_code == 200
    assert headers_after < 0.45
    assert body_after >= 0.58
    assert body.startswith(b"slow body")


@pytest.mark.parametrize("absolute", [False, True])
async def test_redirect_chain_has_n_hops(http_server: HttpServer, absolute: bool) -> None:
    query = "?absolute=1" if absolute else ""
    async with client(http_server, follow_redirects=True) as http:
        response = await http.get(http_server.url_for(f"/redirect/3{query}"))
    assert response.status_code == 200
    assert response.url.path == "/status/200"
    assert [r.status_code for r in response.history] == [302, 302, 302]
    location = response.history[0].headers["location"]
    assert location.startswith(http_server.url) if absolute else location.startswith("/redirect/2")
    assert [http_server.count(f"/redirect/{n}") for n in (3, 2, 1)] == [1, 1, 1]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirect_to_uses_the_given_status(http_server: HttpServer, status: int) -> None:
    response = await get(http_server, f"/redirect-to?url=/text%3Fbody%3Dthere&status={status}")
    assert response.status_code == status
    assert response.headers["location"] == "/text?body=there"


async def test_redirect_loop_never_ends(http_server: HttpServer) -> None:
    async with client(http_server, follow_redirects=True, max_redirects=4) as http:
        with pytest.raises(httpx2.TooManyRedirects):
            await http.get(http_server.url_for("/redirect-loop"))
    assert http_server.count("/redirect-loop") == 5


@pytest.mark.parametrize("size", [0, 1, 100_000])
async def test_bytes_route_sends_n_bytes(http_server: HttpServer, size: int) -> None:
    response = await get(http_server, f"/bytes/{size}")
    assert len(response.content) == size
    assert response.headers["content-length"] == str(size)


async def test_bytes_route_can_omit_the_length(http_server: HttpServer) -> None:
    response = await get(http_server, "/bytes/200000?chunked=1")
    assert len(response.content) == 200_000
    assert "content-length" not in response.headers
    assert response.headers["transfer-encoding"] == "chunked"


async def test_json_route_returns_a_document_and_the_query(http_server: HttpServer) -> None:
    response = await get(http_server, "/json?name=probe")
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"data": {"status": "ok", "count": 3}, "args": {"name": "probe"}}


async def test_text_route_returns_given_text_type_status_and_headers(http_server: HttpServer) -> None:
    params = [
        ("body", "{broken"),
        ("content_type", "application/json"),
        ("status", "418"),
        ("header", "X-Test: 1"),
        ("header", "Cache-Control:no-store"),
    ]
    response = await get(http_server, "/text", params=params)
    assert response.status_code == 418
    assert response.text == "{broken"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-test"] == "1"
    assert response.headers["cache-control"] == "no-store"


async def test_headers_route_echoes_the_request(http_server: HttpServer) -> None:
    response = await get(http_server, "/headers?a=1", headers={"X-Probe": "yes", "User-Agent": "probe/1"})
    echo = response.json()
    assert echo["headers"]["x-probe"] == "yes"
    assert echo["headers"]["user-agent"] == "probe/1"
    assert echo["host"] == f"127.0.0.1:{http_server.port}"
    assert echo["http_version"] == "1.1"
    assert echo["client"][0] == "127.0.0.1"
    assert echo["query"] == "a=1"
    recorded = http_server.requests[-1]
    assert (recorded.path, recorded.query, recorded.header("X-PROBE")) == ("/headers", "a=1", "yes")


async def test_requests_are_recorded_in_order_and_can_be_cleared(http_server: HttpServer) -> None:
    async with client(http_server) as http:
        for path in ("/", "/status/404", "/"):
            await http.get(http_server.url_for(path))
    assert [r.path for r in http_server.requests] == ["/", "/status/404", "/"]
    assert (http_server.count("/"), http_server.count()) == (2, 3)
    assert http_server.wait_for_request("/status/404").path == "/status/404"
    with pytest.raises(TimeoutError):
        http_server.wait_for_request("/never", timeout=0.05)
    http_server.clear()
    assert http_server.requests == []


# -- hanging and stopping ------------------------------------------------------------------------


async def test_hang_times_out_and_the_server_still_stops_promptly() -> None:
    server = HttpServer().start()
    try:
        with pytest.raises(httpx2.ReadTimeout):
            await get(server, "/hang", timeout=httpx2.Timeout(5, read=0.2))
    finally:
        started = time.monotonic()
        server.stop()
    assert time.monotonic() - started < 1.5
    assert server.count("/hang") == 1


async def test_stop_releases_a_hanging_request_whose_client_is_still_waiting(http_tls: TLSFiles) -> None:
    # The client waits on the same loop that calls the blocking stop(): the server must not
    # wait for it (no TLS close_notify from a parked peer).
    server = HttpServer(tls=http_tls).start()
    async with client(server, http2=True) as http:
        waiting = asyncio.create_task(http.get(server.url_for("/hang"), timeout=10))
        await asyncio.to_thread(server.wait_for_request, "/hang")
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 3
        with pytest.raises(httpx2.HTTPError):
            response = await waiting
            response.raise_for_status()


async def test_stop_is_idempotent_and_async_context_manager_works() -> None:
    async with HttpServer() as server:
        assert (await get(server, "/")).status_code == 200
    server.stop()
    with pytest.raises(httpx2.ConnectError):
        await get(server, "/")


def test_sync_callers_can_use_the_server(http_server: HttpServer) -> None:
    with httpx2.Client(trust_env=False) as http:
        assert http.get(http_server.url_for("/status/204")).status_code == 204


# -- protocols and TLS ---------------------------------------------------------------------------


async def test_http2_is_negotiated_over_tls(https_server: HttpServer) -> None:
    assert https_server.url.startswith("https://127.0.0.1:")
    async with client(https_server, http2=True) as http:
        response = await http.get(https_server.url_for("/headers"))
    assert response.http_version == "HTTP/2"
    assert response.json()["http_version"] == "2"
    assert response.json()["scheme"] == "https"
    assert https_server.requests[-1].http_version == "2"


async def test_http11_over_tls_when_the_client_does_not_offer_h2(https_server: HttpServer) -> None:
    response = await get(https_server, "/headers")
    assert response.http_version == "HTTP/1.1"
    assert response.json()["http_version"] == "1.1"


async def test_server_can_refuse_h2(http_tls: TLSFiles) -> None:
    with HttpServer(tls=http_tls, alpn_protocols=["http/1.1"]) as server:
        async with client(server, http2=True) as http:
            response = await http.get(server.url_for("/"))
    assert response.http_version == "HTTP/1.1"


async def test_h2c_with_prior_knowledge(http_server: HttpServer) -> None:
    async with client(http_server, http1=False, http2=True) as http:
        response = await http.get(http_server.url_for("/headers"))
    assert response.http_version == "HTTP/2"
    assert http_server.requests[-1].http_version == "2"


async def test_untrusted_client_fails_and_the_server_carries_on(https_server: HttpServer) -> None:
    stranger = ssl.create_default_context(cadata=trustme.CA().cert_pem.bytes().decode("ascii"))
    async with httpx2.AsyncClient(verify=stranger, trust_env=False) as http:
        with pytest.raises(httpx2.ConnectError):
            await http.get(https_server.url_for("/"))
    assert (await get(https_server, "/")).status_code == 200
    assert https_server.count() == 1


async def test_tls_files_may_be_paths(tmp_path: Path, http_ca: trustme.CA) -> None:
    leaf = http_ca.issue_cert("127.0.0.1")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    with HttpServer(tls=TLSFiles(chain, key, ca_pem=http_ca.cert_pem.bytes())) as server:
        assert (await get(server, "/")).status_code == 200


# -- addresses -----------------------------------------------------------------------------------


async def test_binds_another_loopback_address(http_tls: TLSFiles) -> None:
    with HttpServer(tls=http_tls, host="127.0.0.2") as server:
        response = await get(server, "/headers")
    assert server.url == f"https://127.0.0.2:{server.port}"
    assert response.json()["host"] == f"127.0.0.2:{server.port}"


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback here")
async def test_binds_ipv6_loopback() -> None:
    with HttpServer(host="::1") as server:
        response = await get(server, "/headers")
    assert server.url == f"http://[::1]:{server.port}"
    assert response.json()["client"][0] == "::1"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "::", "localhost", "example.com"])
def test_refuses_anything_but_a_loopback_ip(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        HttpServer(host=host)
