"""Integration tier: dnssec_check's key, digest, signature-window and CDS/CDNSKEY checks
(Zonemaster DNSSEC01, 04, 05, 07, 14-18) on the zones of tests/support/tree_keys.py."""

from __future__ import annotations

import re

import pytest
from support.bind9 import ADDRESSES, IMPLEMENTATIONS, Bind9, Implementation, dig
from support.dns_tools import dnssec as check
from support.dns_tools import only
from support.tree_keys import LONG_WINDOW_DAYS, RSA_BITS

pytestmark = pytest.mark.usefixtures("local_dns")

NS1 = f"ns1.dns.test. ({ADDRESSES['ns1']})"
NS2 = f"ns2.dns.test. ({ADDRESSES['ns2']})"
KEYS_CODES = {
    "ds_digest_invalid",
    "dnskey_algorithm_invalid",
    "dnskey_too_small",
    "dnskey_too_large",
    "rrsig_validity_too_long",
    "dnskey_without_ds",
    "cds_cdnskey_incomplete",
    "cds_cdnskey_mismatch",
    "cds_inconsistent",
    "cds_delete",
    "cds_delete_mixed",
    "cds_matches_no_dnskey",
    "cds_key_not_signing",
    "cds_signature_invalid",
    "cds_not_signed_by_ds_key",
}


def key_tags(zone: str, server: str = ADDRESSES["ns1"]) -> list[str]:
    """The key tags dig shows in the comments of the zone's DNSKEY set."""
    return re.findall(r"key id = (\d+)", dig(f"@{server}", zone, "DNSKEY", "+norec", "+multi"))


@pytest.mark.parametrize("zone", ["good.test", "key-cds.test"])
async def test_healthy_signed_zones_get_no_key_finding(zone: str) -> None:
    result = await check(zone)
    assert result["status"] == "secure" and result["verdict"] == "ok", result["findings"]
    assert result["findings"] == []


async def test_healthy_cds_is_served_by_both_servers() -> None:
    # The tree really serves the records the healthy case is about, on both nameservers.
    for address in (ADDRESSES["ns1"], ADDRESSES["ns2"]):
        assert dig(f"@{address}", "key-cds.test", "CDS", "+short", "+norec").strip()
        assert dig(f"@{address}", "key-cds.test", "CDNSKEY", "+short", "+norec").strip()


async def test_sha1_only_ds_is_a_warning_naming_the_key() -> None:
    result = await check("key-sha1.test")
    assert result["status"] == "secure" and result["verdict"] == "warning"
    finding = only(result, "deprecated_algorithm")
    assert finding["severity"] == "warning" and "SHA-1" in finding["message"]
    (tag,) = dig(f"@{ADDRESSES['tld']}", "key-sha1.test", "DS", "+short", "+norec").split()[:1]
    assert tag in finding["message"] and "SHA-256" in finding["hint"]


async def test_small_rsa_keys_are_one_warning_listing_both() -> None:
    result = await check("key-rsa1024.test")
    assert result["status"] == "secure" and "RSASHA256" in result["algorithms"]
    finding = only(result, "dnskey_too_small")
    assert finding["severity"] == "warning"
    tags = key_tags("key-rsa1024.test")
    assert len(tags) == 2 and all(
        f"key tag {tag} (RSASHA256, {RSA_BITS} bits)" in finding["message"] for tag in tags
    )
    assert {f["code"] for f in result["findings"]} == {"dnskey_too_small"}


async def test_a_400_day_signature_window_is_too_long() -> None:
    result = await check("key-longsig.test")
    assert result["status"] == "secure" and result["verdict"] == "warning"
    finding = only(result, "rrsig_validity_too_long")
    assert f"DNSKEY set: {LONG_WINDOW_DAYS} days" in finding["message"]
    assert f"SOA set: {LONG_WINDOW_DAYS} days" in finding["message"]
    assert {f["code"] for f in result["findings"]} == {"rrsig_validity_too_long"}


async def test_keys_without_ds_are_signed_but_not_secured() -> None:
    result = await check("key-nods.test")
    assert result["status"] == "insecure" and result["verdict"] == "warning"
    finding = only(result, "dnskey_without_ds")
    assert all(tag in finding["message"] for tag in key_tags("key-nods.test"))
    assert "test." in finding["message"] and "registrar" in finding["hint"]
    # Not also "not signed": it is signed.
    assert "dnssec_unsigned" not in {f["code"] for f in result["findings"]}


async def test_unsigned_zone_is_still_only_unsigned() -> None:
    result = await check("serial.test")
    assert [f["code"] for f in result["findings"]] == ["dnssec_unsigned"]


async def test_unassigned_ds_digest_type_is_flagged_beside_a_good_ds() -> None:
    result = await check("key-digest.test")
    assert result["status"] == "secure"
    finding = only(result, "ds_digest_invalid")
    assert finding["severity"] == "warning" and "digest type 99" in finding["message"]


async def test_private_algorithm_key_is_flagged() -> None:
    result = await check("key-private.test")
    finding = only(result, "dnskey_algorithm_invalid")
    assert finding["severity"] == "critical" and "253 is a private algorithm" in finding["message"]


async def test_cds_of_an_unpublished_key_names_both_servers() -> None:
    result = await check("key-cdsbad.test")
    assert result["status"] == "secure" and result["verdict"] == "warning"
    finding = only(result, "cds_matches_no_dnskey")
    assert finding["severity"] == "warning"
    (cds,) = dig(f"@{ADDRESSES['ns1']}", "key-cdsbad.test", "CDS", "+short", "+norec").splitlines()
    assert cds.split()[0] in finding["message"]
    assert cds.split()[0] not in key_tags("key-cdsbad.test")
    assert NS1 in finding["message"] and NS2 in finding["message"]
    assert only(result, "cds_cdnskey_incomplete")["severity"] == "ok"


