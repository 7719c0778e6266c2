"""dns_delegation on the zone's content (dns_monitor.zone_content): the SOA, the NS sets and the
names in them, against the zc- zones of tests/support/tree_zonecontent.py on the local BIND9 tree
(and a hand-made server for what BIND will not serve), cross-checked with dig."""

from __future__ import annotations

import ipaddress
from typing import Any, cast

import dns.flags
import dns.message
import dns.rrset
import pytest
from dns_monitor.survey import Survey
from dns_monitor.walk import ZoneStep
from dns_monitor.zone_content import host_name_faults, judge, rname_faults
from monitor_common.config import Settings, set_settings
from monitor_common.results import Finding, Verdict
from support.bind9 import ADDRESSES as TREE
from support.bind9 import IMPLEMENTATIONS, Bind9, dig
from support.dns_tools import delegation
from support.dns_tools import only as finding
from support.tree_zonecontent import ADDRESSES

ZONE = "z.test."


def survey(
    parent: list[str], soas: dict[tuple[str, str], str], ns: dict[tuple[str, str], list[str]]
) -> Survey:
    """A survey of z.test. as dns_delegation would hand it over: the parent's NS names, and each
    (nameserver, address)'s authoritative answers to the apex SOA (rdata text) and NS."""

    def answer(rdtype: str, *rdatas: str) -> dns.message.Message:
        response = dns.message.make_response(dns.message.make_query(ZONE, rdtype))
        response.flags |= dns.flags.AA
        if rdatas:
            response.answer.append(dns.rrset.from_text(ZONE, 300, "IN", rdtype, *rdatas))
        return response

    found = Survey(
        zone=ZONE,
        walker=cast("Any", None),  # the judgements ask nothing
        step=ZoneStep(ZONE, parent, {}, []),
        servers={},
        child_ns=sorted({n for names in ns.values() for n in names}),
    )
    for (name, address), text in soas.items():
        found.soa.setdefault(name, {})[address] = answer("SOA", *([text] if text else []))
    for (name, address), names in ns.items():
        found.ns.setdefault(name, {})[address] = answer("NS", *names)
    return found


def judged(found: Survey) -> dict[str, Finding]:
    findings = judge(found)
    assert len({f.code for f in findings}) == len(findings)  # one finding per fault
    return {f.code: f for f in findings}


A, B = ("ns1.z.test.", "192.0.2.1"), ("ns2.z.test.", "192.0.2.2")
GOOD = "ns1.z.test. hostmaster.z.test. 1 14400 3600 604800 300"


def test_a_healthy_zone_is_judged_without_findings() -> None:
    names = ["ns1.z.test.", "ns2.z.test."]
    assert judge(survey(names, {A: GOOD, B: GOOD}, {A: names, B: names})) == []


def test_values_that_differ_are_shown_per_server() -> None:
    other = "ns1.z.test. hostmaster.z.test. 1 7200 3600 604800 300"
    found = judged(survey(["ns1.z.test.", "ns2.z.test."], {A: GOOD, B: other}, {}))
    assert set(found) == {"soa_refresh_low", "soa_timers_mismatch"}
    assert "7200 s" in found["soa_refresh_low"].message and "192.0.2.2" in found["soa_refresh_low"].message
    assert "192.0.2.1" not in found["soa_refresh_low"].message  # only the server that serves it
    timers = found["soa_timers_mismatch"].message
    assert (
        "14400/3600/604800/300 at ns1.z.test. (192.0.2.1)" in timers
        and "7200/3600/604800/300 at ns2" in timers
    )


def test_an_empty_authoritative_answer_is_a_missing_soa() -> None:
    found = judged(survey(["ns1.z.test.", "ns2.z.test."], {A: GOOD, B: ""}, {}))
    assert set(found) == {"soa_missing"} and found["soa_missing"].severity == Verdict.CRITICAL
    assert (
        "ns2.z.test. (192.0.2.2)" in found["soa_missing"].message
        and "192.0.2.1" not in found["soa_missing"].message
    )


@pytest.mark.parametrize(
    ("names", "severity"),
    [
        (["ns1.z.test.", "ab--c.z.test."], Verdict.WARNING),  # only a reserved "--"
        (["ns1.z.test.", "ab--c.z.test.", "bad_ns.z.test."], Verdict.CRITICAL),
        (["ns1.z.test.", "ns2.z.123."], Verdict.CRITICAL),
    ],
)
def test_nameserver_names_one_finding_at_the_worst_severity(names: list[str], severity: Verdict) -> None:
    found = judged(survey(names, {A: GOOD}, {}))
    assert set(found) == {"ns_name_invalid"} and found["ns_name_invalid"].severity == severity
    assert all(name in found["ns_name_invalid"].message for name in names[1:])
    assert "ns1.z.test." not in found["ns_name_invalid"].message


