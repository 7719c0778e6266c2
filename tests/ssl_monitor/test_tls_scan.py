"""tls_scan against loopback servers that accept chosen versions, suites and ALPN protocols."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from monitor_common.context import CheckContext
from ssl_monitor.handshake import HandshakeFailure
from ssl_monitor.scan import classify_failure
from support.certs import CertAuthority, Leaf, serve_tls

pytestmark = pytest.mark.usefixtures("allow_loopback")

Tool = Callable[..., Awaitable[dict[str, Any]]]


def states(result: dict[str, Any]) -> dict[str, str]:
    return {p["version"]: p["state"] for p in result["protocols"]}


def codes(result: dict[str, Any]) -> list[str]:
    return [f["code"] for f in result["findings"]]


async def scan(tool: Tool, context: ssl.SSLContext, **arguments: Any) -> dict[str, Any]:
    async with serve_tls(context) as (_, port):
        return await tool("tls_scan", host="127.0.0.1", port=port, **arguments)


@pytest.fixture(scope="module")
def rsa_leaf() -> Leaf:
    # An RSA leaf, so that TLS 1.0/1.1 (which sign with SHA-1/MD5 at most) can still be served.
    return CertAuthority().valid(key_type="rsa")


async def test_tls12_only_server(tool: Tool, ca: CertAuthority) -> None:
    context = ca.valid().server_ssl_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    result = await scan(tool, context)
    assert states(result) == {
        "TLSv1": "disabled",
        "TLSv1.1": "disabled",
        "TLSv1.2": "enabled",
        "TLSv1.3": "disabled",
    }
    assert codes(result) == ["tls13_missing"]
    (tls12,) = [p for p in result["protocols"] if p["version"] == "TLSv1.2"]
    # Python's default server suites for an EC key: every one found, all with forward secrecy.
    assert set(tls12["ciphers"]) >= {"ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256"}
    assert all(name.startswith("ECDHE-ECDSA") for name in tls12["ciphers"])
    assert tls12["forward_secrecy"] is True and result["forward_secrecy"] is True


async def test_tls13_only_server(tool: Tool, ca: CertAuthority) -> None:
    context = ca.valid().server_ssl_context(minimum_version=ssl.TLSVersion.TLSv1_3)
    result = await scan(tool, context)
    assert states(result) == {
        "TLSv1": "disabled",
        "TLSv1.1": "disabled",
        "TLSv1.2": "disabled",
        "TLSv1.3": "enabled",
    }
    assert result["verdict"] == "ok" and result["findings"] == []
    (tls13,) = [p for p in result["protocols"] if p["version"] == "TLSv1.3"]
    assert tls13["ciphers"] == ["TLS_AES_256_GCM_SHA384"] and "TLS 1.3 suites" in tls13["ciphers_note"]


async def test_old_versions_are_found_not_called_untestable(tool: Tool, rsa_leaf: Leaf) -> None:
    # OpenSSL 3 refuses TLS 1.0 and 1.1 at its default security level: the scan lowers it.
    context = rsa_leaf.server_ssl_context(security_level=0, minimum_version=ssl.TLSVersion.MINIMUM_SUPPORTED)
    result = await scan(tool, context)
    assert states(result) == {
        "TLSv1": "enabled",
        "TLSv1.1": "enabled",
        "TLSv1.2": "enabled",
        "TLSv1.3": "enabled",
    }
    assert codes(result) == ["tls10_enabled", "tls11_enabled"]
    assert result["verdict"] == "warning"


async def test_weak_suites_are_found_by_elimination(tool: Tool, ca: CertAuthority) -> None:
    context = ca.valid().server_ssl_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    context.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0")
    result = await scan(tool, context)
    (tls12,) = [p for p in result["protocols"] if p["version"] == "TLSv1.2"]
    assert sorted(tls12["ciphers"]) == ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-NULL-SHA"]
    assert result["weak_ciphers"] == ["ECDHE-ECDSA-NULL-SHA"]
    assert "weak_cipher" in codes(result) and result["verdict"] == "critical"


async def test_weak_families_this_host_cannot_offer_are_listed_as_not_testable(
    tool: Tool, ca: CertAuthority
) -> None:
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    local = " ".join(c["name"] for c in probe.get_ciphers())
    expected = [family for family, marker in (("NULL", "NULL"), ("EXPORT", "EXP"), ("RC4", "RC4"), ("3DES", "DES-CBC3"))
                if marker not in local]  # fmt: skip
    result = await scan(tool, ca.valid().server_ssl_context())
    assert result["weak_ciphers_not_testable"] == expected


@pytest.mark.parametrize(
    ("offered", "accepted"),
    [(["h2", "http/1.1"], ["h2", "http/1.1"]), (["http/1.1"], ["http/1.1"]), (None, [])],
)
async def test_alpn(tool: Tool, ca: CertAuthority, offered: list[str] | None, accepted: list[str]) -> None:
    result = await scan(tool, ca.valid().server_ssl_context(alpn_protocols=offered))
    assert result["alpn"] == accepted


async def test_scan_over_starttls(tool: Tool, ca: CertAuthority, starttls_server: Any) -> None:
    async with starttls_server("smtp", ca.valid()) as port:
        result = await tool("tls_scan", host="127.0.0.1", port=port, starttls="smtp")
    assert states(result)["TLSv1.3"] == "enabled" and result["starttls"] == "smtp"


async def test_unreachable_target_is_one_finding(tool: Tool) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await tool("tls_scan", host="127.0.0.1", port=port)
    assert codes(result) == ["connect_refused"] and result["protocols"] == []


@pytest.mark.parametrize(
    ("reason", "code", "state"),
    [
        ("NO_PROTOCOLS_AVAILABLE", "tls_handshake_failed", "not_testable"),
        ("NO_CIPHERS_AVAILABLE", "tls_handshake_failed", "not_testable"),
        ("TLSV1_ALERT_PROTOCOL_VERSION", "tls_handshake_failed", "disabled"),
        ("UNSUPPORTED_PROTOCOL", "tls_handshake_failed", "disabled"),
        (None, "tls_handshake_failed", "disabled"),
        (None, "timeout", "error"),
        (None, "connect_refused", "error"),
    ],
)
def test_a_failure_on_this_side_is_never_called_disabled(reason: str | None, code: str, state: str) -> None:
    assert classify_failure(HandshakeFailure(code, "m", "h", ssl_reason=reason)) == state


async def test_tls10_at_the_default_security_level_is_a_local_limit(
    rsa_leaf: Leaf, loopback_ctx: CheckContext
) -> None:
    # What the scan would have said had it not lowered the security level: OpenSSL 3 cannot even
    # offer TLS 1.0 at level 2 (no suite qualifies), so the server was never asked.
    import warnings

    from ssl_monitor.handshake import handshake

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1
    server = rsa_leaf.server_ssl_context(security_level=0, minimum_version=ssl.TLSVersion.MINIMUM_SUPPORTED)
    async with serve_tls(server) as (_, port):
        with pytest.raises(HandshakeFailure) as failure:
            await handshake("127.0.0.1", port, loopback_ctx, timeout_s=3, sni=None, context=context)
    assert failure.value.ssl_reason == "NO_CIPHERS_AVAILABLE"
    assert classify_failure(failure.value) == "not_testable"
