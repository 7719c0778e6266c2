"""cert_check through an in-process MCP client against real loopback TLS servers."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from mcp import Client
from ssl_monitor.server import mcp
from support.certs import CertAuthority, Leaf, serve_tls

pytestmark = pytest.mark.usefixtures("allow_loopback")


async def check(port: int, **arguments: Any) -> dict[str, Any]:
    async with Client(mcp) as client:
        result = await client.call_tool("cert_check", {"host": "127.0.0.1", "port": port, **arguments})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def check_leaf(leaf: Leaf, **arguments: Any) -> dict[str, Any]:
    async with serve_tls(leaf.server_ssl_context()) as (_, port):
        return await check(port, **arguments)


def codes(result: dict[str, Any]) -> list[str]:
    return [f["code"] for f in result["findings"]]


async def test_valid_certificate(ca: CertAuthority) -> None:
    leaf = ca.valid()
    result = await check_leaf(leaf)
    assert result["verdict"] == "ok"
    assert result["findings"] == []
    assert result["remote_ip"] == "127.0.0.1"
    assert result["tls_version"] in ("TLSv1.2", "TLSv1.3")
    expected_days = (leaf.not_after - leaf.not_before).total_seconds() / 86400
    assert abs(result["days_left"] - expected_days) < 1.5
    assert "expires in" in result["summary"]


@pytest.mark.parametrize(("days", "verdict"), [(15, "warning"), (3, "critical"), (40, "ok")])
async def test_expiring_soon(ca: CertAuthority, days: int, verdict: str) -> None:
    result = await check_leaf(ca.expiring_in(days))
    assert result["verdict"] == verdict
    assert 0 < result["days_left"] <= days
    assert codes(result) == ([] if verdict == "ok" else ["cert_expiring_soon"])


async def test_thresholds_are_the_callers(ca: CertAuthority) -> None:
    result = await check_leaf(ca.expiring_in(40), warn_days=60, critical_days=30)
    assert result["verdict"] == "warning"


async def test_expired_is_described_in_full(ca: CertAuthority) -> None:
    result = await check_leaf(ca.expired(days_ago=3))
    assert result["verdict"] == "critical"
    assert codes(result) == ["cert_expired"]
    assert result["days_left"] < -2
    assert result["subject"] and result["issuer"]


async def test_not_yet_valid(ca: CertAuthority) -> None:
    result = await check_leaf(ca.not_yet_valid(days_ahead=2))
    assert result["verdict"] == "critical"
    assert "cert_not_yet_valid" in codes(result)


async def test_self_signed_is_still_read(ca: CertAuthority) -> None:
    result = await check_leaf(ca.self_signed())
    assert result["subject"] == result["issuer"]


async def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await check(port, timeout_s=2)
    assert result["verdict"] == "critical"
    assert codes(result) == ["connect_refused"]


async def test_plain_tcp_server_is_a_handshake_failure() -> None:
    async def answer_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_garbage, "127.0.0.1", 0)
    async with server:
        result = await check(server.sockets[0].getsockname()[1], timeout_s=3)
    assert result["verdict"] == "critical"
    assert codes(result) == ["tls_handshake_failed"]


async def test_stalled_handshake_times_out() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # read the ClientHello and say nothing
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    async with server:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        result = await check(server.sockets[0].getsockname()[1], timeout_s=0.5)
        elapsed = loop.time() - t0
    assert codes(result) == ["timeout"]
    assert elapsed < 5


async def test_invalid_host_is_a_tool_error() -> None:
    async with Client(mcp) as client:
        result = await client.call_tool("cert_check", {"host": "bad host!.example"})
    assert result.is_error
    assert "bad host" in " ".join(c.text for c in result.content if c.type == "text")
