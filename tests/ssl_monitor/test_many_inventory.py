"""cert_check_many over a mail inventory: per-target starttls, sni and connect_ip in one call, each
object validated by the same rule as cert_check's arguments."""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from support.certs import CertAuthority, serve_tls

Tool = Callable[..., Awaitable[dict[str, Any]]]


def codes(row: dict[str, Any]) -> list[str]:
    return [f["code"] for f in row["findings"]]


@pytest.mark.usefixtures("allow_loopback")
async def test_a_mail_inventory_is_one_call(tool: Tool, ca: CertAuthority, starttls_server: Any) -> None:
    mx = ca.valid(("mx.mail.test",))
    imap = ca.valid(("imap.mail.test",))
    submission = ca.expiring_in(5, ("smtp.mail.test",))
    web = ca.valid()
    async with contextlib.AsyncExitStack() as stack:
        mx_port = await stack.enter_async_context(starttls_server("smtp", mx))
        imap_port = await stack.enter_async_context(starttls_server("imap", imap))
        submission_port = await stack.enter_async_context(starttls_server("smtp", submission))
        _, web_port = await stack.enter_async_context(serve_tls(web.server_ssl_context()))
        targets: list[Any] = [
            # A name that resolves nowhere, dialled at connect_ip, validated for itself (its SNI).
            {"host": "mx.mail.test", "port": mx_port, "starttls": "smtp", "connect_ip": "127.0.0.1"},
            {"host": "127.0.0.1", "port": imap_port, "starttls": "imap", "sni": "imap.mail.test"},
            {"host": "127.0.0.1", "port": submission_port, "starttls": "smtp", "sni": "smtp.mail.test"},
            f"127.0.0.1:{web_port}",
        ]
        result = await tool("cert_check_many", targets=targets, ca_bundle_pem=ca.cert_pem)
    rows = {row["target"]: row for row in result["rows"]}
    assert sorted(rows) == sorted(
        [
            f"mx.mail.test:{mx_port} (starttls smtp, via 127.0.0.1)",
            f"127.0.0.1:{imap_port} (starttls imap, sni imap.mail.test)",
            f"127.0.0.1:{submission_port} (starttls smtp, sni smtp.mail.test)",
            f"127.0.0.1:{web_port}",
        ]
    )
    mx_row = rows[f"mx.mail.test:{mx_port} (starttls smtp, via 127.0.0.1)"]
    assert (mx_row["verdict"], mx_row["hostname_match"], mx_row["remote_ip"]) == ("ok", True, "127.0.0.1")
    imap_row = rows[f"127.0.0.1:{imap_port} (starttls imap, sni imap.mail.test)"]
    assert (imap_row["verdict"], imap_row["hostname_match"], imap_row["trusted"]) == ("ok", True, True)
    # Sorted by days left: the submission certificate that expires in 5 days comes first.
    first = result["rows"][0]
    assert first["target"] == f"127.0.0.1:{submission_port} (starttls smtp, sni smtp.mail.test)"
    assert codes(first) == ["cert_expiring_soon"] and first["verdict"] == "critical"
    assert rows[f"127.0.0.1:{web_port}"]["verdict"] == "ok"
    assert result["counts"] == {"ok": 3, "warning": 0, "critical": 1, "unknown": 0}


@pytest.mark.usefixtures("allow_loopback")
async def test_starttls_sets_the_default_port(tool: Tool) -> None:
    # Nothing listens on 127.0.0.1:143 in a test; what matters is that port 143 was the one dialled.
    result = await tool("cert_check_many", targets=[{"host": "127.0.0.1", "starttls": "imap"}], timeout_s=2)
    (row,) = result["rows"]
    assert row["target"] == "127.0.0.1:143 (starttls imap)"


async def test_an_object_is_validated_by_cert_checks_rule(tool: Tool, tool_error: Any) -> None:
    from monitor_common.config import Settings, set_settings

    set_settings(Settings(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),)))
    said = await tool_error("cert_check", host="mx.mail.test", port=25, connect_ip="not-an-ip")
    result = await tool(
        "cert_check_many",
        targets=[
            {"host": "mx.mail.test", "port": 25, "connect_ip": "not-an-ip"},
            {"host": "mx.mail.test", "starttls": "smtp", "connect_ip": "10.1.2.3"},
            {"host": "bad host!", "starttls": "smtp"},
        ],
    )
    rows = {row["target"]: row for row in result["rows"]}
    malformed = rows["mx.mail.test:25 (via not-an-ip)"]
    assert codes(malformed) == ["target_invalid"]
    # The same words as cert_check's error: one rule for both.
    assert malformed["findings"][0]["message"].removeprefix("not checked: ") in said
    assert "must be an IP address" in said
    refused = rows["mx.mail.test:25 (starttls smtp, via 10.1.2.3)"]
    assert codes(refused) == ["policy_refused"] and "10.1.2.3" in refused["summary"]
    assert codes(rows["bad host!:25 (starttls smtp)"]) == ["target_invalid"]
    assert result["counts"]["unknown"] == 3


async def test_a_malformed_object_is_a_clear_error(tool_error: Any) -> None:
    text = await tool_error("cert_check_many", targets=[{"host": "a.example", "starttls": "smtps"}])
    assert "starttls" in text and "smtp" in text
    text = await tool_error("cert_check_many", targets=[{"hostname": "a.example"}])
    assert "host" in text
