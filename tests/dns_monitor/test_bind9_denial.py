"""Integration tier: dnssec_check's denial-of-existence and signing-completeness checks
(Zonemaster DNSSEC03, 06, 10, 13) against the zones of tests/support/tree_denial.py."""

from __future__ import annotations

import re
from typing import Any

import pytest
from support.bind9 import ADDRESSES, Bind9, dig
from support.dns_tools import dnssec as check
from support.dns_tools import only
from support.tree_denial import CRAFTED, ITERATIONS_HIGH, SILENT_ASKED

pytestmark = pytest.mark.usefixtures("local_dns")


def codes(result: dict[str, Any]) -> list[str]:
    return sorted({f["code"] for f in result["findings"]})


@pytest.mark.parametrize("zone", ["good.test", "den-nsec3.test", "good-bind9.test"])
async def test_healthy_signed_zones_stay_ok(zone: str) -> None:
    result = await check(zone)
    assert result["status"] == "secure" and result["verdict"] == "ok", result["findings"]
    assert codes(result) == []


async def test_healthy_nsec3_zone_is_nsec3_with_no_finding() -> None:
    # den-nsec3.test: iterations 0 and no salt, as RFC 9276 asks: what dig shows.
    shown = dig(f"@{ADDRESSES['ns1']}", "den-nsec3.test", "NSEC3PARAM", "+norec", "+short")
    assert shown.split() == ["1", "0", "0", "-"]
    result = await check("den-nsec3.test")
    assert result["denial"] == "nsec3" and result["findings"] == []


@pytest.mark.parametrize("impl", ["knot", "nsd"])
async def test_healthy_zones_of_other_implementations_stay_ok(bind9: Bind9, impl: str) -> None:
    if impl in bind9.unavailable:
        pytest.skip(f"{impl}: {bind9.unavailable[impl]}")
    result = await check(f"good-{impl}.test")
    assert result["status"] == "secure" and result["findings"] == []


async def test_nsec3_iterations_and_salt_are_warnings() -> None:
    shown = dig(f"@{ADDRESSES['ns1']}", "den-nsec3salt.test", "NSEC3PARAM", "+norec", "+short")
    assert shown.split() == ["1", "0", "10", "ABCD"]
    result = await check("den-nsec3salt.test")
    assert result["status"] == "secure" and result["verdict"] == "warning"
    assert codes(result) == ["nsec3_iterations", "nsec3_salt"]
    iterations = only(result, "nsec3_iterations")
    assert iterations["severity"] == "warning" and "10 extra iterations" in iterations["message"]
    assert "RFC 9276" in iterations["message"] and "iterations 0" in iterations["hint"]
    salt = only(result, "nsec3_salt")
    assert salt["severity"] == "warning" and "ABCD" in salt["message"]


async def test_nsec3_iterations_above_100_say_validators_treat_the_zone_as_insecure(bind9: Bind9) -> None:
    if "nsd" in bind9.unavailable:
        pytest.skip(f"nsd: {bind9.unavailable['nsd']}")
    # Signed with dnspython (dnssec-signzone refuses more than 150 iterations), served by NSD.
    shown = dig("@127.0.13.1", "den-nsec3iter.test", "NSEC3PARAM", "+norec", "+short")
    assert shown.split()[2] == str(ITERATIONS_HIGH)
    result = await check("den-nsec3iter.test")
    assert result["status"] == "secure" and codes(result) == ["nsec3_iterations_insecure"]
    finding = only(result, "nsec3_iterations_insecure")
    assert finding["severity"] == "warning"
    assert f"{ITERATIONS_HIGH} extra iterations" in finding["message"] and "insecure" in finding["message"]


async def test_nsec3_opt_out_is_a_notice() -> None:
    result = await check("den-optout.test")
    assert result["verdict"] == "ok" and codes(result) == ["nsec3_opt_out"]
    assert only(result, "nsec3_opt_out")["severity"] == "ok"


async def test_nameserver_serving_an_unsigned_copy_is_named() -> None:
    # ns2 serves den-partial.test unsigned (no DNSKEY, no RRSIG); ns1 serves it signed.
    unsigned = dig(
        f"@{ADDRESSES['ns2']}", "den-partial.test", "SOA", "+dnssec", "+norec", "+noall", "+answer"
    )
    assert "RRSIG" not in unsigned and "SOA" in unsigned
    result = await check("den-partial.test")
    finding = only(result, "dnssec_unsigned_nameserver")
    assert finding["severity"] == "critical" and result["verdict"] == "critical"
    assert ADDRESSES["ns2"] in finding["message"] and "ns2.dns.test." in finding["message"]
    assert ADDRESSES["ns1"] not in finding["message"]
    assert "no DNSKEY set" in finding["message"] and "1 of 2" in finding["message"]
    assert codes(result) == ["dnssec_unsigned_nameserver"]


