"""Integration tier: email_auth_check against the mail zones of the local BIND9 hierarchy, with
the MTA-STS policies served over local HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dns_monitor.email import email_auth_check
from dns_monitor.server import mcp
from mcp import Client
from monitor_common.config import Settings
from monitor_common.context import CheckContext
from support.bind9 import ADDRESSES, DEAD_NS, dig
from support.static_https import StaticHttps

pytestmark = pytest.mark.usefixtures("local_dns")

POLICY_PATH = "/.well-known/mta-sts.txt"
GOOD_POLICY = "version: STSv1\nmode: enforce\nmx: mx.mail.test\nmax_age: 86400\n"
BAD_POLICY = "version: STSv1\nmode: enforce\nmx: *.elsewhere.test\nmax_age: 86400\n"


@pytest.fixture
def mta_sts() -> Iterator[StaticHttps]:
    documents = {
        ("mta-sts.mail.test", POLICY_PATH): (200, "text/plain", GOOD_POLICY),
        ("mta-sts.spam.test", POLICY_PATH): (200, "text/plain", BAD_POLICY),
    }
    with StaticHttps(documents, hosts=["mta-sts.mail.test", "mta-sts.spam.test"]) as server:
        yield server


async def run(domain: str, ctx: CheckContext, https: StaticHttps, **extra: Any) -> Any:
    return await email_auth_check(
        domain,
        ctx,
        verify=https.client_context(),
        https_port=https.port,
        **extra,
    )


def codes(result: Any) -> list[str]:
    return sorted(f.code for f in result.findings)


async def test_healthy_mail_domain(local_ctx: CheckContext, mta_sts: StaticHttps) -> None:
    result = await run("mail.test", local_ctx, mta_sts, dkim_selectors=["s2048"])
    assert result.verdict == "ok", result.findings
    assert [(h.preference, h.host, h.addresses) for h in result.mx.hosts] == [
        (10, "mx.mail.test.", ["192.0.2.25"])
    ]
    assert result.spf.record == "v=spf1 mx include:_spf.mail.test -all"
    assert result.spf.dns_lookups == 2 and result.spf.all == "-all"
    assert (
        result.dmarc.p == "reject"
        and result.dmarc.rua == ["mailto:dmarc@mail.test"]
        and result.dmarc.adkim == "s"
    )
    assert [(k.selector, k.key_type, k.bits) for k in result.dkim] == [("s2048", "rsa", 2048)]
    assert result.mta_sts.mode == "enforce" and result.mta_sts.mx_patterns == ["mx.mail.test"]
    assert ("mta-sts.mail.test", POLICY_PATH) in mta_sts.requests
    assert result.tls_rpt == "v=TLSRPTv1; rua=mailto:tls@mail.test"
    assert result.bimi is not None
    # The SPF record is the one dig sees.
    assert (
        dig(f"@{ADDRESSES['resolver']}", "mail.test", "TXT", "+short").strip().strip('"') == result.spf.record
    )


async def test_everything_wrong(local_ctx: CheckContext, mta_sts: StaticHttps) -> None:
    result = await run("spam.test", local_ctx, mta_sts, dkim_selectors=["missing"])
    assert result.verdict == "critical"
    assert result.spf.dns_lookups == 11 and result.spf.all == "~all"
    assert set(codes(result)) >= {
        "spf_too_many_lookups",
        "mx_is_cname",
        "mx_unresolvable",
        "dmarc_policy_none",
        "dmarc_pct_partial",
        "dmarc_no_reports",
        "dkim_missing",
        "mta_sts_mx_not_covered",
    }
    for finding in result.findings:
        if finding.severity != "ok":
            assert finding.hint, finding.code  # every problem says what to do


@pytest.mark.parametrize(
    ("selector", "bits", "code"),
    [("s1024", 1024, "dkim_weak_key"), ("revoked", None, "dkim_revoked"), ("nope", None, "dkim_missing")],
)
async def test_dkim_variants(
    local_ctx: CheckContext, mta_sts: StaticHttps, selector: str, bits: int | None, code: str
) -> None:
    result = await run("mail.test", local_ctx, mta_sts, dkim_selectors=[selector])
    assert codes(result).count(code) == 1 and result.verdict == "warning"
    assert result.dkim[0].bits == bits


async def test_null_mx(local_ctx: CheckContext, mta_sts: StaticHttps) -> None:
    result = await run("nomail.test", local_ctx, mta_sts)
    assert result.mx.null_mx and "mx_null" in codes(result)
    assert result.verdict == "ok"


async def test_unreachable_policy_is_a_warning(local_dns: Settings) -> None:
    # Through the tool: port 443 on 127.0.0.1 serves nothing, so the policy cannot be fetched.
    async with Client(mcp) as client:
        result = await client.call_tool("email_auth_check", {"domain": "mail.test", "timeout_s": 5})
    assert not result.is_error
    content = result.structured_content or {}
    assert content["verdict"] == "warning"
    assert "mta_sts_policy_unreachable" in {f["code"] for f in content["findings"]}


async def test_a_named_server_nothing_answers_on_is_not_the_monitors_outage(local_ctx: CheckContext) -> None:
    # The caller's server is a closed port on loopback: every lookup fails, but not on this
    # machine's side, so each says what could not be read, as before.
    result = await email_auth_check("mail.test", local_ctx, server=DEAD_NS, timeout_s=1)
    assert result.verdict == "unknown"
    assert {"mx_lookup_failed", "spf_lookup_failed", "dmarc_lookup_failed"} <= set(codes(result))
    assert "monitor_network_unavailable" not in codes(result)
