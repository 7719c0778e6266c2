"""Integration tier: dns_delegation walks the local BIND9 hierarchy from its root hints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dns_monitor.server import mcp
from mcp import Client
from monitor_common.config import Settings, set_settings
from support.bind9 import ADDRESSES, DEAD_NS, dig

pytestmark = pytest.mark.usefixtures("local_dns")


async def delegation(domain: str, **extra: Any) -> tuple[bool, dict[str, Any], str]:
    async with Client(mcp) as client:
        result = await client.call_tool("dns_delegation", {"domain": domain, **extra})
    text = " ".join(c.text for c in result.content if c.type == "text")
    return result.is_error, result.structured_content or {}, text


def codes(result: dict[str, Any]) -> list[str]:
    return sorted({f["code"] for f in result["findings"]})


async def test_healthy_delegation() -> None:
    _, result, _ = await delegation("good.test")
    assert result["verdict"] == "ok", result["findings"]
    assert result["parent_zone"] == "test."
    assert result["parent_servers"] == [ADDRESSES["tld"]]
    assert result["parent_ns"] == result["child_ns"] == ["ns1.dns.test.", "ns2.dns.test."]
    by_name = {ns["name"]: ns for ns in result["nameservers"]}
    assert by_name["ns1.dns.test."]["addresses"] == [ADDRESSES["ns1"]]
    for ns in by_name.values():
        assert ns["authoritative"] and ns["udp_ok"] and ns["tcp_ok"]
        assert ns["soa_serial"] == 2026112601
    # The same NS set and serial as dig reports from each server.
    for address in (ADDRESSES["ns1"], ADDRESSES["ns2"]):
        assert dig(f"@{address}", "good.test", "SOA", "+short", "+norec").split()[2] == "2026112601"
    assert sorted(
        dig(f"@{ADDRESSES['tld']}", "good.test", "NS", "+norec", "+noall", "+authority").split()[4::5]
    ) == [
        "ns1.dns.test.",
        "ns2.dns.test.",
    ]


async def test_lame_nameserver() -> None:
    _, result, _ = await delegation("lame.test")
    assert result["verdict"] == "critical"
    assert "lame_delegation" in codes(result)
    lame = next(f for f in result["findings"] if f["code"] == "lame_delegation")
    assert "ns3.dns.test." in lame["message"]


async def test_nameservers_with_different_serials() -> None:
    _, result, _ = await delegation("serial.test")
    assert codes(result) == ["soa_serial_mismatch"]
    assert {ns["soa_serial"] for ns in result["nameservers"]} == {1, 2}


async def test_missing_glue_and_ns_set_mismatch() -> None:
    _, result, _ = await delegation("noglue.test")
    assert "glue_missing" in codes(result)
    names = {ns["name"]: ns for ns in result["nameservers"]}
    # The name without glue is still found through the other nameserver, which serves the zone.
    assert names["ns1.noglue.test."]["glue"] == [] and names["ns1.noglue.test."]["addresses"] == [
        ADDRESSES["ns1"]
    ]


async def test_nameserver_without_tcp() -> None:
    _, result, _ = await delegation("notcp.test", timeout_s=8)
    assert codes(result) == ["ns_no_tcp"]
    ns4 = next(ns for ns in result["nameservers"] if ns["name"] == "ns4.dns.test.")
    assert ns4["udp_ok"] is True and ns4["tcp_ok"] is False


async def test_unknown_domain_is_not_delegated() -> None:
    _, result, _ = await delegation("missing.test")
    assert result["verdict"] == "critical" and codes(result) == ["not_delegated"]


async def test_name_inside_a_zone_is_not_a_delegation() -> None:
    _, result, _ = await delegation("www.good.test")
    assert codes(result) == ["not_delegated"] and "part of good.test." in result["findings"][0]["message"]


async def test_nameserver_addresses_found_in_the_walk_pass_the_policy(local_dns: Settings) -> None:
    # Only the root is allowed: every address the walk finds below it is refused, before any packet.
    import ipaddress

    set_settings(local_dns.replace(allow_networks=(ipaddress.ip_network("127.0.0.10/32"),)))
    _, result, _ = await delegation("good.test", timeout_s=3)
    assert "nameserver_not_asked" in codes(result)
    assert result["verdict"] in {"unknown", "critical"}


async def test_glue_that_differs_from_the_zone() -> None:
    _, result, _ = await delegation("gluebad.test")
    assert "glue_mismatch" in codes(result) and "single_nameserver" in codes(result)
    (ns,) = result["nameservers"]
    assert ns["glue"] == [ADDRESSES["ns1"]]


async def test_authoritative_server_with_open_recursion() -> None:
    _, result, _ = await delegation("openrec.test")
    assert "open_recursion" in codes(result)
    assert result["nameservers"][0]["authoritative"] is True


async def test_a_nameserver_nothing_answers_on_is_the_zones_fault() -> None:
    # ns6 is a closed port on loopback while ns1 answers: the zone has a dead nameserver. Its
    # queries fail, but not for want of a route, so this is not the monitor's outage.
    _, result, _ = await delegation("deadns.test")
    assert result["verdict"] == "critical"
    assert "ns_unreachable" in codes(result) and "monitor_network_unavailable" not in codes(result)
    dead = next(ns for ns in result["nameservers"] if ns["name"] == "ns6.dns.test.")
    assert dead["addresses"] == [DEAD_NS] and dead["udp_ok"] is False and dead["tcp_ok"] is False


async def test_a_root_nothing_answers_on_is_not_the_monitors_outage(
    local_dns: Settings, tmp_path: Path
) -> None:
    # Nothing answered at all, but the queries left this machine: the walk could not be
    # followed (unknown), and nothing says the monitor's network is down.
    hints = tmp_path / "dead-root.hints"
    hints.write_text(f". 3600 NS a.root.dead.\na.root.dead. 3600 A {DEAD_NS}\n")
    set_settings(local_dns.replace(dns_root_hints=hints))
    _, result, _ = await delegation("good.test", timeout_s=3)
    assert result["verdict"] == "unknown" and codes(result) == ["delegation_unreachable"]


async def test_cname_beside_the_apex_soa_and_ns_is_critical() -> None:
    # ns7 serves SOA, NS and a CNAME at the apex of apexcname.test (BIND would refuse the zone).
    _, result, _ = await delegation("apexcname.test")
    assert result["verdict"] == "critical"
    (apex,) = [f for f in result["findings"] if f["code"] == "cname_at_apex"]
    assert apex["severity"] == "critical"
    assert "beside its SOA and NS at ns7.dns.test." in apex["message"] and "www.good.test." in apex["message"]
    assert "RFC 1034" in apex["message"]


async def test_cname_instead_of_the_apex_soa_and_ns_is_critical() -> None:
    _, result, _ = await delegation("apexonly.test")
    assert result["verdict"] == "critical"
    (apex,) = [f for f in result["findings"] if f["code"] == "cname_at_apex"]
    assert "instead of its SOA and NS at ns7.dns.test." in apex["message"]


async def test_a_fault_of_several_nameservers_is_one_finding_listing_them() -> None:
    # lame2.test: ns3 refuses, ns8 (the stale server) serves only good.test; ns1 is fine.
    _, result, _ = await delegation("lame2.test")
    lame = [f for f in result["findings"] if f["code"] == "lame_delegation"]
    assert len(lame) == 1, lame
    assert f"ns3.dns.test. ({ADDRESSES['ns3']})" in lame[0]["message"]
    assert f"ns8.dns.test. ({ADDRESSES['stale']})" in lame[0]["message"]
    assert "ns1.dns.test." not in lame[0]["message"]
    assert len(result["findings"]) == len({f["code"] for f in result["findings"]})
