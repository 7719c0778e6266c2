"""dns_delegation on the last partial rows of Zonemaster's catalogue: the SOA contact's mail
servers (SYNTAX06, dns_monitor.zone_content), against the lo- zones of
tests/support/tree_leftovers.py on the local BIND9 tree, cross-checked with dig."""

from __future__ import annotations

from typing import Any

import pytest
from dns_monitor.server import mcp
from mcp import Client
from support.bind9 import dig
from support.tree_leftovers import ADDRESSES

MAIL = {"rname_not_mailable", "rname_mail_host_cname", "rname_mail_host_localhost", "rname_invalid"}


async def delegation(domain: str) -> dict[str, Any]:
    async with Client(mcp) as client:
        result = await client.call_tool("dns_delegation", {"domain": domain})
    assert not result.is_error
    return result.structured_content or {}


def finding(result: dict[str, Any], code: str) -> dict[str, Any]:
    found = [f for f in result["findings"] if f["code"] == code]
    assert len(found) == 1, result["findings"]  # one finding per fault, never one per server
    return found[0]


def mail(result: dict[str, Any]) -> list[str]:
    return sorted(f["code"] for f in result["findings"] if f["code"] in MAIL)


@pytest.mark.usefixtures("local_dns")
@pytest.mark.parametrize(
    "zone", ["good.test", "good-knot.test", "good-nsd.test", "lo-hosts.test", "lo-rnalias.test"]
)
async def test_healthy_zones_have_a_mailable_contact(zone: str) -> None:
    # lo-rnalias.test's contact domain is an alias without MX: its mail host is the CNAME's
    # target, which has an address (the alias itself is not called the mail server).
    result = await delegation(zone)
    assert result["verdict"] == "ok", result["findings"]
    assert mail(result) == []


@pytest.mark.usefixtures("local_dns")
async def test_a_contact_mail_server_that_is_an_alias() -> None:
    answer = dig(f"@{ADDRESSES['lo1']}", "mailalias.lo-mxcname.test", "A", "+norecurse")
    assert "CNAME" in answer and "mail.lo-hosts.test." in answer
    result = await delegation("lo-mxcname.test")
    assert mail(result) == ["rname_mail_host_cname"]  # the alias, not also "cannot receive mail"
    alias = finding(result, "rname_mail_host_cname")
    assert alias["severity"] == "ok"  # Zonemaster: RNAME_MAIL_DOMAIN_INVALID, a NOTICE
    assert "hostmaster.lo-mxcname.test." in alias["message"]
    assert "mailalias.lo-mxcname.test. -> mail.lo-hosts.test." in alias["message"]
    assert "CNAME" in alias["hint"] or "alias" in alias["hint"]


@pytest.mark.usefixtures("local_dns")
@pytest.mark.parametrize("zone", ["lo-mxlocal.test", "lo-contact.test"])
async def test_a_contact_mail_server_on_localhost(zone: str) -> None:
    # lo-mxlocal.test is asked of its own servers, lo-contact.test's contact of the resolver.
    assert "127.0.0.1" in dig(f"@{ADDRESSES['lo1']}", "mail.lo-mxlocal.test", "A", "+short")
    result = await delegation(zone)
    assert mail(result) == ["rname_mail_host_localhost"]
    local = finding(result, "rname_mail_host_localhost")
    assert local["severity"] == "ok"
    assert "hostmaster.lo-mxlocal.test." in local["message"] and "mail.lo-mxlocal.test." in local["message"]
    assert "127.0.0.1" in local["message"]
    assert result["verdict"] == "ok", result["findings"]


@pytest.mark.usefixtures("local_dns")
async def test_a_contact_mail_server_without_address() -> None:
    assert dig(f"@{ADDRESSES['lo1']}", "mail.lo-mxnoaddr.test", "A", "+short").strip() == ""
    result = await delegation("lo-mxnoaddr.test")
    assert mail(result) == ["rname_not_mailable"]
    gone = finding(result, "rname_not_mailable")
    assert gone["severity"] == "ok"
    assert "mail.lo-mxnoaddr.test." in gone["message"] and "no address" in gone["message"]


@pytest.mark.usefixtures("local_dns")
async def test_an_ns_name_below_a_dname() -> None:
    answer = dig(f"@{ADDRESSES['lo1']}", "ns.moved.lo-hosts.test", "A", "+norecurse")
    assert "DNAME" in answer and "CNAME" in answer
    result = await delegation("lo-nsdname.test")
    alias = finding(result, "ns_is_cname")
    assert alias["severity"] == "critical" and result["verdict"] == "critical"
    assert "ns.moved.lo-hosts.test. -> ns.lo-hosts.test." in alias["message"]
    assert "moved.lo-hosts.test. DNAME lo-hosts.test." in alias["message"]


@pytest.mark.usefixtures("local_dns")
async def test_an_ns_name_in_a_zone_delegated_below() -> None:
    # lo-nssub.test's servers refer the name to sub.lo-nssub.test, whose server has the CNAME.
    referral = dig(f"@{ADDRESSES['lo2']}", "ns.sub.lo-nssub.test", "A", "+norecurse")
    assert "CNAME" not in referral and "sub.lo-nssub.test." in referral
    result = await delegation("lo-nssub.test")
    alias = finding(result, "ns_is_cname")
    assert alias["severity"] == "critical"
    assert f"ns.sub.lo-nssub.test. -> ns.lo-hosts.test. (from {ADDRESSES['lo1']})" in alias["message"]


@pytest.mark.usefixtures("local_dns")
async def test_glue_for_a_name_the_zone_calls_an_alias() -> None:
    # ref-nsalias.test (tests/support/tree_referral.py): the TLD glues alias.ref-nsalias.test to
    # 127.0.22.4; the zone answers that name with a CNAME to ns2.ref-crafted.test.
    referral = dig("@127.0.0.11", "ref-nsalias.test", "NS", "+norecurse")
    assert "alias.ref-nsalias.test. 300 IN A 127.0.22.4" in " ".join(referral.split()).replace("\t", " ")
    assert "CNAME" in dig("@127.0.22.3", "alias.ref-nsalias.test", "A", "+norecurse")
    result = await delegation("ref-nsalias.test")
    glue = finding(result, "glue_mismatch")
    assert glue["severity"] == "warning"
    assert (
        "alias.ref-nsalias.test.: glue 127.0.22.4, zone: no address, a CNAME to ns2.ref-crafted.test."
        in glue["message"]
    )
    assert "ns.ref-crafted.test." not in glue["message"]  # the other name's glue agrees
    assert finding(result, "ns_is_cname")["severity"] == "critical"
