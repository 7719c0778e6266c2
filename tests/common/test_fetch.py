"""`monitor_common.fetch`: the one bounded download, against a real loopback HTTP server."""

from __future__ import annotations

import ipaddress
import time
import tracemalloc
from collections.abc import AsyncIterator

import httpx2
import pytest
from monitor_common.context import CheckContext
from monitor_common.errors import PolicyError
from monitor_common.fetch import FetchTimeout, fetch, read_capped, size_text
from monitor_common.netpolicy import NetworkPolicy
from support.http_server import HttpServer

LOOPBACK = CheckContext(policy=NetworkPolicy(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),)))


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


@pytest.mark.parametrize(
    ("parts", "cap", "expected"),
    [
        ((b"abc", b"def"), 10, (b"abcdef", False)),
        ((b"abc", b"def"), 6, (b"abcdef", False)),  # exactly the cap is whole
        ((b"abc", b"def"), 5, (b"abcde", True)),
        ((b"abcdef",), 0, (b"", True)),
        ((), 4, (b"", False)),
    ],
)
async def test_read_capped(parts: tuple[bytes, ...], cap: int, expected: tuple[bytes, bool]) -> None:
    assert await read_capped(_chunks(*parts), cap) == expected


@pytest.mark.parametrize(
    ("size", "text"), [(65535, "65535 bytes"), (65536, "64 KiB"), (10 * 2**20, "10 MiB")]
)
def test_size_text(size: int, text: str) -> None:
    assert size_text(size) == text


async def test_a_body_within_the_cap_is_read_whole(http_server: HttpServer) -> None:
    got = await fetch(LOOPBACK, http_server.url_for("/bytes/5000"), cap=5000, timeout_s=5)
    assert (got.status_code, len(got.body), got.truncated) == (200, 5000, False)


async def test_an_endless_body_stops_at_the_cap_with_bounded_memory(http_server: HttpServer) -> None:
    cap = 512 * 1024
    tracemalloc.start()
    try:
        got = await fetch(LOOPBACK, http_server.url_for("/endless"), cap=cap, timeout_s=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.truncated and len(got.body) == cap
    assert "sent more than 512 KiB" in got.over_cap
    assert peak < 4 * cap  # the cap, its join and a chunk or two: not what the server sent


async def test_a_trickled_body_ends_at_the_deadline(http_server: HttpServer) -> None:
    begun = time.monotonic()
    with pytest.raises(FetchTimeout, match=r"did not finish sending within 1\.5 s, \d+ body bytes received"):
        # A byte every 100 ms: every read is quick, only the whole transfer is too slow.
        await fetch(LOOPBACK, http_server.url_for("/drip/100"), cap=1024 * 1024, timeout_s=1.5)
    assert 1.4 < time.monotonic() - begun < 2.5


async def test_a_status_is_a_result_and_redirects_are_followed_only_when_asked(
    http_server: HttpServer,
) -> None:
    assert (
        await fetch(LOOPBACK, http_server.url_for("/status/404"), cap=100, timeout_s=5)
    ).status_code == 404
    url = http_server.url_for("/redirect/2")
    assert (await fetch(LOOPBACK, url, cap=100, timeout_s=5)).status_code == 302
    followed = await fetch(LOOPBACK, url, cap=100, timeout_s=5, follow_redirects=True)
    assert (followed.status_code, followed.url) == (200, http_server.url_for("/status/200"))


async def test_the_policy_applies(http_server: HttpServer) -> None:
    with pytest.raises(PolicyError):
        await fetch(CheckContext(), http_server.url_for("/"), cap=100, timeout_s=5)


async def test_messages_never_show_the_password_of_the_url(http_server: HttpServer) -> None:
    # A DoH server's URL may carry credentials (ServerSpec.shown hides them); the messages the
    # fetch writes end up in findings, so they must hide them too.
    def secret(path: str) -> str:
        return http_server.url_for(path).replace("://", "://user:s3cret@", 1)

    over = await fetch(LOOPBACK, secret("/bytes/100"), cap=10, timeout_s=5)
    assert over.truncated and "s3cret" not in over.over_cap and "***" in over.over_cap
    with pytest.raises(httpx2.DecodingError) as encoded:
        await fetch(LOOPBACK, secret("/bytes/10?header=Content-Encoding:%20gzip"), cap=100, timeout_s=5)
    assert "s3cret" not in str(encoded.value)
    with pytest.raises(FetchTimeout) as slow:
        await fetch(LOOPBACK, secret("/drip/100"), cap=100, timeout_s=0.5)
    assert "s3cret" not in str(slow.value)
