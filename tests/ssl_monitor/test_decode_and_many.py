"""cert_decode on pasted text (no network) and cert_check_many over several loopback servers."""

from __future__ import annotations

import base64
import contextlib
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from mcp import Client
from support.certs import CertAuthority, serve_tls

Tool = Callable[..., Awaitable[dict[str, Any]]]


def codes(result: dict[str, Any]) -> list[str]:
    return [f["code"] for f in result["findings"]]


# --- cert_decode -----------------------------------------------------------------------------------


async def test_decode_a_chain_in_order(tool: Tool, ca: CertAuthority) -> None:
    leaf = ca.with_intermediate()
    result = await tool("cert_decode", pem=leaf.chain_pem + ca.cert_pem)
    assert result["count"] == 3 and result["in_order"] is True and result["verdict"] == "ok"
    first, intermediate, root = result["certificates"]
    assert [c["signed_next"] for c in result["certificates"]] == [None, True, True]
    assert first["sans"] == ["localhost", "127.0.0.1", "::1"] and first["is_ca"] is False
    assert intermediate["is_ca"] is True and root["self_issued"] is True
    assert int(first["serial"], 16) == leaf.cert.serial_number


async def test_decode_flags_a_misordered_chain(tool: Tool, ca: CertAuthority) -> None:
    leaf = ca.with_intermediate()
    result = await tool("cert_decode", pem=leaf.cert_pem + ca.cert_pem + ca.intermediate.cert_pem)
    assert result["in_order"] is False
    assert codes(result) == ["chain_misordered"]
    # the root did not sign the leaf, and the intermediate did not sign the root
    assert [c["signed_next"] for c in result["certificates"]] == [None, False, False]


async def test_decode_base64_der_and_the_urls(tool: Tool, ca: CertAuthority) -> None:
    leaf = ca.issue_leaf(
        ocsp_url="http://127.0.0.1:9/ocsp", crl_url="http://127.0.0.1:9/crl", must_staple=True
    )
    der = base64.b64encode(leaf.cert.public_bytes(serialization.Encoding.DER)).decode()
    result = await tool("cert_decode", pem=der)
    (cert,) = result["certificates"]
    assert cert["ocsp_urls"] == ["http://127.0.0.1:9/ocsp"] and cert["crl_urls"] == ["http://127.0.0.1:9/crl"]
    assert cert["must_staple"] is True and cert["sct_count"] == 0


async def test_decode_findings(tool: Tool, ca: CertAuthority) -> None:
    result = await tool("cert_decode", pem=ca.expired().cert_pem + ca.cert_pem)
    assert codes(result) == ["cert_expired"]
    assert set(codes(await tool("cert_decode", pem=ca.weak_key().cert_pem))) == {"weak_key"}
    assert codes(await tool("cert_decode", pem=ca.weak_signature().cert_pem)) == ["weak_signature"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no certificate given"),
        ("hello world", "neither PEM"),
        ("-----BEGIN CERTIFICATE-----\nMIIB", "cut short"),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "does not parse"),
    ],
)
async def test_decode_rejects_what_is_not_a_certificate(tool_error: Any, text: str, message: str) -> None:
    assert message in await tool_error("cert_decode", pem=text)


async def test_decode_refuses_a_private_key_without_echoing_it(tool_error: Any, ca: CertAuthority) -> None:
    leaf = ca.valid()
    text = await tool_error("cert_decode", pem=leaf.key_pem)
    assert "PRIVATE KEY, not a CERTIFICATE" in text
    assert leaf.key_pem.splitlines()[1] not in text


# --- cert_check_many -------------------------------------------------------------------------------


@pytest.mark.usefixtures("allow_loopback")
async def test_many_sorted_by_days_left_with_counts_and_progress(ca: CertAuthority) -> None:
    from ssl_monitor.server import mcp

    leaves = {
        "soon": ca.expiring_in(3),
        "later": ca.expiring_in(15),
        "fine": ca.valid(),
        "gone": ca.expired(),
    }
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with contextlib.AsyncExitStack() as stack:
        ports = {name: (await stack.enter_async_context(serve_tls(leaf.server_ssl_context())))[1]
                 for name, leaf in leaves.items()}  # fmt: skip
        targets = [f"127.0.0.1:{ports[name]}" for name in ("fine", "soon", "gone", "later")]
        targets.append(f"127.0.0.1:{closed_port}")
        async with Client(mcp) as client:
            result = await client.call_tool(
                "cert_check_many",
                {"targets": targets, "ca_bundle_pem": ca.cert_pem},
                progress_callback=on_progress,
            )
    assert not result.is_error
    content = result.structured_content or {}
    rows = content["rows"]
    order = [row["target"] for row in rows]
    assert order == [targets[4], targets[2], targets[1], targets[3], targets[0]]  # failed first, then soonest
    assert [row["verdict"] for row in rows] == ["critical", "critical", "critical", "warning", "ok"]
    assert rows[0]["findings"][0]["code"] == "connect_refused"
    assert content["counts"] == {"ok": 1, "warning": 1, "critical": 3, "unknown": 0}
    assert content["total"] == 5 and content["verdict"] == "critical"
    assert sorted(seen) == [1, 2, 3, 4, 5]