async def test_broken_nsec_chain_does_not_cover_the_name() -> None:
    # den-nsecgap.test: the apex NSEC points to _b, a name deleted after signing.
    shown = dig(
        f"@{ADDRESSES['ns1']}", "_x.den-nsecgap.test", "A", "+dnssec", "+norec", "+noall", "+authority"
    )
    assert re.search(r"den-nsecgap\.test\.\s.*NSEC\s+_b\.den-nsecgap\.test\.", shown), shown
    result = await check("den-nsecgap.test")
    assert codes(result) == ["denial_not_covering"]
    finding = only(result, "denial_not_covering")
    assert finding["severity"] == "critical"
    assert "den-nsecgap.test. -> _b.den-nsecgap.test." in finding["message"]
    assert ADDRESSES["ns1"] in finding["message"] and ADDRESSES["ns2"] in finding["message"]
    # One finding for both servers, not one each.
    assert finding["message"].count("_b.den-nsecgap.test.") == 2


async def test_algorithm_in_the_dnskey_set_that_signs_nothing_is_a_warning() -> None:
    keys = dig(f"@{ADDRESSES['ns1']}", "den-twoalg.test", "DNSKEY", "+norec", "+multi")
    (ed25519,) = re.findall(r"alg = ED25519 ?; key id = (\d+)", keys)
    result = await check("den-twoalg.test")
    assert result["status"] == "secure" and codes(result) == ["dnssec_algorithm_not_signing"]
    finding = only(result, "dnssec_algorithm_not_signing")
    assert finding["severity"] == "warning"
    assert "ED25519 (15" in finding["message"] and ed25519 in finding["message"]
    for rdtype in ("DNSKEY", "SOA", "NS"):
        assert f"the {rdtype} set on" in finding["message"]
    assert ADDRESSES["ns1"] in finding["message"] and ADDRESSES["ns2"] in finding["message"]


async def test_nsec_records_without_signatures_are_bogus() -> None:
    # A hand-made server (BIND withholds an NSEC that lacks its RRSIG) on 127.0.23.1.
    shown = dig(f"@{CRAFTED}", "_x.den-nsecnosig.test", "A", "+dnssec", "+norec", "+noall", "+authority")
    assert re.search(r"\sNSEC\s", shown) and not re.search(r"IN\s+RRSIG\s+NSEC", shown), shown
    result = await check("den-nsecnosig.test")
    assert result["status"] == "secure" and codes(result) == ["dnssec_bogus"]
    finding = only(result, "dnssec_bogus")
    assert finding["severity"] == "critical" and "denial of existence" in finding["message"]
    assert f"without RRSIG: {CRAFTED} (den-ns.test.) (NSEC den-nsecnosig.test.)" in finding["message"]


async def test_nsec_records_whose_signatures_do_not_validate_are_bogus() -> None:
    # den-nsecbadsig.test: the NSEC type bitmaps were changed after signing.
    shown = dig(f"@{CRAFTED}", "_x.den-nsecbadsig.test", "A", "+dnssec", "+norec", "+noall", "+authority")
    assert re.search(r"IN\s+RRSIG\s+NSEC", shown), shown
    result = await check("den-nsecbadsig.test")
    assert codes(result) == ["dnssec_bogus"]
    finding = only(result, "dnssec_bogus")
    assert finding["severity"] == "critical"
    assert "do not validate with the zone's DNSKEYs" in finding["message"] and CRAFTED in finding["message"]


async def test_servers_that_deny_with_nsec_and_with_nsec3_are_inconsistent() -> None:
    # den-mixed.test: the same keys, NSEC on ns1, NSEC3 on ns2; each proof is valid on its own.
    result = await check("den-mixed.test")
    assert codes(result) == ["denial_inconsistent"]
    finding = only(result, "denial_inconsistent")
    assert finding["severity"] == "critical"
    assert f"{ADDRESSES['ns1']} (ns1.dns.test.) use NSEC" in finding["message"]
    assert f"{ADDRESSES['ns2']} (ns2.dns.test.) use NSEC3" in finding["message"]


async def test_a_silent_nameserver_costs_one_timeout_not_one_per_question() -> None:
    # den-silent.test: ns1 serves it signed, x.den-silent.test never answers. The chain is
    # checked on ns1; the checks that ask every server ask the silent one each question once, at
    # the same time, and blame it for nothing (dns_delegation reports the dead server).
    SILENT_ASKED.clear()
    result = await check("den-silent.test")
    assert result["status"] == "secure" and result["verdict"] == "ok", result["findings"]
    questions = [question for _, question in SILENT_ASKED]
    assert len(questions) == len(set(questions)) and len(questions) <= 4, questions
    # Asked together: the last question did not wait for the first one's timeout (1.5 s; a check
    # asking one question after another would spread them over three timeouts).
    times = [when for when, _ in SILENT_ASKED]
    assert questions and max(times) - min(times) < 1.0, SILENT_ASKED
