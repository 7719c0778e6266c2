"""Integration tier: the delegation's addresses and referral (dns_monitor.referral) on the local
BIND9 tree's ref- zones (tests/support/tree_referral.py)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from dns_monitor.referral import UDP_LIMIT, referral_size
from monitor_common.config import Settings, set_settings
from support.bind9 import Bind9
from support.dns_tools import delegation
from support.dns_tools import only as finding
from support.tree_referral import ADDRESSES, BIG_NAMES, PRIVATE

pytestmark = pytest.mark.usefixtures("local_dns")


def codes(result: dict[str, Any]) -> list[str]:
    return sorted(f["code"] for f in result["findings"])


# The codes of dns_monitor.referral (BASIC03 adds no code of its own).
OURS = {
    "ns_address_shared",
    "referral_too_large",
    "ns_is_cname",
    "nameserver_address_special",
    "ptr_missing",
    "ns_ptr_mismatch",
    "nameservers_share_prefix",
}


@pytest.mark.parametrize("zone", ["good.test", "ref-good.test", "good-knot.test", "good-nsd.test"])
async def test_healthy_zones_get_no_referral_or_address_finding(bind9: Bind9, zone: str) -> None:
    # ref-good.test: ns.ref-dns.test's address has a PTR naming it (the reverse is judged);
    # the good zones: no reverse zone for their loopback addresses (not judged), every address
    # in the network the policy names (not flagged), served by BIND9, Knot and NSD.
    implementation = zone.removeprefix("good-").removesuffix(".test")
    if implementation in bind9.unavailable:
        pytest.skip(bind9.unavailable[implementation])
    result = await delegation(zone)
    assert result["verdict"] == "ok", result["findings"]
    assert OURS.isdisjoint(codes(result))


async def test_two_names_on_one_address_are_one_server() -> None:
    result = await delegation("ref-sameip.test")
    shared = finding(result, "ns_address_shared")
    assert shared["severity"] == "warning" and result["verdict"] == "warning"
    assert f"{ADDRESSES['sameip']} (ns-a.ref-sameip.test., ns-b.ref-sameip.test.)" in shared["message"]
    # ns-b's address has a PTR, for ns-a: a notice
    mismatch = finding(result, "ns_ptr_mismatch")
    assert mismatch["severity"] == "ok" and "ns-b.ref-sameip.test." in mismatch["message"]
    assert "ns-a.ref-sameip.test. (" not in mismatch["message"]


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        # an NS name in another zone, resolved from the root hints
        ("ref-nscname.test", "ns.ref-cnames.test. -> ns.ref-dns.test. (from 127.0.22.1)"),
        # an NS name inside the zone, asked of the zone's own servers
        ("ref-nsalias.test", "alias.ref-nsalias.test. -> ns2.ref-crafted.test. (at 127.0.22."),
    ],
)
async def test_ns_names_that_are_cnames(zone: str, shown: str) -> None:
    result = await delegation(zone)
    cname = finding(result, "ns_is_cname")
    assert cname["severity"] == "critical" and shown in cname["message"]
    assert cname["message"].count(" -> ") == 1  # the other NS names are host names


async def test_referral_above_512_bytes() -> None:
    result = await delegation("ref-bigreferral.test")
    big = finding(result, "referral_too_large")
    assert big["severity"] == "warning"
    size = referral_size("ref-bigreferral.test.", BIG_NAMES, {BIG_NAMES[0]: ["127.0.22.10"]}, "test.")
    assert size > UDP_LIMIT and f"takes {size} bytes" in big["message"]
    assert "8 NS names, 8 with glue" in big["message"]


async def test_reverse_of_nameserver_addresses() -> None:
    result = await delegation("ref-ptr.test")
    assert result["verdict"] == "ok"
    missing = finding(result, "ptr_missing")
    assert missing["severity"] == "ok" and f"{ADDRESSES['ptr-b']} (ns-b.ref-ptr.test.)" in missing["message"]
    mismatch = finding(result, "ns_ptr_mismatch")
    assert "ns-a.ref-ptr.test. (127.0.22.5 -> other.ref-dns.test.)" in mismatch["message"]
    # ns1.dns.test's loopback address has no reverse zone at all: not judged
    assert "127.0.1.1" not in missing["message"] + mismatch["message"]


async def test_a_dead_reverse_server_is_not_a_missing_ptr() -> None:
    # 9.22.0.127.in-addr.arpa is delegated to an address where nothing listens: the PTR of
    # ns.ref-deadptr.test is unknown, not missing, and the zone is not blamed for it
    result = await delegation("ref-deadptr.test")
    assert result["verdict"] == "ok", result["findings"]
    assert OURS.isdisjoint(codes(result))


async def test_private_nameserver_address_outside_the_allowed_networks() -> None:
    result = await delegation("ref-private.test")
    special = finding(result, "nameserver_address_special")
    assert special["severity"] == "critical"
    assert f"ns.ref-private.test. ({PRIVATE}, private)" in special["message"]
    # the allowed loopback nameserver is not flagged, and the private one was never asked
    assert "ns1.dns.test." not in special["message"]
    assert "nameserver_not_asked" in codes(result)


async def test_loopback_nameservers_are_flagged_when_allowed_only_by_allow_private(bind9: Bind9) -> None:
    set_settings(
        Settings(allow_private=True, dns_root_hints=bind9.root_hints, dns_trust_anchors=bind9.trust_anchors)
    )
    result = await delegation("good.test")
    special = finding(result, "nameserver_address_special")
    assert special["severity"] == "critical" and result["verdict"] == "critical"
    assert "ns1.dns.test. (127.0.1.1, loopback)" in special["message"]
    assert "ns2.dns.test. (127.0.2.1, loopback)" in special["message"]
    # the same tree with the loopback network named: nothing
    set_settings(
        Settings(
            allow_private=True,
            allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
            dns_root_hints=bind9.root_hints,
            dns_trust_anchors=bind9.trust_anchors,
        )
    )
    assert "nameserver_address_special" not in codes(await delegation("good.test"))


async def test_www_answered_where_the_zone_is_not_is_told_in_the_lame_finding() -> None:
    result = await delegation("ref-wwwonly.test")
    lame = finding(result, "lame_delegation")
    assert lame["severity"] == "critical"
    assert (
        "www.ref-wwwonly.test. A is answered (127.0.22.3: 192.0.2.127; 127.0.22.4: 192.0.2.127)"
        in lame["message"]
    )


async def test_lame_finding_without_www_answer_is_unchanged() -> None:
    # lame.test: ns1 serves it, so the www question is never asked
    result = await delegation("lame.test")
    assert "www." not in finding(result, "lame_delegation")["message"]
