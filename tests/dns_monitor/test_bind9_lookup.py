"""Integration tier: dns_lookup, dns_propagation and reverse_dns against a real BIND9 hierarchy,
cross-checked against `dig` on the same servers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from dns_monitor.server import mcp
from mcp import Client
from monitor_common.config import Settings
from support.bind9 import ADDRESSES, CRAFTED, GOOD_WWW, STALE_WWW, Bind9, dig
from support.dns_server import DNSServer, drop

pytestmark = pytest.mark.usefixtures("local_dns")

NS1, NS2, RESOLVER, STALE = ADDRESSES["ns1"], ADDRESSES["ns2"], ADDRESSES["resolver"], ADDRESSES["stale"]


async def call(tool: str, **arguments: Any) -> dict[str, Any]:
    async with Client(mcp) as client:
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def codes(result: dict[str, Any]) -> list[str]:
    return sorted(f["code"] for f in result["findings"])


def dig_answer(server: str, name: str, rdtype: str, *options: str) -> tuple[str, set[str], set[str]]:
    """(status, flags, answer values) as dig reports them."""
    out = dig(f"@{server}", name, rdtype, "+noall", "+comments", "+answer", *options)
    status = re.search(r"status: (\w+)", out)
    flags = re.search(r"flags: ([a-z ]+);", out)
    assert status and flags, out
    values = {
        line.split(None, 4)[4]
        for line in out.splitlines()
        if line and not line.startswith(";") and line.split()[3] == rdtype
    }
    return status.group(1), set(flags.group(1).split()), values


@pytest.mark.parametrize(
    ("server", "name", "rdtype", "options"),
    [
        (NS1, "www.good.test", "A", ["+norec"]),
        (NS2, "www.good.test", "AAAA", ["+norec"]),
        (NS1, "good.test", "MX", ["+norec"]),
        (NS1, "good.test", "TXT", ["+norec"]),
        (NS1, "nope.good.test", "A", ["+norec"]),
        (NS1, "www.good.test", "MX", ["+norec"]),
        (ADDRESSES["ns3"], "www.lame.test", "A", ["+norec"]),
        (RESOLVER, "www.good.test", "A", []),
        (RESOLVER, "alias.good.test", "A", []),
        (RESOLVER, "www.expired.test", "A", []),
        (RESOLVER, "www.badds.test", "A", []),
    ],
)
async def test_answers_match_dig(server: str, name: str, rdtype: str, options: list[str]) -> None:
    status, flags, values = dig_answer(server, name, rdtype, *options)
    result = await call(
        "dns_lookup", name=name, record_types=[rdtype], server=server, recursion="+norec" not in options
    )
    (lookup,) = result["lookups"]
    assert lookup["rcode"] == status
    ours = {flag for flag in ("aa", "rd", "ra", "ad") if lookup["flags"][flag]}
    assert ours == flags & {"aa", "rd", "ra", "ad"}
    assert {a["value"] for a in lookup["answers"] if a["type"] == rdtype} == values


async def test_healthy_signed_zone_through_the_validating_resolver() -> None:
    result = await call(
        "dns_lookup", name="www.good.test", record_types=["A", "AAAA"], server=RESOLVER, dnssec=True
    )
    assert result["verdict"] == "ok"
    by_type = {lk["record_type"]: lk for lk in result["lookups"]}
    assert by_type["A"]["flags"]["ad"] and by_type["AAAA"]["flags"]["ad"]
    assert {a["value"] for a in result["answers"] if a["type"] == "A"} == {GOOD_WWW}
    assert any(a["type"] == "RRSIG" for a in result["answers"])  # the DO bit brought the signatures


@pytest.mark.parametrize("name", ["www.expired.test", "www.badds.test"])
async def test_broken_dnssec_is_servfail_from_a_validating_resolver(name: str) -> None:
    # (BIND 9.18 attaches no extended error here; the unit tier covers their reporting.)
    result = await call("dns_lookup", name=name, server=RESOLVER)
    assert result["verdict"] == "critical" and codes(result) == ["servfail"]
    assert result["lookups"][0]["flags"]["ad"] is False


async def test_nxdomain_and_nodata_carry_the_zone_soa() -> None:
    result = await call("dns_lookup", name="nope.good.test", record_types=["A"], server=NS1, recursion=False)
    assert codes(result) == ["nxdomain"]
    assert result["lookups"][0]["soa"]["name"] == "good.test."
    assert result["lookups"][0]["soa"]["value"].split()[2] == "2026112601"
    result = await call("dns_lookup", name="www.good.test", record_types=["MX"], server=NS1, recursion=False)
    assert codes(result) == ["nodata"]
    assert result["lookups"][0]["soa"]["name"] == "good.test."


async def test_lame_server_refuses() -> None:
    result = await call("dns_lookup", name="www.lame.test", server=ADDRESSES["ns3"], recursion=False)
    assert codes(result) == ["refused"]


async def test_tcp_transport_against_bind() -> None:
    result = await call("dns_lookup", name="www.good.test", server=NS1, transport="tcp", recursion=False)
    assert result["lookups"][0]["transport"] == "tcp" and result["verdict"] == "ok"


async def test_propagation_finds_the_stale_resolver_and_the_silent_one(local_dns: Settings) -> None:
    with DNSServer(drop) as silent:
        result = await call(
            "dns_propagation",
            name="www.good.test",
            resolvers=[RESOLVER, NS1, NS2, STALE, f"127.0.0.1:{silent.port}"],
            timeout_s=1.5,
        )
    assert result["verdict"] == "warning"
    assert codes(result) == ["propagation_incomplete", "resolver_disagrees", "resolver_unreachable"]
    assert result["outliers"] == [f"{STALE}:53"]
    # The authoritative servers were found through the resolver and asked too.
    authoritative = {a["server"] for a in result["answers"] if a["kind"] == "authoritative"}
    assert authoritative == {f"{NS1}:53", f"{NS2}:53"}
    main = result["groups"][0]
    assert main["values"] == [GOOD_WWW] and len(main["servers"]) == 5
    assert result["agreement_percent"] == pytest.approx(100 * 5 / 6, abs=0.1)
    assert result["stale_within_s"] == 300
    stale = next(a for a in result["answers"] if a["server"] == f"{STALE}:53")
    assert stale["values"] == [STALE_WWW]


async def test_propagation_expected_answer_and_disagreeing_authoritatives() -> None:
    result = await call(
        "dns_propagation", name="www.serial.test", resolvers=[RESOLVER], expected=["192.0.2.42"]
    )
    assert "authoritative_disagree" in codes(result)
    auth = {a["server"]: a["values"] for a in result["answers"] if a["kind"] == "authoritative"}
    assert auth == {f"{NS1}:53": ["192.0.2.41"], f"{NS2}:53": ["192.0.2.42"]}


async def test_propagation_all_agree() -> None:
    result = await call("dns_propagation", name="www.good.test", resolvers=[RESOLVER, NS1, NS2])
    assert result["verdict"] == "ok" and result["agreement_percent"] == 100
    assert result["outliers"] == []


async def test_reverse_dns_confirms_forward() -> None:
    result = await call("reverse_dns", target=GOOD_WWW, server=RESOLVER)
    assert result["verdict"] == "ok"
    (entry,) = result["entries"]
    assert entry["names"] == ["www.good.test."] and entry["confirmed"] == ["www.good.test."]
    assert entry["ptr_name"] == "10.2.0.192.in-addr.arpa."
    assert dig(f"@{RESOLVER}", "-x", GOOD_WWW, "+short").strip() == "www.good.test."


async def test_reverse_dns_of_a_host_name_checks_every_address() -> None:
    result = await call("reverse_dns", target="mx.good.test", server=RESOLVER)
    assert result["verdict"] == "ok"
    assert [e["address"] for e in result["entries"]] == ["192.0.2.25"]


async def test_reverse_dns_without_forward_confirmation() -> None:
    result = await call("reverse_dns", target=STALE_WWW, server=RESOLVER)
    assert codes(result) == ["fcrdns_mismatch"]
    assert result["entries"][0]["names"] == ["nowhere.good.test."]


async def test_reverse_dns_missing_ptr() -> None:
    result = await call("reverse_dns", target="192.0.2.77", server=RESOLVER)
    assert codes(result) == ["ptr_missing"]


def test_bind9_is_the_one_answering(bind9: Bind9) -> None:
    # Guards the tier against a stray server on the same addresses: the root key is ours.
    status, _, values = dig_answer(ADDRESSES["root"], ".", "DNSKEY", "+norec")
    assert status == "NOERROR"
    assert bind9.root_ds.split()[3] in dig(f"@{ADDRESSES['root']}", ".", "DNSKEY", "+norec", "+multi")
    assert values


@pytest.mark.parametrize(("server", "recursion"), [(NS1, False), (RESOLVER, True)])
async def test_a_cname_loop_is_named_with_its_chain(server: str, recursion: bool) -> None:
    # loop.test: a -> b -> c -> a. BIND answers SERVFAIL either way (with the chain from the
    # authoritative server, with nothing from the resolver).
    status, _, _ = dig_answer(server, "a.loop.test", "A", *([] if recursion else ["+norec"]))
    assert status == "SERVFAIL"
    result = await call("dns_lookup", name="a.loop.test", server=server, recursion=recursion)
    assert result["verdict"] == "critical" and codes(result) == ["cname_loop"]
    (finding,) = result["findings"]
    assert "CNAME loop: a.loop.test. -> b.loop.test. -> c.loop.test. -> a.loop.test." in finding["message"]
    assert "publish" not in finding["hint"]


async def test_a_cname_beside_the_apex_soa_is_critical_in_dns_lookup() -> None:
    result = await call(
        "dns_lookup", name="apexcname.test", record_types=["SOA", "CNAME"], server=CRAFTED, recursion=False
    )
    assert result["verdict"] == "critical" and codes(result) == ["cname_at_apex"]
    assert "apexcname.test. has a CNAME beside SOA" in result["findings"][0]["message"]
