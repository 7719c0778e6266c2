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
@pytest.mark.parametrize("zone", ["good.test", "good-knot.test", "good-nsd.test", "lo-hosts.test"])
async def test_healthy_zones_have_a_mailable_contact(zone: str) -> None:
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
