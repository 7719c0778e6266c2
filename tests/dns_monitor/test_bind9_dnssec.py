"""Integration tier: dnssec_check against the signed local hierarchy, its root key as trust anchor."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from dns_monitor.server import mcp
from mcp import Client
from monitor_common.config import Settings, set_settings
from support.bind9 import ADDRESSES, FUTURE_INCEPTION_S, Bind9, dig

pytestmark = pytest.mark.usefixtures("local_dns")


async def check(domain: str, **extra: Any) -> dict[str, Any]:
    async with Client(mcp) as client:
        result = await client.call_tool("dnssec_check", {"domain": domain, **extra})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def codes(result: dict[str, Any]) -> list[str]:
    return sorted({f["code"] for f in result["findings"]})


async def test_healthy_signed_zone_is_secure() -> None:
    result = await check("good.test")
    assert result["verdict"] == "ok", result["findings"]
    assert result["status"] == "secure" and result["broken_link"] is None
    assert [link["zone"] for link in result["chain"]] == [".", "test.", "good.test."]
    assert all(link["status"] == "secure" for link in result["chain"])
    assert result["algorithms"] == ["ECDSAP256SHA256"]
    assert result["denial"] == "nsec"
    assert 29 < result["days_until_rrsig_expiry"] <= 30
    # The earliest expiry is one dig shows for the signatures of the chain.
    shown = dig(f"@{ADDRESSES['ns1']}", "good.test", "SOA", "+dnssec", "+norec", "+noall", "+answer")
    expiry = re.search(r"RRSIG\s+SOA \d+ \d+ \d+ (\d{14})", shown)
    assert expiry is not None
    soa_expiry = datetime.strptime(expiry.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    earliest = datetime.fromisoformat(result["earliest_rrsig_expiry"].replace("Z", "+00:00"))
    assert earliest <= soa_expiry


async def test_expiring_signatures_warn() -> None:
    result = await check("good.test", warn_days=40)
    assert result["verdict"] == "warning" and codes(result) == ["rrsig_expiring"]


async def test_expired_signatures_are_bogus() -> None:
    result = await check("www.expired.test")
    assert result["status"] == "bogus" and result["broken_link"] == "expired.test."
    assert "rrsig_expired" in codes(result) and result["verdict"] == "critical"
    assert [link["status"] for link in result["chain"]] == ["secure", "secure", "bogus"]


async def test_ds_matching_no_key_is_bogus() -> None:
    result = await check("badds.test")
    assert result["status"] == "bogus" and result["broken_link"] == "badds.test."
    assert codes(result) == ["ds_mismatch"]


async def test_unsigned_zone_is_insecure_not_an_error() -> None:
    result = await check("serial.test")
    assert result["status"] == "insecure" and result["verdict"] == "ok"
    assert codes(result) == ["dnssec_unsigned"]


async def test_wrong_trust_anchor_breaks_at_the_root(
    local_dns: Settings, bind9: Bind9, tmp_path: Any
) -> None:
    anchors = tmp_path / "other.ds"
    anchors.write_text(". IN DS 12345 13 2 " + "AB" * 32 + "\n")
    set_settings(local_dns.replace(dns_trust_anchors=anchors))
    result = await check("good.test")
    assert result["status"] == "bogus" and result["broken_link"] == "."
    assert codes(result) == ["ds_mismatch"]


async def test_deprecated_algorithm_is_flagged() -> None:
    result = await check("oldalg.test")
    assert result["status"] == "secure" and result["verdict"] == "warning"
    assert codes(result) == ["deprecated_algorithm"]
    assert "RSASHA1" in result["algorithms"]


async def test_signatures_not_yet_valid_say_so_and_by_how_much() -> None:
    # future.test is signed with an inception two hours ahead: a signer whose clock runs fast.
    result = await check("future.test")
    assert result["status"] == "bogus" and result["broken_link"] == "future.test."
    assert codes(result) == ["rrsig_not_yet_valid"]
    (finding,) = result["findings"]
    assert finding["severity"] == "critical"
    match = re.search(r"inception is (\S+), (\d+) h (\d+) min in the future", finding["message"])
    assert match, finding["message"]
    ahead_min = int(match.group(2)) * 60 + int(match.group(3))
    assert FUTURE_INCEPTION_S / 60 - 15 <= ahead_min <= FUTURE_INCEPTION_S / 60
    assert "clock" in finding["hint"] and "re-sign with the published keys" not in finding["hint"]


async def test_deprecated_algorithm_is_one_finding_listing_the_keys() -> None:
    result = await check("oldalg.test")
    (finding,) = [f for f in result["findings"] if f["code"] == "deprecated_algorithm"]
    # The KSK and the ZSK: both tags, as dig shows them in the DNSKEY comments.
    shown = dig(f"@{ADDRESSES['ns1']}", "oldalg.test", "DNSKEY", "+norec", "+multi")
    tags = re.findall(r"key id = (\d+)", shown)
    assert len(tags) == 2 and all(tag in finding["message"] for tag in tags)
    assert "2 key(s)" in finding["message"]


async def test_expired_signatures_over_several_rrsets_are_one_finding() -> None:
    # staleapex.test: the DNSKEY set is signed now, its SOA, NS, A and AAAA signatures expired.
    result = await check("staleapex.test")
    assert result["status"] == "bogus" and result["broken_link"] == "staleapex.test."
    (expired,) = [f for f in result["findings"] if f["code"] == "rrsig_expired"]
    assert codes(result) == ["rrsig_expired"]
    for rdtype in ("SOA", "NS", "A", "AAAA"):
        assert f"the {rdtype} set of staleapex.test." in expired["message"]
    assert expired["message"].startswith("4 RRsets: ")
