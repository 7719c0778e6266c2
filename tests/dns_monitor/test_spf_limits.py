"""email_auth_check's SPF evaluation against hostile zones on a real loopback DNS server: it stops
at RFC 7208's limits (10 DNS-querying terms, 2 void lookups), as receivers do, instead of asking
whatever the zone leads it to, and its result stays small."""

from __future__ import annotations

import ipaddress
import json
import time
from typing import Any

import dns.message
import dns.rdatatype
import pytest
from dns_monitor.server import mcp
from mcp import Client
from monitor_common.config import Settings, set_settings
from support.dns_server import DNSServer, spf_tree, zone

TIMEOUT_S = 5.0


@pytest.fixture(autouse=True)
def loopback_unlimited() -> Settings:
    """Loopback allowed and no per-host rate limit: the limits under test are SPF's own, and
    pacing the queries must not be what keeps their number down."""
    settings = Settings(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),), rate_limit_per_host=0)
    set_settings(settings)
    return settings


async def email_auth_check(dns_server: DNSServer, domain: str) -> tuple[dict[str, Any], float]:
    arguments = {"domain": domain, "server": f"127.0.0.1:{dns_server.port}", "timeout_s": TIMEOUT_S}
    started = time.monotonic()
    async with Client(mcp) as client:
        result = await client.call_tool("email_auth_check", arguments)
    elapsed = time.monotonic() - started
    assert not result.is_error and result.structured_content is not None
    return result.structured_content, elapsed


def txt_questions(dns_server: DNSServer) -> list[str]:
    """The names the server was asked TXT about, in order (one per query: a TCP retry counts)."""
    return [
        request.question[0].name.to_text()
        for _, request in dns_server.requests
        if request.question[0].rdtype == dns.rdatatype.TXT
    ]


def codes(result: dict[str, Any]) -> list[str]:
    return [f["code"] for f in result["findings"]]


async def test_an_endless_tree_of_includes_stops_at_ten_lookups(dns_server: DNSServer) -> None:
    # Every name has 40 includes, each leading to 40 more: 40^10 records ten levels down.
    dns_server.handler = spf_tree(width=40)
    result, elapsed = await email_auth_check(dns_server, "bomb.test")
    spf_questions = [n for n in txt_questions(dns_server) if n == "bomb.test." or n.startswith("l")]
    # The domain's own record, then the ten includes RFC 7208 4.6.4 allows (depth first: each the
    # first include of the one before); the eleventh is where evaluation stops, unasked.
    assert spf_questions == ["bomb.test.", *(f"l{level}-0.test." for level in range(1, 11))]
    assert codes(result).count("spf_too_many_lookups") == 1
    assert result["spf"]["dns_lookups"] == 11 and result["spf"]["all"] == "-all"
    assert len(result["spf"]["includes"]) == 10
    (too_many,) = [f for f in result["findings"] if f["code"] == "spf_too_many_lookups"]
    assert "include:l11-0.test" in too_many["message"], too_many
    assert result["verdict"] == "critical"
    assert elapsed < TIMEOUT_S
    assert len(json.dumps(result)) < 20_000


async def test_a_third_void_lookup_ends_the_evaluation(dns_server: DNSServer) -> None:
    record = "v=spf1 " + " ".join(f"include:gone{i}.void.test" for i in range(1, 6)) + " -all"
    dns_server.handler = zone({("void.test.", "TXT"): [f'"{record}"']}, origin="void.test.")
    result, _ = await email_auth_check(dns_server, "void.test")
    assert codes(result).count("spf_void_lookups") == 1
    (void,) = [f for f in result["findings"] if f["code"] == "spf_void_lookups"]
    assert void["severity"] == "critical" and "include:gone3.void.test" in void["message"]
    # Two void lookups are allowed (each still a missing include); the third is the last asked.
    assert codes(result).count("spf_include_missing") == 3
    assert [n for n in txt_questions(dns_server) if n.startswith("gone")] == [
        f"gone{i}.void.test." for i in (1, 2, 3)
    ]
    assert result["spf"]["void_lookups"] == 3 and result["spf"]["all"] == "-all"


def test_the_tree_handler_leads_on_for_ever() -> None:
    """The hostile zone itself: any level's include names a record with `width` more."""
    handler = spf_tree(width=3)
    answer = handler(dns.message.make_query("l7-2.test", "TXT"), "udp")
    assert isinstance(answer, dns.message.Message)
    (txt,) = answer.answer[0]
    record = b"".join(txt.strings).decode()  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType, reportUnknownArgumentType]
    assert record == "v=spf1 include:l8-0.test include:l8-1.test include:l8-2.test -all"
