"""STARTTLS against real mail servers on loopback: dovecot (IMAP, POP3) and postfix (SMTP).

The Python STARTTLS servers of conftest.py stand in for these elsewhere; here the dialogue is the
real servers' own. Each case mints its certificate, writes its own configuration and asserts the
certificate seen is the one served, trusted through the CA given; the scan's accepted TLS 1.2
suites are exactly what OpenSSL makes of the configured cipher list for an ECDSA key.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from support.certs import CertAuthority, Leaf
from support.mail_daemons import DOVECOT, POSTFIX, dovecot, postfix

pytestmark = pytest.mark.usefixtures("allow_loopback")

Tool = Callable[..., Awaitable[dict[str, Any]]]
needs_dovecot = pytest.mark.skipif(
    DOVECOT is None, reason="dovecot is not installed (dovecot-imapd, dovecot-pop3d) or not root"
)
needs_postfix = pytest.mark.skipif(POSTFIX is None, reason="postfix is not installed or not root")

CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE-ECDSA-AES256-SHA"
TLS13_DEFAULT = {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"}


def tls12_suites(cipher_list: str) -> set[str]:
    """The IANA names OpenSSL gives `cipher_list` for TLS 1.2, with ECDSA authentication (the
    minted leaf's key); TLS 1.3 suites are configured apart and left out."""
    listed = subprocess.run(
        ["openssl", "ciphers", "-stdname", cipher_list],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    suites: set[str] = set()
    for line in listed.splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[3] != "TLSv1.3" and "Au=ECDSA" in fields:
            suites.add(fields[0])
    return suites


def fingerprint(leaf: Leaf) -> str:
    return leaf.cert.fingerprint(hashes.SHA256()).hex(":").upper()


def assert_seen(result: dict[str, Any], leaf: Leaf, starttls: str) -> None:
    assert result["leaf"]["sha256_fingerprint"] == fingerprint(leaf)
    assert result["leaf"]["subject"] == leaf.cert.subject.rfc4514_string()
    assert (result["verdict"], result["trusted"], result["hostname_match"]) == ("ok", True, True), result
    assert result["findings"] == []


@needs_dovecot
@pytest.mark.parametrize("protocol", ["imap", "pop3"])
async def test_cert_check_over_dovecot(tool: Tool, ca: CertAuthority, tmp_path: Path, protocol: str) -> None:
    leaf = ca.valid((f"{protocol}.mail.test",))
    with dovecot(tmp_path, leaf) as ports:
        result = await tool(
            "cert_check",
            host="127.0.0.1",
            port=ports[protocol],
            starttls=protocol,
            sni=f"{protocol}.mail.test",
            ca_bundle_pem=ca.cert_pem,
        )
    assert_seen(result, leaf, protocol)


@needs_postfix
async def test_cert_check_over_postfix(tool: Tool, ca: CertAuthority, tmp_path: Path) -> None:
    leaf = ca.valid(("mx.mail.test",))
    with postfix(tmp_path, leaf) as port:
        result = await tool(
            "cert_check",
            host="127.0.0.1",
            port=port,
            starttls="smtp",
            sni="mx.mail.test",
            ca_bundle_pem=ca.cert_pem,
        )
    assert_seen(result, leaf, "smtp")


def suites(result: dict[str, Any]) -> dict[str, set[str]]:
    return {p["version"]: set(p["ciphers"]) for p in result["protocols"] if p["state"] == "enabled"}


@needs_dovecot
async def test_tls_scan_over_dovecot_imap_finds_the_configured_suites(
    tool: Tool, ca: CertAuthority, tmp_path: Path
) -> None:
    expected = tls12_suites(CIPHERS)
    assert "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA" in expected and len(expected) == 4
    with dovecot(tmp_path, ca.valid(), ciphers=CIPHERS) as ports:
        result = await tool("tls_scan", host="127.0.0.1", port=ports["imap"], starttls="imap")
    assert result["starttls"] == "imap"
    assert suites(result) == {"TLSv1.2": expected, "TLSv1.3": TLS13_DEFAULT}


@needs_postfix
async def test_tls_scan_over_postfix_finds_the_configured_suites(
    tool: Tool, ca: CertAuthority, tmp_path: Path
) -> None:
    with postfix(tmp_path, ca.valid(), ciphers=CIPHERS) as port:
        result = await tool("tls_scan", host="127.0.0.1", port=port, starttls="smtp")
    assert result["starttls"] == "smtp"
    assert suites(result) == {"TLSv1.2": tls12_suites(CIPHERS), "TLSv1.3": TLS13_DEFAULT}


@needs_dovecot
@needs_postfix
async def test_cert_check_many_over_both_servers(tool: Tool, ca: CertAuthority, tmp_path: Path) -> None:
    mx = ca.valid(("mx.mail.test",))
    imap = ca.expiring_in(5, ("imap.mail.test",))
    (tmp_path / "dovecot").mkdir()
    (tmp_path / "postfix").mkdir()
    with contextlib.ExitStack() as stack:
        smtp_port = stack.enter_context(postfix(tmp_path / "postfix", mx))
        ports = stack.enter_context(dovecot(tmp_path / "dovecot", imap))
        targets: list[Any] = [
            {"host": "mx.mail.test", "port": smtp_port, "starttls": "smtp", "connect_ip": "127.0.0.1"},
            {"host": "127.0.0.1", "port": ports["imap"], "starttls": "imap", "sni": "imap.mail.test"},
        ]
        result = await tool("cert_check_many", targets=targets, ca_bundle_pem=ca.cert_pem)
    rows = {row["target"]: row for row in result["rows"]}
    mx_row = rows[f"mx.mail.test:{smtp_port} (starttls smtp, via 127.0.0.1)"]
    assert (mx_row["verdict"], mx_row["hostname_match"], mx_row["trusted"]) == ("ok", True, True)
    imap_row = rows[f"127.0.0.1:{ports['imap']} (starttls imap, sni imap.mail.test)"]
    assert [f["code"] for f in imap_row["findings"]] == ["cert_expiring_soon"]
    assert result["counts"] == {"ok": 1, "warning": 0, "critical": 1, "unknown": 0}
