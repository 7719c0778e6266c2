"""cert_check through an in-process MCP client against real loopback TLS servers, one per case."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from support.certs import CertAuthority, Leaf, serve_tls

pytestmark = pytest.mark.usefixtures("allow_loopback")

Tool = Callable[..., Awaitable[dict[str, Any]]]


def codes(result: dict[str, Any]) -> list[str]:
    return [f["code"] for f in result["findings"]]


async def check_leaf(
    tool: Tool, leaf: Leaf, context: ssl.SSLContext | None = None, **arguments: Any
) -> dict[str, Any]:
    arguments.setdefault("ca_bundle_pem", leaf.ca_pem)
    arguments.setdefault("host", "127.0.0.1")
    async with serve_tls(context or leaf.server_ssl_context()) as (_, port):
        return await tool("cert_check", port=port, **arguments)


async def test_valid_certificate_is_described_in_full(tool: Tool, ca: CertAuthority) -> None:
    leaf = ca.valid()
    result = await check_leaf(tool, leaf, sni="localhost")
    assert result["verdict"] == "ok", result["findings"]
    assert result["findings"] == []
    assert (result["trusted"], result["trust_error"], result["hostname_match"]) == (True, None, True)
    assert result["remote_ip"] == "127.0.0.1"
    assert result["tls_version"] == "TLSv1.3"
    info = result["leaf"]
    assert info["sans"] == ["localhost", "127.0.0.1", "::1"]
    assert (info["key_type"], info["key_bits"], info["signature_algorithm"]) == (
        "ec",
        256,
        "ecdsa-with-SHA256",
    )
    assert info["sha256_fingerprint"] == leaf.cert.fingerprint(hashes.SHA256()).hex(":").upper()
    assert int(info["serial"], 16) == leaf.cert.serial_number
    assert info["issuer"] == ca.cert.subject.rfc4514_string()
    assert 89 < info["days_left"] <= 90 and 89 < info["lifetime_days"] < 91
    assert [c["subject"] for c in result["chain"]] == [info["subject"], ca.cert.subject.rfc4514_string()]
    assert result["chain"][1]["is_ca"] is True
    assert result["days_left_chain_min"] == info["days_left"]
    assert result["ocsp_stapled"] is False
    assert "valid and expires in" in result["summary"]


async def test_private_ca_is_untrusted_without_its_bundle(tool: Tool, ca: CertAuthority) -> None:
    result = await check_leaf(tool, ca.valid(), ca_bundle_pem=None)
    assert result["trusted"] is False
    assert "untrusted_chain" in codes(result)
    assert "system trust store" in result["summary"]


@pytest.mark.parametrize(("days", "verdict"), [(15, "warning"), (3, "critical"), (40, "ok")])
async def test_expiring_soon(tool: Tool, ca: CertAuthority, days: int, verdict: str) -> None:
    result = await check_leaf(tool, ca.expiring_in(days))
    assert result["verdict"] == verdict
    assert days - 0.01 < result["days_left"] <= days
    assert codes(result) == ([] if verdict == "ok" else ["cert_expiring_soon"])


async def test_thresholds_are_the_callers(tool: Tool, ca: CertAuthority) -> None:
    result = await check_leaf(tool, ca.expiring_in(40), warn_days=60, critical_days=30)
    assert result["verdict"] == "warning"


def loopback_settings(**changes: Any) -> Any:
    from monitor_common.config import Settings, set_settings

    settings = Settings(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),), **changes)
    set_settings(settings)
    return settings


@pytest.mark.parametrize(("days", "verdict"), [(50, "warning"), (20, "critical"), (70, "ok")])
async def test_default_thresholds_are_the_servers(
    tool: Tool, ca: CertAuthority, days: int, verdict: str
) -> None:
    loopback_settings(cert_warn_days=60, cert_critical_days=30)  # MCP_MONITOR_CERT_WARN_DAYS / _CRITICAL_DAYS
    result = await check_leaf(tool, ca.expiring_in(days))
    assert result["verdict"] == verdict
    assert codes(result) == ([] if verdict == "ok" else ["cert_expiring_soon"])


async def test_a_callers_threshold_beats_the_servers(tool: Tool, ca: CertAuthority) -> None:
    loopback_settings(cert_warn_days=60, cert_critical_days=30)
    result = await check_leaf(tool, ca.expiring_in(20), critical_days=10)  # warn_days stays the server's 60
    assert result["verdict"] == "warning"


async def test_a_callers_warn_below_the_servers_critical_says_whose_it_is(tool_error: Any) -> None:
    text = await tool_error("cert_check", host="127.0.0.1", warn_days=5)  # the default critical is 7
    assert "critical_days=7 (the server's default) is above warn_days=5" in text


async def test_the_engine_takes_its_thresholds_from_the_context(ca: CertAuthority) -> None:
    from monitor_common.context import CheckContext
    from monitor_common.netpolicy import NetworkPolicy
    from ssl_monitor.certs import cert_check

    leaf = ca.expiring_in(10)
    loose = CheckContext(policy=NetworkPolicy(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),)))
    strict = loose.replace(cert_warn_days=30, cert_critical_days=14)
    async with serve_tls(leaf.server_ssl_context()) as (_, port):
        verdicts = [
            (await cert_check("127.0.0.1", ctx, port=port, ca_bundle_pem=leaf.ca_pem)).verdict.value
            for ctx in (loose, strict)
        ]
    assert verdicts == ["warning", "critical"]  # 10 days: under 21, over 7; then under 14


async def test_expired_is_described_in_full(tool: Tool, ca: CertAuthority) -> None:
    result = await check_leaf(tool, ca.expired(days_ago=3))
    assert result["verdict"] == "critical"
    assert codes(result) == ["cert_expired", "untrusted_chain"]
    assert result["days_left"] < -2.9
    assert "expired on" in result["trust_error"]
    assert result["leaf"]["subject"] and result["leaf"]["issuer"]


async def test_not_yet_valid(tool: Tool, ca: CertAuthority) -> None:
    result = await check_leaf(tool, ca.not_yet_valid(days_ahead=2))
    assert result["verdict"] == "critical"
    assert {"cert_not_yet_valid", "untrusted_chain"} <= set(codes(result))


async def test_wrong_host_is_trusted_but_mismatched(tool: Tool, ca: CertAuthority) -> None:
    result = await check_leaf(tool, ca.wrong_host(), sni="localhost")
    assert codes(result) == ["hostname_mismatch"]
    assert (result["trusted"], result["hostname_match"]) == (True, False)
    assert "wrong.host.test" in result["findings"][0]["message"]


async def test_ip_address_san_matches_an_address_target(tool: Tool, ca: CertAuthority) -> None:
    by_ip = await check_leaf(tool, ca.valid(["127.0.0.1"]))
    assert by_ip["sni"] is None and by_ip["hostname_match"] is True and by_ip["verdict"] == "ok"
    only_name = await check_leaf(tool, ca.valid(["localhost"]))
    assert codes(only_name) == ["hostname_mismatch"]


async def test_self_signed(tool: Tool, ca: CertAuthority) -> None:
    result = await check_leaf(tool, ca.self_signed())
    assert set(codes(result)) == {"self_signed", "untrusted_chain"}
    assert result["leaf"]["subject"] == result["leaf"]["issuer"]
    assert "self-signed" in result["trust_error"]


async def test_missing_intermediate(tool: Tool, ca: CertAuthority) -> None:
    result = await check_leaf(tool, ca.without_intermediate())
    assert set(codes(result)) == {"chain_incomplete", "untrusted_chain"}
    assert "intermediate" in result["trust_error"]
    assert result["served_chain_length"] == 1


async def test_with_intermediate_and_an_extra_root(tool: Tool, ca: CertAuthority) -> None:
    leaf = ca.with_intermediate()
    plain = await check_leaf(tool, leaf)
    assert plain["verdict"] == "ok" and len(plain["chain"]) == 3
    extra = await check_leaf(tool, leaf.with_chain(*leaf.chain, ca.cert))
    assert extra["verdict"] == "ok" and extra["served_chain_length"] == 3 and len(extra["chain"]) == 3


async def test_extra_expired_certificate_does_not_lower_days_left_chain_min(
    tool: Tool, ca: CertAuthority
) -> None:
    # blackbox_exporter takes the minimum over everything served and raises a false alarm here.
    old = CertAuthority("old cross-signed root", not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=400),
                        not_after=dt.datetime.now(dt.UTC) - dt.timedelta(days=10))  # fmt: skip
    leaf = ca.valid()
    result = await check_leaf(tool, leaf.with_chain(leaf.cert, old.cert))
    assert result["trusted"] is True
    assert result["days_left_chain_min"] > 80
    assert [(f["code"], f["severity"]) for f in result["findings"]] == [("chain_contains_expired", "warning")]


async def test_misordered_chain(tool: Tool, ca: CertAuthority) -> None:
    leaf = ca.with_intermediate()
    result = await check_leaf(tool, leaf.with_chain(leaf.cert, ca.cert, leaf.chain[1]))
    assert codes(result) == ["chain_misordered"]
    assert result["verdict"] == "warning" and result["trusted"] is True


async def test_weak_key(tool: Tool, ca: CertAuthority) -> None:
    result = await check_leaf(tool, ca.weak_key())
    assert codes(result) == ["weak_key"]
    assert (result["leaf"]["key_type"], result["leaf"]["key_bits"]) == ("rsa", 1024)


async def test_sha1_signature(tool: Tool, ca: CertAuthority) -> None:
    result = await check_leaf(tool, ca.weak_signature())
    assert set(codes(result)) == {"weak_signature", "untrusted_chain"}
    assert result["leaf"]["signature_algorithm"] == "ecdsa-with-SHA1"


async def test_825_day_lifetime(tool: Tool, ca: CertAuthority) -> None:
    now = dt.datetime.now(dt.UTC)
    leaf = ca.issue_leaf(not_before=now - dt.timedelta(days=1), not_after=now + dt.timedelta(days=824))
    result = await check_leaf(tool, leaf)
    assert codes(result) == ["lifetime_too_long"]
    assert result["leaf"]["lifetime_days"] == 825


async def test_must_staple_without_a_staple(tool: Tool, ca: CertAuthority) -> None:
    result = await check_leaf(tool, ca.valid(must_staple=True))
    assert result["leaf"]["must_staple"] is True
    assert result["ocsp_stapled"] is False
    assert codes(result) == ["must_staple_not_stapled"]


async def test_old_tls_version(tool: Tool, ca: CertAuthority) -> None:
    leaf = ca.valid()
    context = leaf.server_ssl_context(security_level=0, minimum_version=ssl.TLSVersion.MINIMUM_SUPPORTED,
                                      maximum_version=ssl.TLSVersion.MINIMUM_SUPPORTED)  # fmt: skip
    result = await check_leaf(tool, leaf, context)
    assert result["tls_version"] == "TLSv1"
    assert codes(result) == ["old_tls_version"]


async def test_alpn_is_reported(tool: Tool, ca: CertAuthority) -> None:
    leaf = ca.valid()
    result = await check_leaf(tool, leaf, leaf.server_ssl_context(alpn_protocols=["h2", "http/1.1"]))
    assert result["alpn"] == "h2"


async def test_connect_ip_overrides_resolution(tool: Tool, ca: CertAuthority) -> None:
    result = await check_leaf(tool, ca.valid(), host="localhost", connect_ip="127.0.0.1")
    assert (result["host"], result["sni"], result["remote_ip"]) == ("localhost", "localhost", "127.0.0.1")
    assert result["verdict"] == "ok"


@pytest.mark.parametrize("protocol", ["smtp", "imap", "pop3", "ftp", "xmpp", "postgres"])
async def test_starttls(tool: Tool, ca: CertAuthority, starttls_server: Any, protocol: str) -> None:
    leaf = ca.valid()
    async with starttls_server(protocol, leaf) as port:
        result = await tool(
            "cert_check", host="localhost", port=port, starttls=protocol, ca_bundle_pem=leaf.ca_pem
        )
    assert result["verdict"] == "ok", result["findings"]
    assert result["starttls"] == protocol
    assert result["leaf"]["sha256_fingerprint"] == leaf.cert.fingerprint(hashes.SHA256()).hex(":").upper()


async def test_starttls_refused(tool: Tool, ca: CertAuthority, starttls_server: Any) -> None:
    async with starttls_server("smtp", ca.valid(), refuse=True) as port:
        result = await tool("cert_check", host="127.0.0.1", port=port, starttls="smtp", timeout_s=3)
    assert codes(result) == ["starttls_failed"]
    assert "454" in result["summary"]


async def test_connection_refused(tool: Tool) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await tool("cert_check", host="127.0.0.1", port=port, timeout_s=2)
    assert result["verdict"] == "critical"
    assert codes(result) == ["connect_refused"]


async def test_plain_tcp_server_is_a_handshake_failure(tool: Tool) -> None:
    async def answer_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_garbage, "127.0.0.1", 0)
    async with server:
        result = await tool(
            "cert_check", host="127.0.0.1", port=server.sockets[0].getsockname()[1], timeout_s=3
        )
    assert codes(result) == ["tls_handshake_failed"]
    assert "something that is not TLS" in result["findings"][0]["message"]
    assert "use http://" in result["findings"][0]["hint"]


async def test_stalled_handshake_times_out(tool: Tool) -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    async with server:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        result = await tool(
            "cert_check", host="127.0.0.1", port=server.sockets[0].getsockname()[1], timeout_s=0.5
        )
        elapsed = loop.time() - t0
    assert codes(result) == ["timeout"]
    assert elapsed < 3


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"host": "bad host!.example"}, "bad host"),
        ({"host": "127.0.0.1", "warn_days": 5, "critical_days": 10}, "critical_days=10 is above warn_days=5"),
        ({"host": "127.0.0.1", "ca_bundle_pem": "not a pem"}, "ca_bundle_pem"),
        ({"host": "127.0.0.1", "connect_ip": "not-an-ip"}, "connect_ip"),
        ({"host": "127.0.0.1", "starttls": "gopher"}, "starttls"),
        ({"host": "127.0.0.1", "timeout_s": 600}, "maximum"),
    ],
)
async def test_invalid_input_is_a_tool_error(
    tool_error: Any, arguments: dict[str, Any], message: str
) -> None:
    assert message in await tool_error("cert_check", **arguments)


@pytest.mark.usefixtures("default_settings")
async def test_loopback_is_refused_by_default_before_any_dial(tool_error: Any) -> None:
    from monitor_common.config import Settings, set_settings

    set_settings(Settings())  # undo allow_loopback: the default policy
    text = await tool_error("cert_check", host="127.0.0.1", port=1)
    assert "refused to connect to 127.0.0.1 (loopback address)" in text
    assert "MCP_MONITOR_ALLOW_NETWORKS" in text


async def test_expired_intermediate(tool: Tool, ca: CertAuthority) -> None:
    now = dt.datetime.now(dt.UTC)
    stale = ca.issue_intermediate("expired intermediate", not_before=now - dt.timedelta(days=400),
                                  not_after=now - dt.timedelta(days=1))  # fmt: skip
    leaf = stale.issue_leaf(not_before=now - dt.timedelta(days=30), not_after=now + dt.timedelta(days=60))
    result = await check_leaf(tool, leaf)
    assert {"chain_contains_expired", "untrusted_chain"} <= set(codes(result))
    (expired,) = [f for f in result["findings"] if f["code"] == "chain_contains_expired"]
    assert expired["severity"] == "critical" and "expired intermediate" in expired["message"]
    assert "outside its validity period" in result["trust_error"]


async def test_ipv6_loopback(tool: Tool, ca: CertAuthority) -> None:
    leaf = ca.valid()
    async with serve_tls(leaf.server_ssl_context(), host="::1") as (_, port):
        result = await tool("cert_check", host="[::1]", port=port, ca_bundle_pem=leaf.ca_pem)
    assert (result["host"], result["remote_ip"], result["hostname_match"]) == ("::1", "::1", True)
    assert result["verdict"] == "ok"
