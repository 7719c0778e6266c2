"""dns_monitor.referral's pure rules: the referral size as Zonemaster counts it, and which
nameserver addresses ADDRESS01 flags under which policy."""

from __future__ import annotations

import ipaddress

import dns.name
import pytest
from dns_monitor.referral import UDP_LIMIT, _longest_name, referral_size, special_addresses
from monitor_common.netpolicy import NetworkPolicy

BIG_NAMES = [f"ns{i}-{'x' * 46}.ref-bigreferral.test." for i in range(8)]


@pytest.mark.parametrize(
    "zone", [".", "test.", "good.test.", "a-rather-long-label-for-a-zone.example.co.uk."]
)
def test_the_query_name_is_the_longest_a_name_can_be(zone: str) -> None:
    name = dns.name.from_text(_longest_name(zone))
    wire = name.to_wire()
    assert wire is not None and len(wire) == 255  # the most RFC 1035 2.3.4 allows
    assert name.is_subdomain(dns.name.from_text(zone))
    assert all(len(label) <= 63 for label in name.labels)


def test_referral_size_matches_zonemaster() -> None:
    # zonemaster-cli 4.6.2 on the tree's ref-bigreferral.test: REFERRAL_SIZE_TOO_LARGE size=807
    glue = {name: [f"127.0.22.{10 + i}"] for i, name in enumerate(BIG_NAMES)}
    assert referral_size("ref-bigreferral.test.", BIG_NAMES, glue, "test.") == 807
    assert referral_size("good.test.", ["ns1.dns.test.", "ns2.dns.test."], {}, "test.") < UDP_LIMIT


def test_glue_counts_only_when_every_nameserver_of_the_family_is_inside_the_parent() -> None:
    names = ["ns1.dns.test.", "ns2.dns.test."]
    bare = referral_size("good.test.", names, {}, "test.")
    inside = {"ns1.dns.test.": ["192.0.2.1"], "ns2.dns.test.": ["192.0.2.2"]}
    outside = {"ns1.example.net.": ["192.0.2.1"], "ns2.dns.test.": ["192.0.2.2"]}
    both = {**inside, "ns1.dns.test.": ["192.0.2.1", "2001:db8::1"]}
    assert referral_size("good.test.", names, inside, "test.") == bare + 16  # one A, owner compressed
    assert referral_size("good.test.", names, outside, "test.") == bare
    assert referral_size("good.test.", names, both, "test.") == bare + 16 + 28  # one A and one AAAA


LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@pytest.mark.parametrize(
    ("policy", "address", "flagged"),
    [
        (NetworkPolicy(), "10.1.2.3", "private"),  # refused by the policy: still a fault of the zone
        (NetworkPolicy(), "192.0.2.53", "reserved"),  # documentation
        (NetworkPolicy(), "2001:db8::53", "reserved"),
        (NetworkPolicy(), "::ffff:127.0.0.1", "loopback"),  # judged by the embedded address
        (NetworkPolicy(allow_private=True), "127.0.1.1", "loopback"),  # a blanket permission
        (NetworkPolicy(allow_networks=(LOOPBACK,)), "127.0.1.1", None),  # the operator's own network
        (NetworkPolicy(allow_networks=(LOOPBACK,)), "10.1.2.3", "private"),
        (NetworkPolicy(allow_hosts=("ns1.corp.example",)), "10.1.2.3", None),
        (NetworkPolicy(), "8.8.8.8", None),
        (NetworkPolicy(), "2a00:1450::1", None),
    ],
)
def test_special_purpose_nameserver_addresses(
    policy: NetworkPolicy, address: str, flagged: str | None
) -> None:
    findings = special_addresses(policy, {"ns1.corp.example.": [address]})
    if flagged is None:
        assert findings == []
        return
    [finding] = findings
    assert finding.code == "nameserver_address_special" and finding.severity == "critical"
    shown = ipaddress.ip_address(address).compressed
    assert f"ns1.corp.example. ({shown}, {flagged})" in finding.message


def test_one_finding_lists_every_special_address() -> None:
    findings = special_addresses(
        NetworkPolicy(), {"a.example.": ["10.0.0.1"], "b.example.": ["192.168.1.1", "8.8.8.8"]}
    )
    assert len(findings) == 1
    assert "a.example. (10.0.0.1, private), b.example. (192.168.1.1, private)" in findings[0].message
    assert "8.8.8.8" not in findings[0].message