async def test_cds_without_cdnskey_is_a_notice() -> None:
    result = await check("key-cdsonly.test")
    assert result["verdict"] == "ok"
    assert {f["code"] for f in result["findings"]} == {"cds_cdnskey_incomplete"}
    finding = only(result, "cds_cdnskey_incomplete")
    assert (
        "CDS without CDNSKEY" in finding["message"]
        and NS1 in finding["message"]
        and NS2 in finding["message"]
    )


async def test_cds_delete_is_a_notice_that_dnssec_goes_off() -> None:
    result = await check("key-cdsdelete.test")
    assert result["verdict"] == "ok" and result["status"] == "secure"
    finding = only(result, "cds_delete")
    assert "CDS 0 0 0 00" in finding["message"] and "CDNSKEY 0 3 0 AA==" in finding["message"]
    assert {f["code"] for f in result["findings"]} == {"cds_delete"}


async def test_cds_that_differs_between_servers_is_one_critical_finding() -> None:
    assert dig(f"@{ADDRESSES['ns1']}", "key-cdsdiff.test", "CDS", "+short", "+norec").strip()
    assert not dig(f"@{ADDRESSES['ns2']}", "key-cdsdiff.test", "CDS", "+short", "+norec").strip()
    result = await check("key-cdsdiff.test")
    assert result["verdict"] == "critical"
    finding = only(result, "cds_inconsistent")
    assert (
        "CDS none (on ns2.dns.test." in finding["message"]
        and "CDNSKEY none (on ns2.dns.test." in finding["message"]
    )
    assert NS1 in finding["message"]
    assert {f["code"] for f in result["findings"]} <= {"cds_inconsistent", "cds_cdnskey_incomplete"}


@pytest.mark.parametrize("zone", ["oldalg.test", "expired.test", "badds.test"])
async def test_existing_fault_zones_gain_no_key_finding(zone: str) -> None:
    result = await check(zone)
    assert not {f["code"] for f in result["findings"]} & KEYS_CODES, result["findings"]


async def test_cds_and_cdnskey_naming_different_keys() -> None:
    # key-cdsmismatch.test: CDS of the KSK, CDNSKEY of the ZSK, whose signature over the DNSKEY
    # set was removed: the parent could not tell which DS to publish, and one of them signs nothing.
    result = await check("key-cdsmismatch.test")
    assert result["status"] == "secure" and result["verdict"] == "critical"
    mismatch = only(result, "cds_cdnskey_mismatch")
    assert mismatch["severity"] == "critical" and NS1 in mismatch["message"] and NS2 in mismatch["message"]
    shown = dig(f"@{ADDRESSES['ns1']}", "key-cdsmismatch.test", "DNSKEY", "+norec", "+multi")
    zsk = re.search(r"DNSKEY\s+256 .*?key id = (\d+)", shown, re.S)
    assert zsk is not None
    not_signing = only(result, "cds_key_not_signing")
    assert not_signing["severity"] == "warning" and f"key tag {zsk.group(1)}" in not_signing["message"]
    assert "CDNSKEY 256 3 13" in not_signing["message"]


async def test_unsigned_cds_and_cdnskey_are_ignored_by_parents() -> None:
    result = await check("key-cdsunsigned.test")
    assert result["verdict"] == "critical"
    invalid = only(result, "cds_signature_invalid")
    assert (
        "the CDS set has no RRSIG" in invalid["message"]
        and "the CDNSKEY set has no RRSIG" in invalid["message"]
    )
    assert "signed by no key" in only(result, "cds_not_signed_by_ds_key")["message"]


async def test_cds_signed_only_by_the_zsk_is_not_signed_by_the_ds_key() -> None:
    result = await check("key-cdszsk.test")
    assert result["verdict"] == "critical"
    finding = only(result, "cds_not_signed_by_ds_key")
    (ds_tag,) = dig(f"@{ADDRESSES['tld']}", "key-cdszsk.test", "DS", "+short", "+norec").split()[:1]
    sig = dig(f"@{ADDRESSES['ns1']}", "key-cdszsk.test", "CDS", "+dnssec", "+norec", "+noall", "+answer")
    (signer,) = re.findall(r"RRSIG\s+CDS \d+ \d+ \d+ \d+ \d+ (\d+)", sig)
    assert signer != ds_tag
    assert f"signed by key tag(s) {signer}, the DS names {ds_tag}" in finding["message"]
    # The ZSK's signature is valid: only the signer is wrong.
    assert "cds_signature_invalid" not in {f["code"] for f in result["findings"]}


@pytest.fixture(params=["knot", "nsd"])
def peer(request: pytest.FixtureRequest, bind9: Bind9) -> Implementation:
    name: str = request.param
    if name in bind9.unavailable:
        pytest.skip(f"{name}: {bind9.unavailable[name]}")
    return IMPLEMENTATIONS[name]


async def test_healthy_cds_served_by_knot_and_nsd(peer: Implementation) -> None:
    zone = f"key-cds-{peer.name}.test"
    for _, address in peer.servers:
        assert dig(f"@{address}", zone, "CDS", "+short", "+norec").strip()
    result = await check(zone)
    assert result["status"] == "secure" and result["findings"] == []


async def test_cds_of_an_unpublished_key_served_by_knot_and_nsd(peer: Implementation) -> None:
    result = await check(f"key-cdsbad-{peer.name}.test")
    assert result["status"] == "secure" and result["verdict"] == "warning"
    finding = only(result, "cds_matches_no_dnskey")
    for name, address in peer.servers:
        assert f"{name} ({address})" in finding["message"]