async def test_many_makes_rows_of_malformed_and_refused_targets_among_good_ones(
    tool: Tool, ca: CertAuthority, dns_server: Any
) -> None:
    # A typo and an internal address in a list are rows of their own (monitor_common.bulk),
    # not the end of the call: the good targets are still checked.
    import ipaddress

    from monitor_common.config import Settings, set_settings
    from support.dns_server import zone

    host, dns_port = dns_server.address
    dns_server.handler = zone({("inside.test.", "A"): ["127.0.0.2"]})
    set_settings(
        Settings(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),), resolver=f"{host}:{dns_port}")
    )
    async with serve_tls(ca.valid().server_ssl_context()) as (_, port):
        good = f"127.0.0.1:{port}"
        bad = ["bad host!", "127.0.0.2:443", "10.0.0.1", f"inside.test:{port}", "example.com:99999"]
        result = await tool("cert_check_many", targets=[bad[0], good, *bad[1:]], ca_bundle_pem=ca.cert_pem)
    rows = {row["target"]: row for row in result["rows"]}
    assert sorted(rows) == sorted([good, *bad])
    assert rows[good]["verdict"] == "ok"
    for target in bad:
        row = rows[target]
        assert row["verdict"] == "unknown", row
        assert row["summary"].startswith("unknown: not checked: "), row
    assert [f["code"] for f in rows["bad host!"]["findings"]] == ["target_invalid"]
    assert [f["code"] for f in rows["example.com:99999"]["findings"]] == ["target_invalid"]
    for refused in ("127.0.0.2:443", "10.0.0.1", f"inside.test:{port}"):
        assert [f["code"] for f in rows[refused]["findings"]] == ["policy_refused"]
        assert "refused to connect to" in rows[refused]["summary"]
    assert "127.0.0.2" in rows[f"inside.test:{port}"]["summary"]  # the address the name led to
    assert result["counts"]["unknown"] == len(bad) and result["verdict"] == "unknown"


async def test_many_respects_the_target_limit(tool_error: Any) -> None:
    from monitor_common.config import Settings, set_settings

    set_settings(Settings(max_targets=2))
    text = await tool_error("cert_check_many", targets=["a.example", "b.example", "c.example"])
    assert "3 targets exceed the limit of 2" in text and "MCP_MONITOR_MAX_TARGETS" in text


async def test_many_refuses_a_concurrency_above_the_servers(tool_error: Any) -> None:
    from monitor_common.config import Settings, set_settings

    set_settings(Settings(concurrency=5))
    # Refused, not quietly lowered: the caller learns the limit and who can raise it.
    text = await tool_error("cert_check_many", targets=["a.example"], concurrency=6)
    assert "concurrency=6 exceeds the server's maximum of 5" in text and "MCP_MONITOR_CONCURRENCY" in text


async def test_many_runs_at_the_servers_concurrency_or_below(ca: CertAuthority) -> None:
    import ipaddress

    from monitor_common.context import CheckContext
    from monitor_common.errors import LimitError
    from monitor_common.netpolicy import NetworkPolicy
    from ssl_monitor.bulk import cert_check_many

    ctx = CheckContext(
        policy=NetworkPolicy(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),)),
        concurrency=2,
        cert_warn_days=30,
        cert_critical_days=14,
    )
    leaf = ca.expiring_in(20)
    async with serve_tls(leaf.server_ssl_context()) as (_, port):
        targets = [f"127.0.0.1:{port}"] * 3
        for concurrency in (None, 1, 2):
            result = await cert_check_many(targets, ctx, concurrency=concurrency, ca_bundle_pem=leaf.ca_pem)
            # 20 days left: a warning under the context's thresholds (30/14), not the usual 21/7's ok.
            assert [row.verdict for row in result.rows] == ["warning"] * 3
        with pytest.raises(LimitError, match="concurrency=3 exceeds the server's maximum of 2"):
            await cert_check_many(targets, ctx, concurrency=3, ca_bundle_pem=leaf.ca_pem)


async def test_many_refuses_loopback_by_default(tool: Tool) -> None:
    result = await tool("cert_check_many", targets=["127.0.0.1:1"])
    (row,) = result["rows"]
    assert row["verdict"] == "unknown" and "refused to connect to 127.0.0.1" in row["summary"]


async def test_decode_not_yet_valid(tool: Tool, ca: CertAuthority) -> None:
    assert codes(await tool("cert_decode", pem=ca.not_yet_valid().cert_pem)) == ["cert_not_yet_valid"]


async def test_many_says_what_the_rate_limit_cost(ca: CertAuthority) -> None:
    # Four targets on one host at 2 per second (a burst of 2): two wait, about 0.5 s and 1 s.
    import ipaddress

    from monitor_common.context import CheckContext
    from monitor_common.netpolicy import NetworkPolicy
    from monitor_common.ratelimit import RateLimiter
    from ssl_monitor.bulk import cert_check_many

    ctx = CheckContext(
        policy=NetworkPolicy(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),)), limiter=RateLimiter(2)
    )
    async with serve_tls(ca.valid().server_ssl_context()) as (_, port):
        result = await cert_check_many([f"127.0.0.1:{port}"] * 4, ctx, ca_bundle_pem=ca.cert_pem)
    assert result.counts["ok"] == 4, result.summary
    assert "the rate limit (2/s per host) held" in result.summary
    assert "MCP_MONITOR_RATE_LIMIT_PER_HOST" in result.summary
