"""Integration tier: the origin AS of each nameserver address (dns_monitor.asn, CONNECTIVITY03) on
the local BIND9 tree, with the tree's Cymru-style lookup zone asn-db.test (tests/support/tree_asn.py)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from dns_monitor.asn import Origin, judge, lookup_name, parse_origin
from dns_monitor.server import mcp
from mcp import Client
from monitor_common.config import Settings, set_settings
from monitor_common.errors import ConfigError
from monitor_common.results import Verdict
from support.tree_asn import ADDRESS, ASN_ZONE

OURS = {"nameservers_one_asn", "nameservers_same_asn_set"}


@pytest.fixture
def asn_dns(local_dns: Settings) -> Settings:
    settings = dataclasses.replace(local_dns, dns_asn_zone=ASN_ZONE)
    set_settings(settings)
    return settings


async def delegation(domain: str) -> dict[str, Any]:
    async with Client(mcp) as client:
        result = await client.call_tool("dns_delegation", {"domain": domain})
    assert not result.is_error
    return result.structured_content or {}


def ours(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in result["findings"] if f["code"] in OURS]


@pytest.mark.usefixtures("asn_dns")
async def test_nameservers_in_one_as_but_two_prefixes_are_a_warning() -> None:
    result = await delegation("asn-one.test")
    found = ours(result)
    assert [f["code"] for f in found] == ["nameservers_one_asn"], result["findings"]
    assert found[0]["severity"] == "warning"
    message = found[0]["message"]
    # the AS, both servers with their addresses and the announced (longest) prefixes
    assert "AS64500" in message and "AS64999" not in message, message
    assert f"ns.asn-dns.test. ({ADDRESS}, 127.0.25.0/24)" in message, message
    assert "ns1.dns.test. (127.0.1.1, 127.0.1.0/24)" in message, message
    assert "IPv4" in message
    # the /24 rule does not fire: only the AS rule does
    assert "nameservers_same_network" not in [f["code"] for f in result["findings"]]
    assert result["verdict"] == "warning"


@pytest.mark.usefixtures("asn_dns")
@pytest.mark.parametrize("zone", ["good.test", "good-knot.test", "good-nsd.test"])
async def test_healthy_zones_are_in_two_ases(zone: str) -> None:
    result = await delegation(zone)
    if result["verdict"] == "unknown":
        pytest.skip(f"{zone}: its implementation is not installed")
    assert ours(result) == [], result["findings"]
    assert result["verdict"] == "ok", result["findings"]


@pytest.mark.usefixtures("local_dns")
async def test_no_answer_from_the_as_service_says_nothing() -> None:
    # the default zone (asn.cymru.com) does not exist in the tree: NXDOMAIN for every address
    result = await delegation("asn-one.test")
    assert ours(result) == [], result["findings"]
    assert result["verdict"] == "ok", result["findings"]


async def test_the_lookup_can_be_turned_off(asn_dns: Settings) -> None:
    set_settings(dataclasses.replace(asn_dns, dns_asn_zone=""))
    result = await delegation("asn-one.test")
    assert ours(result) == [], result["findings"]


def test_lookup_names_follow_cymru() -> None:
    assert lookup_name("192.0.2.1", "asn.cymru.com") == "1.2.0.192.origin.asn.cymru.com."
    name = lookup_name("2001:db8::1", "asn.cymru.com.")
    assert name.startswith("1.0.0.0.") and name.endswith(".8.b.d.0.1.0.0.2.origin6.asn.cymru.com.")
    assert len(name.removesuffix(".origin6.asn.cymru.com.").split(".")) == 32


def test_the_longest_prefix_wins_and_junk_is_ignored() -> None:
    texts = ["64999 | 192.0.0.0/8 | ZZ", "64500 64501 | 192.0.2.0/24 | ZZ | arin | 2000-01-01", "no | data"]
    assert parse_origin(texts) == Origin((64500, 64501), "192.0.2.0/24")
    assert parse_origin(["not a record"]) is None
    assert parse_origin([]) is None


def test_the_same_set_of_ases_is_a_notice_per_family() -> None:
    moas = Origin((64500, 64501), "2001:db8::/32")
    origins = {
        "2001:db8::1": moas,
        "2001:db8:1::1": moas,
        "192.0.2.1": Origin((64500,), "192.0.2.0/24"),
        "198.51.100.1": Origin((64502,), "198.51.100.0/24"),
    }
    names = {address: [f"ns{i}.example."] for i, address in enumerate(origins)}
    findings = judge(origins, names)
    assert [(f.code, f.severity) for f in findings] == [("nameservers_same_asn_set", Verdict.OK)]
    assert "IPv6" in findings[0].message and "AS64500, AS64501" in findings[0].message
    assert "ns0.example. (2001:db8::1, 2001:db8::/32)" in findings[0].message


def test_the_setting_reads_a_zone_or_off() -> None:
    load = Settings.load
    assert load(environ={}).dns_asn_zone == "asn.cymru.com"
    assert load(environ={"MCP_MONITOR_DNS_ASN_ZONE": "ASN-DB.test."}).dns_asn_zone == "asn-db.test"
    assert load(environ={"MCP_MONITOR_DNS_ASN_ZONE": "off"}).dns_asn_zone == ""
    assert load(flags={"dns_asn_zone": "none"}).dns_asn_zone == ""
    with pytest.raises(ConfigError, match="MCP_MONITOR_DNS_ASN_ZONE='not a zone' is not valid"):
        load(environ={"MCP_MONITOR_DNS_ASN_ZONE": "not a zone"})


def test_a_family_with_an_address_of_unknown_origin_is_not_judged() -> None:
    one = Origin((64500,), "192.0.2.0/24")
    names = {"192.0.2.1": ["a.example."], "198.51.100.1": ["b.example."]}
    # b's origin is unknown: it may be in another AS, so nothing is said
    assert judge({"192.0.2.1": one}, names) == []
    both = judge({"192.0.2.1": one, "198.51.100.1": Origin((64500,), "198.51.100.0/24")}, names)
    assert [(f.code, f.severity) for f in both] == [("nameservers_one_asn", Verdict.WARNING)]
    assert "a.example. (192.0.2.1" in both[0].message and "b.example. (198.51.100.1" in both[0].message
