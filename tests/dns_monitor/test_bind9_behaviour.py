"""Integration tier: how each nameserver behaves (dns_monitor.behaviour, Zonemaster's
NAMESERVER02-05 and 07-15), on the zones of tests/support/tree_behaviour.py: one hand-made server
per fault beside the healthy BIND9 ns1, and BIND9, Knot and NSD for the healthy zones."""

from __future__ import annotations

from typing import Any

import pytest
from dns_monitor.behaviour import nameserver_behaviour
from support.bind9 import IMPLEMENTATIONS, Bind9
from support.dns_tools import delegation
from support.tree_behaviour import VERSION

pytestmark = pytest.mark.usefixtures("local_dns")

OURS = {
    "edns_unsupported",
    "edns_version_mishandled",
    "edns_option_mishandled",
    "edns_flags_mishandled",
    "edns_truncated_without_opt",
    "aaaa_mishandled",
    "upward_referral",
    "qname_case_not_preserved",
    "qname_case_answers_differ",
    "axfr_open",
    "answer_from_other_address",
    "opcode_mishandled",
    "version_banner",
}


def behaviour_findings(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = [f for f in result["findings"] if f["code"] in OURS]
    by_code = {f["code"]: f for f in found}
    assert len(by_code) == len(found), f"a fault reported more than once: {found}"
    return by_code


def test_the_module_names_its_check() -> None:
    from dns_monitor.delegation import CHECKS

    assert nameserver_behaviour in CHECKS


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
async def test_healthy_servers_behave(bind9: Bind9, impl: str) -> None:
    if impl in bind9.unavailable:
        pytest.skip(f"{impl}: {bind9.unavailable[impl]}")
    zone = "good.test" if impl == "bind9" else f"good-{impl}.test"
    result = await delegation(zone)
    assert behaviour_findings(result) == {}
    assert result["verdict"] == "ok", result["findings"]


# zone -> the codes of this module its one misbehaving server raises, with their severity, and
# what the message must say about it beside its name and address
FAULTS: dict[str, tuple[dict[str, str], str]] = {
    "ns-noedns.test": ({"edns_unsupported": "critical"}, "FORMERR without OPT record"),
    "ns-badvers.test": ({"edns_version_mishandled": "warning"}, "NOERROR instead of BADVERS with the SOA"),
    "ns-ednsopt.test": (
        {"edns_option_mishandled": "warning", "edns_version_mishandled": "warning"},
        "the unknown option 137 is echoed",
    ),
    "ns-ednsflags.test": ({"edns_flags_mishandled": "warning"}, "Z flags come back set (0x0003)"),
    "ns-tcnoopt.test": ({"edns_truncated_without_opt": "warning"}, "truncated answer (TC) without OPT"),
    "ns-noaaaa.test": ({"aaaa_mishandled": "critical"}, "no answer"),
    "ns-upward.test": ({"upward_referral": "warning"}, "NS records for . in the authority section"),
    "ns-case.test": ({"qname_case_not_preserved": "warning"}, "the answer's question is ns-case.test."),
    "ns-casediff.test": ({"qname_case_answers_differ": "critical"}, "NOERROR vs NXDOMAIN"),
    "ns-srcaddr.test": ({"answer_from_other_address": "warning"}, "the UDP answer comes from 127.0.20.99"),
    "ns-opcode.test": ({"opcode_mishandled": "warning"}, "NOERROR with the records of a query to opcode 15"),
}


@pytest.mark.parametrize("zone", sorted(FAULTS))
async def test_each_misbehaving_server_is_named_once(zone: str) -> None:
    expected, detail = FAULTS[zone]
    label = zone.removesuffix(".test")
    result = await delegation(zone)
    found = behaviour_findings(result)
    assert {code: f["severity"] for code, f in found.items()} == expected
    server = f"{label}.dns.test. ({'127.0.20.'}"
    for finding in found.values():
        assert server in finding["message"]
        assert "ns1.dns.test." not in finding["message"]  # the healthy BIND9 server beside it
        assert finding["hint"]
    assert any(detail in f["message"] for f in found.values()), found
    # one fault: nothing else of the delegation is wrong (a server EDNS breaks is not also lame)
    others = sorted({f["code"] for f in result["findings"]} - OURS)
    assert others == []


async def test_a_server_silent_over_udp_is_named_once_and_a_misdirected_one_not_twice() -> None:
    result = await delegation("ns-noudp.test")
    found = {f["code"]: f for f in result["findings"]}
    assert found["ns_no_udp"]["severity"] == "critical"
    assert "ns-noudp.dns.test. (127.0.20.14)" in found["ns_no_udp"]["message"]
    assert "ns1.dns.test." not in found["ns_no_udp"]["message"]
    assert {"ns_unreachable", "lame_delegation"}.isdisjoint(found)
    # ns-srcaddr's UDP answers do come, from another address: that finding, not ns_no_udp too
    srcaddr = {f["code"] for f in (await delegation("ns-srcaddr.test"))["findings"]}
    assert "answer_from_other_address" in srcaddr and "ns_no_udp" not in srcaddr


async def test_edns_failure_is_told_apart_from_a_lame_server() -> None:
    edns = behaviour_findings(await delegation("ns-noedns.test"))["edns_unsupported"]
    assert "answers without EDNS, but FORMERR without OPT record" in edns["message"]
    lame_result = await delegation("lame.test")
    assert behaviour_findings(lame_result) == {}  # ns3 refuses the zone with or without EDNS
    assert "lame_delegation" in {f["code"] for f in lame_result["findings"]}


async def test_open_zone_transfer_names_the_server_that_allows_it() -> None:
    found = behaviour_findings(await delegation("ns-axfr.test"))
    assert set(found) == {"axfr_open"}
    axfr = found["axfr_open"]
    assert axfr["severity"] == "warning"
    assert "ns1.dns.test. (127.0.1.1)" in axfr["message"] and "ns2.dns.test." not in axfr["message"]


async def test_software_version_is_a_notice_naming_what_was_disclosed() -> None:
    result = await delegation("ns-version.test")
    found = behaviour_findings(result)
    assert set(found) == {"version_banner"}
    banner = found["version_banner"]
    assert banner["severity"] == "ok" and result["verdict"] == "ok"
    # one finding for both servers, each with what it told
    assert (
        f'ns-version.dns.test. (127.0.20.11) id.server "ns-version-1", version.server "{VERSION}"'
        in (banner["message"])
    )
    assert f'ns-version2.dns.test. (127.0.20.12) version.bind "{VERSION}"' in banner["message"]
    assert "ns1.dns.test." not in banner["message"]  # hardened: tells nothing