def test_mname_and_rname_syntax() -> None:
    soa = "ns_1.z.test. john\\@z.test. 1 14400 3600 604800 300"
    found = judged(survey(["ns1.z.test."], {A: soa}, {}))
    assert set(found) == {"mname_invalid", "rname_invalid"}
    assert "ns_1.z.test." in found["mname_invalid"].message
    assert "john\\@z.test." in found["rname_invalid"].message


OURS = {
    "soa_missing",
    "soa_multiple",
    "soa_refresh_low",
    "soa_retry_low",
    "soa_retry_not_below_refresh",
    "soa_expire_low",
    "soa_negative_ttl_out_of_range",
    "soa_rname_mismatch",
    "soa_timers_mismatch",
    "soa_mname_mismatch",
    "ns_set_mismatch",
    "mname_not_authoritative",
    "mname_is_cname",
    "ns_name_invalid",
    "mname_invalid",
    "mx_name_invalid",
    "rname_invalid",
    "rname_not_mailable",
}


@pytest.mark.parametrize(
    ("name", "faults", "discouraged"),
    [
        ("ns1.example.com.", 0, 0),
        ("xn--bcher-kva.example.", 0, 0),  # an A-label's "--" is allowed
        ("bad_ns.example.com.", 1, 0),
        ("-ns.example.com.", 1, 0),
        ("ns-.example.com.", 1, 0),
        ("ns1.example.123.", 1, 0),
        ("ab--cd.example.com.", 0, 1),
        ("a b.example.com.", 1, 0),
    ],
)
def test_host_name_rules(name: str, faults: int, discouraged: int) -> None:
    found, reserved = host_name_faults(name)
    assert (len(found), len(reserved)) == (faults, discouraged), (found, reserved)


@pytest.mark.parametrize(
    ("rname", "valid"),
    [
        ("hostmaster.example.com.", True),
        ("first\\.last.example.com.", True),  # an escaped dot belongs to the local part
        ("john\\@example.com.", False),
        ("hostmaster.com.", False),  # the domain would be "com"
        ("host master.example.com.", False),
        ("hostmaster.bad_domain.com.", False),
        (".", False),
    ],
)
def test_rname_rules(rname: str, valid: bool) -> None:
    assert (rname_faults(rname) == []) is valid, rname_faults(rname)


def ours(result: dict[str, Any]) -> list[str]:
    return sorted(f["code"] for f in result["findings"] if f["code"] in OURS)


@pytest.mark.usefixtures("local_dns")
@pytest.mark.parametrize("zone", ["good.test", "good-knot.test", "good-nsd.test"])
async def test_healthy_zones_get_none_of_these_findings(zone: str) -> None:
    result = await delegation(zone)
    assert result["verdict"] == "ok", result["findings"]
    assert ours(result) == []


@pytest.mark.usefixtures("local_dns")
async def test_timers_below_zonemasters_minimums() -> None:
    result = await delegation("zc-timers.test")
    # What the servers serve: refresh 600, retry 300, expire 86400, minimum 172800.
    assert dig(f"@{ADDRESSES['zc1']}", "zc-timers.test", "SOA", "+short").split()[3:] == [
        "600",
        "300",
        "86400",
        "172800",
    ]
    assert result["verdict"] == "warning"
    assert ours(result) == [
        "soa_expire_low",
        "soa_negative_ttl_out_of_range",
        "soa_refresh_low",
        "soa_retry_low",
    ]
    expire = finding(result, "soa_expire_low")
    assert expire["severity"] == "warning" and "expire 86400 s" in expire["message"]
    assert "604800" in expire["message"] and "below refresh" not in expire["message"]
    for code, value in (
        ("soa_refresh_low", "600"),
        ("soa_retry_low", "300"),
        ("soa_negative_ttl_out_of_range", "172800"),
    ):
        notice = finding(result, code)
        assert notice["severity"] == "ok" and f" {value} s" in notice["message"], notice


