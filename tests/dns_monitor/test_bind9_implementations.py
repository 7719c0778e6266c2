"""Integration tier on three implementations: the same delegation, DNSSEC and lookup checks
against zones served by BIND9, Knot DNS and NSD (support/bind9.py, support/authoritative.py),
cross-checked against dig on the same servers."""

from __future__ import annotations

from typing import Any

import pytest
from dns_monitor.server import mcp
from mcp import Client
from support.bind9 import IMPLEMENTATIONS, Bind9, Implementation, dig

pytestmark = pytest.mark.usefixtures("local_dns")


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def impl(request: pytest.FixtureRequest, bind9: Bind9) -> Implementation:
    name: str = request.param
    if name in bind9.unavailable:
        pytest.skip(f"{name}: {bind9.unavailable[name]}")
    return IMPLEMENTATIONS[name]


async def call(tool: str, **arguments: Any) -> dict[str, Any]:
    async with Client(mcp) as client:
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def codes(result: dict[str, Any]) -> list[str]:
    return sorted(f["code"] for f in result["findings"])


async def test_healthy_zone_delegation(impl: Implementation) -> None:
    zone = f"good-{impl.name}.test."
    result = await call("dns_delegation", domain=zone)
    assert result["verdict"] == "ok", result["findings"]
    names = [name for name, _ in impl.servers]
    assert result["parent_ns"] == result["child_ns"] == names
    by_name = {ns["name"]: ns for ns in result["nameservers"]}
    for name, address in impl.servers:
        ns = by_name[name]
        assert ns["addresses"] == [address]
        assert ns["authoritative"] and ns["udp_ok"] and ns["tcp_ok"]
        assert ns["soa_serial"] == 2026120601
        # The serial dig reads from the same server, over TCP too.
        for transport in ("+notcp", "+tcp"):
            assert dig(f"@{address}", zone, "SOA", "+short", "+norec", transport).split()[2] == "2026120601"


async def test_healthy_signed_zone_is_secure(impl: Implementation) -> None:
    zone = f"good-{impl.name}.test."
    result = await call("dnssec_check", domain=f"www.{zone}")
    assert result["verdict"] == "ok", result["findings"]
    assert result["status"] == "secure" and result["broken_link"] is None
    assert [link["zone"] for link in result["chain"]] == [".", "test.", zone]
    assert result["denial"] == "nsec" and result["algorithms"] == ["ECDSAP256SHA256"]


async def test_lookup_answers_match_dig(impl: Implementation) -> None:
    (_, address), _ = impl.servers
    zone = f"good-{impl.name}.test."
    result = await call(
        "dns_lookup", name=f"www.{zone}", record_types=["A", "AAAA"], server=address, recursion=False
    )
    assert result["verdict"] == "ok"
    by_type = {lk["record_type"]: lk for lk in result["lookups"]}
    for rdtype in ("A", "AAAA"):
        shown = set(dig(f"@{address}", f"www.{zone}", rdtype, "+short", "+norec").split())
        assert {a["value"] for a in by_type[rdtype]["answers"] if a["type"] == rdtype} == shown
        assert by_type[rdtype]["flags"]["aa"]
    missing = await call("dns_lookup", name=f"nope.{zone}", server=address, recursion=False)
    assert codes(missing) == ["nxdomain"] and missing["lookups"][0]["soa"]["name"] == zone


async def test_lame_delegation(impl: Implementation) -> None:
    # lame-IMPL.test: ns1 (BIND9) serves it; a server of IMPL is listed too but serves nothing of it.
    lame_name, lame_address = impl.lame
    assert dig(f"@{lame_address}", f"lame-{impl.name}.test", "SOA", "+norec", "+noall", "+comments").count(
        "status: REFUSED"
    )
    result = await call("dns_delegation", domain=f"lame-{impl.name}.test")
    assert result["verdict"] == "critical"
    (lame,) = [f for f in result["findings"] if f["code"] == "lame_delegation"]
    assert f"{lame_name} ({lame_address})" in lame["message"] and "ns1.dns.test." not in lame["message"]


async def test_ns_set_differs_between_parent_and_zone(impl: Implementation) -> None:
    (first, _), (second, _) = impl.servers
    result = await call("dns_delegation", domain=f"nsdiff-{impl.name}.test")
    assert result["verdict"] == "warning"
    assert codes(result) == ["ns_mismatch_parent_child", "single_nameserver"]
    assert result["parent_ns"] == [first, second] and result["child_ns"] == [first]
    by_code = {f["code"]: f["message"] for f in result["findings"]}
    assert f"only at the parent ['{second}']" in by_code["ns_mismatch_parent_child"]
    # The zone's own NS set names one server (Zonemaster's NOT_ENOUGH_NS_CHILD).
    assert by_code["single_nameserver"].endswith("only one nameserver in its NS set in the zone")
