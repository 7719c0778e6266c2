"""dns_lookup through an in-process MCP client against a real loopback DNS server."""

from __future__ import annotations

from typing import Any

import pytest
from dns_monitor.server import mcp
from mcp import Client
from support.dns_server import (
    DNSServer,
    big_txt,
    delayed,
    drop,
    refused,
    servfail,
    truncate_udp,
    wrong_id,
    zone,
)

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
    (lookup_a,) = result["lookups"]
    assert lookup_a["rcode"] == "NOERROR"
    assert lookup_a["flags"]["aa"] is True and lookup_a["flags"]["tc"] is False
    assert sorted(a["value"] for a in result["answers"]) == ["192.0.2.1", "192.0.2.2"]
    assert lookup_a["transport"] == "udp"
    assert result["server"] == f"127.0.0.1:{dns_server.port}"
    assert dns_server.queries["udp"] == 1


async def test_mx(dns_server: DNSServer) -> None:
    dns_server.handler = zone(RECORDS)
    _, result, _ = await lookup(dns_server, name="example.com", record_types=["mx"])
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
    _, result, _ = await lookup(dns_server, name="www.example.com", record_types=["AAAA"])
    assert result is not None
    assert result["verdict"] == "warning"
    assert codes(result) == ["nodata"]


async def test_truncated_answer_is_retried_over_tcp(dns_server: DNSServer) -> None:
    dns_server.handler = truncate_udp(zone(RECORDS))
    _, result, _ = await lookup(dns_server, name="big.example.com", record_types=["TXT"])
    assert result is not None
    assert result["lookups"][0]["transport"] == "tcp"
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
        ({"name": "www.example.com", "record_types": ["BOGUS"]}, "BOGUS"),
        ({"name": "www.example.com", "record_types": []}, "record_types"),
        ({"name": "www.example.com", "server": "ftp://127.0.0.1"}, "scheme"),
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


async def test_several_types_at_once_with_soa_for_nodata(dns_server: DNSServer) -> None:
    dns_server.handler = zone(RECORDS)
    _, result, _ = await lookup(dns_server, name="www.example.com", record_types=["A", "AAAA", "MX"])
    assert result is not None
    by_type = {lk["record_type"]: lk for lk in result["lookups"]}
    assert set(by_type) == {"A", "AAAA", "MX"}
    assert by_type["A"]["soa"] is None and len(by_type["A"]["answers"]) == 2
    for rtype in ("AAAA", "MX"):
        assert by_type[rtype]["rcode"] == "NOERROR" and by_type[rtype]["answers"] == []
        assert by_type[rtype]["soa"]["type"] == "SOA" and by_type[rtype]["soa"]["name"] == "example.com."
    assert sorted(codes(result)) == ["nodata", "nodata"]


async def test_nxdomain_carries_the_soa(dns_server: DNSServer) -> None:
    dns_server.handler = zone(RECORDS)
    _, result, _ = await lookup(dns_server, name="gone.example.com")
    assert result is not None
    assert result["lookups"][0]["rcode"] == "NXDOMAIN"
    assert result["lookups"][0]["soa"]["value"].startswith("ns1.example.com. hostmaster.example.com. 1 ")


@pytest.mark.parametrize(
    ("expect", "verdict"),
    [
        (["192.0.2.1", "192.0.2.2"], "ok"),
        (["192.0.2.0/24"], "ok"),
        (["192.0.2.1"], "critical"),  # 192.0.2.2 is not expected
        (["192.0.2.1", "192.0.2.2", "192.0.2.3"], "critical"),  # .3 missing
        (["198.51.100.0/24"], "critical"),
    ],
)
async def test_expect_compares_the_answer_set(dns_server: DNSServer, expect: list[str], verdict: str) -> None:
    dns_server.handler = zone(RECORDS)
    _, result, _ = await lookup(dns_server, name="www.example.com", expect=expect)
    assert result is not None
    assert result["verdict"] == verdict
    assert ("answer_unexpected" in codes(result)) == (verdict == "critical")


async def test_recursion_flag_and_dnssec_bit_reach_the_server(dns_server: DNSServer) -> None:
    dns_server.handler = zone(RECORDS)
    await lookup(dns_server, name="www.example.com", recursion=False, dnssec=True)
    _, request = dns_server.requests[-1]
    import dns.flags

    assert not request.flags & dns.flags.RD
    assert request.ednsflags & dns.flags.DO


async def test_tcp_only_transport(dns_server: DNSServer) -> None:
    dns_server.handler = zone(RECORDS)
    _, result, _ = await lookup(dns_server, name="www.example.com", transport="tcp")
    assert result is not None and result["verdict"] == "ok"
    assert result["lookups"][0]["transport"] == "tcp"
    assert dns_server.queries == {"tcp": 1}


async def test_udp_only_transport_reports_truncation_without_retry(dns_server: DNSServer) -> None:
    dns_server.handler = truncate_udp(zone(RECORDS))
    _, result, _ = await lookup(dns_server, name="big.example.com", record_types=["TXT"], transport="udp")
    assert result is not None
    assert result["lookups"][0]["flags"]["tc"] is True
    assert dns_server.queries["tcp"] == 0