@pytest.mark.usefixtures("local_dns")
async def test_retry_not_below_refresh_and_expire_below_refresh() -> None:
    result = await delegation("zc-order.test")
    assert ours(result) == ["soa_expire_low", "soa_negative_ttl_out_of_range", "soa_retry_not_below_refresh"]
    order = finding(result, "soa_retry_not_below_refresh")
    assert order["severity"] == "ok" and "retry 14400 s, refresh 14400 s" in order["message"]
    expire = finding(result, "soa_expire_low")
    assert expire["severity"] == "warning" and "expire 7200 s" in expire["message"]
    assert "below refresh 14400 s" in expire["message"]
    assert " 60 s" in finding(result, "soa_negative_ttl_out_of_range")["message"]


@pytest.mark.usefixtures("local_dns")
async def test_servers_with_different_copies_are_named() -> None:
    result = await delegation("zc-differ.test")
    # One serial, so only what else differs shows: RNAME, MNAME, timers and NS set.
    serials = {
        dig(f"@{a}", "zc-differ.test", "SOA", "+short").split()[2] for a in (ADDRESSES["zc1"], TREE["ns2"])
    }
    assert serials == {"1"}
    assert ours(result) == [
        "ns_set_mismatch",
        "soa_mname_mismatch",
        "soa_rname_mismatch",
        "soa_timers_mismatch",
    ]
    one, two = f"ns1.zc-hosts.test. ({ADDRESSES['zc1']})", f"ns2.dns.test. ({TREE['ns2']})"
    rname = finding(result, "soa_rname_mismatch")["message"]
    assert f"hostmaster.zc-hosts.test. at {one}" in rname and f"admin.zc-hosts.test. at {two}" in rname
    assert f"ns2.dns.test. at {two}" in finding(result, "soa_mname_mismatch")["message"]
    timers = finding(result, "soa_timers_mismatch")["message"]
    assert f"14400/3600/604800/300 at {one}" in timers and f"28800/7200/1209600/3600 at {two}" in timers
    ns = finding(result, "ns_set_mismatch")["message"]
    assert f"{{ns1.zc-hosts.test., ns2.dns.test.}} at {one}" in ns and f"{{ns2.dns.test.}} at {two}" in ns
    assert all(f["severity"] == "ok" for f in result["findings"] if f["code"] in OURS)


@pytest.mark.usefixtures("local_dns")
async def test_mname_that_refuses_the_zone() -> None:
    result = await delegation("zc-mname.test")
    assert dig(f"@{ADDRESSES['refuse']}", "zc-mname.test", "SOA", "+norec").count("status: REFUSED") == 1
    assert ours(result) == ["mname_not_authoritative"]
    mname = finding(result, "mname_not_authoritative")
    assert mname["severity"] == "warning"
    assert f"refuse.zc-hosts.test. ({ADDRESSES['refuse']}) answers REFUSED" in mname["message"]


@pytest.mark.usefixtures("local_dns")
async def test_mname_without_its_final_dot() -> None:
    result = await delegation("zc-mnamegone.test")
    mname = finding(result, "mname_not_authoritative")
    assert mname["severity"] == "warning"
    assert "ns1.zc-mnamegone.test.zc-mnamegone.test. has no address" in mname["message"]
    assert "final dot" in mname["message"]


@pytest.mark.usefixtures("local_dns")
async def test_mname_that_is_a_cname() -> None:
    result = await delegation("zc-mnamecname.test")
    assert result["verdict"] == "ok"
    alias = finding(result, "mname_is_cname")
    assert alias["severity"] == "ok" and "alias.zc-hosts.test. -> ns1.zc-hosts.test." in alias["message"]
    assert "mname_not_authoritative" not in ours(result)  # it answers, through its alias


@pytest.mark.usefixtures("local_dns")
async def test_rname_with_an_at_sign() -> None:
    result = await delegation("zc-rname.test")
    assert "john\\@zc-rname.test." in dig(f"@{ADDRESSES['zc1']}", "zc-rname.test", "SOA", "+short")
    assert ours(result) == ["rname_invalid"]
    rname = finding(result, "rname_invalid")
    assert rname["severity"] == "warning" and "john\\@zc-rname.test." in rname["message"]
    assert "'@'" in rname["message"]


@pytest.mark.usefixtures("local_dns")
async def test_nameserver_name_with_an_underscore() -> None:
    result = await delegation("zc-nsname.test")
    assert result["verdict"] == "critical"
    bad = finding(result, "ns_name_invalid")
    assert bad["severity"] == "critical" and "bad_ns.zc-hosts.test." in bad["message"]
    assert "ns1.zc-hosts.test." not in bad["message"] and "'bad_ns'" in bad["message"]


