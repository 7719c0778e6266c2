"""dns_lookup through an in-process MCP client against a real loopback DNS server."""

from __future__ import annotations

from typing import Any

import pytest
from dns_monitor.server import mcp
from mcp import Client
from support.dns_server import DNSServer, big_txt, drop, refused, servfail, truncate_udp, zone

pytestmark = pytest.mark.usefixtures("allow_loopback")

RECORDS = {
    ("www.example.com.", "A"): ["192.0.2.1", "192.0.2.2"],
    ("example.com.", "MX"): ["10 mail.example.com."],
    ("big.example.com.", "TXT"): big_txt(6000),
}


async def lookup(dns: DNSServer, /, **arguments: Any) -> tuple[bool, dict[str, Any] | None, str]:
    arguments.setdefault("server", f"127.0.0.1:{dns.port}")
    async with Client(mcp) as client:
        result = await client.call_tool("dns_lookup", arguments)
    text = " ".join(c.text for c in result.content if c.type == "text")
    return result.is_error, result.structured_content, text


def codes(result: dict[str, Any]) -> list[str]:
    return [f["code"] for f in result["findings"]]


async def test_answers(dns_server: DNSServer) -> None:
    dns_server.handler = zone(RECORDS)
    _, result, _ = await lookup(dns_server, name="www.example.com")
    assert result is not None
    assert result["verdict"] == "ok"
    assert result["rcode"] == "NOERROR"
    assert sorted(a["value"] for a in result["answers"]) == ["192.0.2.1", "192.0.2.2"]
    assert result["transport"] == "udp"
    assert result["server"] == f"127.0.0.1:{dns_server.port}"
    assert dns_server.queries["udp"] == 1


async def test_mx(dns_server: DNSServer) -> None:
    dns_server.handler = zone(RECORDS)
    _, result, _ = await lookup(dns_server, name="example.com", record_type="mx")
    assert result is not None
    assert [a["value"] for a in result["answers"]] == ["10 mail.example.com."]


@pytest.mark.parametrize(
    ("name", "handler", "code", "verdict"),
    [
        ("nope.example.com", zone(RECORDS), "nxdomain", "critical"),
        ("www.example.com", servfail, "servfail", "critical"),
        ("www.example.com", refused, "refused", "critical"),
    ],
)
async def test_failures_are_findings(
    dns_server: DNSServer, name: str, handler: Any, code: str, verdict: str
) -> None:
    dns_server.handler = handler
    _, result, _ = await lookup(dns_server, name=name)
    assert result is not None
    assert result["verdict"] == verdict
    assert codes(result) == [code]


async def test_nodata_is_a_warning(dns_server: DNSServer) -> None:
    dns_server.handler = zone(RECORDS)
    _, result, _ = await lookup(dns_server, name="www.example.com", record_type="AAAA")
    assert result is not None
    assert result["verdict"] == "warning"
    assert codes(result) == ["nodata"]


async def test_truncated_answer_is_retried_over_tcp(dns_server: DNSServer) -> None:
    dns_server.handler = truncate_udp(zone(RECORDS))
    _, result, _ = await lookup(dns_server, name="big.example.com", record_type="TXT")
    assert result is not None
    assert result["transport"] == "tcp"
    assert codes(result) == ["truncated_retried_tcp"]
    assert result["verdict"] == "ok"
    assert len(result["answers"]) > 10
    assert dns_server.queries["tcp"] == 1


async def test_no_answer_times_out(dns_server: DNSServer) -> None:
    dns_server.handler = drop
    _, result, _ = await lookup(dns_server, name="www.example.com", timeout_s=0.5)
    assert result is not None
    assert result["verdict"] == "critical"
    assert codes(result) == ["timeout"]


@pytest.mark.parametrize(
    ("arguments", "needle"),
    [
        ({"name": "www.example.com", "record_type": "BOGUS"}, "BOGUS"),
        ({"name": "bad name!", "server": "127.0.0.1"}, "bad name"),
        ({"name": "www.example.com", "server": "dns.example"}, "IP address"),
    ],
)
async def test_bad_input_is_a_tool_error(
    dns_server: DNSServer, arguments: dict[str, Any], needle: str
) -> None:
    is_error, _, text = await lookup(dns_server, **arguments)
    assert is_error and needle in text


async def test_server_on_loopback_refused_by_default(dns_server: DNSServer) -> None:
    from monitor_common.config import Settings, set_settings

    set_settings(Settings())
    dns_server.handler = zone(RECORDS)
    is_error, _, text = await lookup(dns_server, name="www.example.com")
    assert is_error and "127.0.0.1" in text
    assert dns_server.queries["udp"] == 0