async def test_reply_with_wrong_id_is_ignored_until_timeout(dns_server: DNSServer) -> None:
    dns_server.handler = wrong_id(zone(RECORDS))
    _, result, _ = await lookup(dns_server, name="www.example.com", timeout_s=0.5)
    assert result is not None
    # Ignored (it could be spoofed), but when nothing else came the finding says what did.
    assert codes(result) == ["bad_response"]
    assert "instead of" in result["findings"][0]["message"]


async def test_a_flood_of_mismatched_replies_makes_a_short_finding(dns_server: DNSServer) -> None:
    import dns.message

    answer = zone(RECORDS)

    def flood(request: dns.message.Message, transport: Any) -> Any:
        # The server asked is the untrusted party: 3000 replies, each with another wrong ID.
        replies: list[Any] = []
        for offset in range(1, 3001):
            reply = answer(request, transport)
            assert isinstance(reply, dns.message.Message)
            reply.id = (request.id + offset) % 65536
            replies.append(reply)
        return replies

    dns_server.handler = flood
    _, result, _ = await lookup(dns_server, name="www.example.com", timeout_s=1)
    assert result is not None and codes(result) == ["bad_response"]
    message = result["findings"][0]["message"]
    assert "instead of" in message and len(message) < 1000, len(message)


async def test_late_answer_within_timeout_is_accepted(dns_server: DNSServer) -> None:
    dns_server.handler = delayed(0.3, zone(RECORDS))
    _, result, _ = await lookup(dns_server, name="www.example.com", timeout_s=2)
    assert result is not None and result["verdict"] == "ok"
    assert result["lookups"][0]["latency_ms"] >= 250


async def test_extended_dns_errors_are_reported(dns_server: DNSServer) -> None:
    import dns.edns
    import dns.message
    import dns.rcode

    def handler(request: dns.message.Message, transport: str) -> dns.message.Message:
        response = dns.message.make_response(request)
        response.set_rcode(dns.rcode.SERVFAIL)
        response.use_edns(
            0, options=[dns.edns.EDEOption(dns.edns.EDECode.SIGNATURE_EXPIRED, "rrsig expired")]
        )
        return response

    dns_server.handler = handler
    _, result, _ = await lookup(dns_server, name="www.example.com")
    assert result is not None
    assert result["lookups"][0]["extended_errors"] == [
        {"code": 7, "name": "signature_expired", "text": "rrsig expired"}
    ]
    assert codes(result) == ["servfail"]


async def test_doh_server_with_internal_address_is_refused_before_dialling(dns_server: DNSServer) -> None:
    from monitor_common.config import Settings, set_settings

    set_settings(Settings())
    is_error, _, text = await lookup(dns_server, name="www.example.com", server="https://127.0.0.1/dns-query")
    assert is_error and "127.0.0.1" in text and "refused" in text


def _monitor_resolver(dns: DNSServer, allowed: Any) -> None:
    """Make `dns` the monitor's own resolver (no `server` argument asks it)."""
    import dataclasses

    from monitor_common.config import set_settings

    set_settings(dataclasses.replace(allowed, resolver=f"127.0.0.1:{dns.port}"))


async def _ask_monitor_resolver(**arguments: Any) -> dict[str, Any]:
    async with Client(mcp) as client:
        result = await client.call_tool("dns_lookup", arguments)
    assert result.structured_content is not None
    return result.structured_content


async def test_a_silent_monitor_resolver_is_the_monitors_outage_not_the_names(
    dns_server: DNSServer, allow_loopback: Any
) -> None:
    _monitor_resolver(dns_server, allow_loopback)
    dns_server.handler = drop
    result = await _ask_monitor_resolver(name="www.example.com", timeout_s=0.6)
    assert result["verdict"] == "unknown", result
    assert codes(result) == ["monitor_network_unavailable"]
    assert "root zone either" in result["findings"][0]["message"]
    asked = [(str(r.question[0].name), r.question[0].rdtype) for _, r in dns_server.requests]
    assert (".", 2) in asked  # the liveness probe: ". NS"


async def test_a_live_monitor_resolver_that_times_out_on_the_name_blames_the_name(
    dns_server: DNSServer, allow_loopback: Any
) -> None:
    import dns.rdatatype

    _monitor_resolver(dns_server, allow_loopback)
    root = zone({(".", "NS"): ["a.root-servers.net."]})

    def handler(request: Any, transport: Any) -> Any:
        return root(request, transport) if request.question[0].rdtype == dns.rdatatype.NS else None

    dns_server.handler = handler
    result = await _ask_monitor_resolver(name="www.example.com", timeout_s=0.6)
    assert result["verdict"] == "critical", result
    assert codes(result) == ["timeout"]


async def test_an_answer_before_half_the_limit_asks_nothing_more(
    dns_server: DNSServer, allow_loopback: Any
) -> None:
    _monitor_resolver(dns_server, allow_loopback)
    dns_server.handler = zone(RECORDS)
    result = await _ask_monitor_resolver(name="www.example.com", timeout_s=2)
    assert result["verdict"] == "ok"
    assert [str(r.question[0].name) for _, r in dns_server.requests] == ["www.example.com."]