@pytest.mark.usefixtures("local_dns")
async def test_mx_names_that_are_not_host_names() -> None:
    result = await delegation("zc-mx.test")
    assert sorted(dig(f"@{ADDRESSES['zc1']}", "zc-mx.test", "MX", "+short").split()[1::2]) == [
        "ab--mx.zc-mx.test.",
        "bad_mx.zc-mx.test.",
    ]
    assert ours(result) == ["mx_name_invalid"]
    mx = finding(result, "mx_name_invalid")
    assert mx["severity"] == "warning"
    assert "bad_mx.zc-mx.test." in mx["message"] and "ab--mx.zc-mx.test." in mx["message"]


@pytest.mark.usefixtures("local_dns")
async def test_two_soa_records_in_one_answer() -> None:
    result = await delegation("zc-multisoa.test")
    assert len(dig(f"@{ADDRESSES['crafted']}", "zc-multisoa.test", "SOA", "+short").splitlines()) == 2
    multiple = finding(result, "soa_multiple")
    assert multiple["severity"] == "critical"
    assert f"ns3.zc-hosts.test. ({ADDRESSES['crafted']}): 2" in multiple["message"]
    assert "ns2.dns.test." not in multiple["message"]


@pytest.mark.usefixtures("local_dns")
async def test_authoritative_answer_without_soa() -> None:
    result = await delegation("zc-nosoa.test")
    assert "ANSWER: 0" in dig(f"@{ADDRESSES['crafted']}", "zc-nosoa.test", "SOA", "+norec")
    missing = finding(result, "soa_missing")
    assert missing["severity"] == "critical" and result["verdict"] == "critical"
    assert f"ns3.zc-hosts.test. ({ADDRESSES['crafted']})" in missing["message"]
    assert "ns2.dns.test." not in missing["message"]


@pytest.mark.usefixtures("local_dns")
async def test_a_contact_whose_domain_takes_no_mail() -> None:
    result = await delegation("zc-contact.test")
    assert dig(f"@{ADDRESSES['zc1']}", "zc-contact.test", "MX", "+short") == ""
    assert result["verdict"] == "ok" and ours(result) == ["rname_not_mailable"]
    notice = finding(result, "rname_not_mailable")
    assert notice["severity"] == "ok" and "hostmaster.zc-contact.test." in notice["message"]
    assert "zc-contact.test. has no MX record and no address" in notice["message"]
    # zc-hosts.test's contact is in the zone, whose MX has an address (the other zc- zones name
    # that contact too, outside themselves: asked through the walk; their tests see no notice).
    assert "rname_not_mailable" not in ours(await delegation("zc-hosts.test"))


async def test_names_outside_the_zone_are_walked_without_a_configured_resolver(bind9: Bind9) -> None:
    # No MCP_MONITOR_RESOLVER: the MNAME and the contact's domain, outside the zone, are walked
    # from the root hints (the isolation guard fails the test on any query to the system's resolver).
    set_settings(
        Settings(
            allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
            dns_root_hints=bind9.root_hints,
            dns_trust_anchors=bind9.trust_anchors,
        )
    )
    result = await delegation("zc-mname.test")
    assert ours(result) == ["mname_not_authoritative"]
    assert "answers REFUSED" in finding(result, "mname_not_authoritative")["message"]
    assert ours(await delegation("zc-mnamegone.test")) == ["mname_not_authoritative"]
    assert ours(await delegation("zc-mnamecname.test")) == ["mname_is_cname"]


@pytest.mark.usefixtures("local_dns")
@pytest.mark.parametrize("implementation", ["knot", "nsd"])
async def test_the_same_faults_served_by_knot_and_nsd(bind9: Bind9, implementation: str) -> None:
    if implementation in bind9.unavailable:
        pytest.skip(bind9.unavailable[implementation])
    zone = f"zc-{implementation}.test"
    (_, address), _ = IMPLEMENTATIONS[implementation].servers
    assert dig(f"@{address}", zone, "MX", "+short") == f"10 bad_mx.{zone}.\n"
    result = await delegation(zone)
    assert ours(result) == ["mx_name_invalid", "soa_expire_low"]
    assert f"bad_mx.{zone}." in finding(result, "mx_name_invalid")["message"]
    assert "expire 86400 s" in finding(result, "soa_expire_low")["message"]
