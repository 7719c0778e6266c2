"""tls_scan against real servers on loopback that accept exactly the versions, suites and groups each case sets.

Python's own TLS server (asyncio) for the simple cases, nginx for what OpenSSL 3 still serves at
@SECLEVEL=0 (anonymous and NULL suites, DH parameters of our choosing, TLS 1.0), and GnuTLS's
gnutls-serv for what it will not (3DES and CAMELLIA with RSA key exchange). Each case asserts the
exact accepted set per version: the scan must find everything the server accepts and nothing else.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from support.certs import CertAuthority, Leaf, serve_tls
from support.tls_daemons import GNUTLS, NGINX, dh_params, gnutls_serv, nginx_tls

pytestmark = pytest.mark.usefixtures("allow_loopback")

Tool = Callable[..., Awaitable[dict[str, Any]]]
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
needs_gnutls = pytest.mark.skipif(GNUTLS is None, reason="gnutls-serv is not installed (gnutls-bin)")

TLS13_DEFAULT = {"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"}


def states(result: dict[str, Any]) -> dict[str, str]:
    return {p["version"]: p["state"] for p in result["protocols"]}


def suites(result: dict[str, Any]) -> dict[str, set[str]]:
    """Accepted suites per enabled version."""
    return {p["version"]: set(p["ciphers"]) for p in result["protocols"] if p["state"] == "enabled"}


def codes(result: dict[str, Any]) -> list[str]:
    return sorted(f["code"] for f in result["findings"])


def group_names(result: dict[str, Any], version: str | None = None) -> set[str]:
    return {g["name"] for g in result["groups"] if version is None or version in g["protocols"]}


@pytest.fixture(scope="module")
def rsa_leaf() -> Leaf:
    return CertAuthority().valid(key_type="rsa")


async def scan_python(tool: Tool, context: ssl.SSLContext, **arguments: Any) -> dict[str, Any]:
    async with serve_tls(context) as (_, port):
        return await tool("tls_scan", host="127.0.0.1", port=port, **arguments)


async def test_tls12_only_python_server(tool: Tool, ca: CertAuthority) -> None:
    context = ca.valid().server_ssl_context(maximum_version=ssl.TLSVersion.TLSv1_2)
    context.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-SHA")
    result = await scan_python(tool, context)
    # Python's server contexts start at TLS 1.2.
    assert states(result) == {"SSLv3": "disabled", "TLSv1": "disabled", "TLSv1.1": "disabled",
                              "TLSv1.2": "enabled", "TLSv1.3": "disabled"}  # fmt: skip
    assert suites(result) == {
        "TLSv1.2": {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
    }
    assert codes(result) == ["tls13_missing"]
    assert result["forward_secrecy"] is True
    assert "ecdsa_secp256r1_sha256" in result["signature_algorithms"]


async def test_every_tls13_suite_and_group_is_listed_not_only_the_chosen_one(
    tool: Tool, ca: CertAuthority
) -> None:
    context = ca.valid().server_ssl_context(minimum_version=ssl.TLSVersion.TLSv1_3)
    result = await scan_python(tool, context)
    assert states(result)["TLSv1.3"] == "enabled" and set(states(result).values()) == {"enabled", "disabled"}
    assert suites(result) == {"TLSv1.3": TLS13_DEFAULT}
    # OpenSSL 3.0's default TLS 1.3 groups, each proven by a HelloRetryRequest that names it.
    ffdhe = {f"ffdhe{bits}" for bits in (2048, 3072, 4096, 6144, 8192)}
    assert group_names(result, "TLSv1.3") == {"x25519", "secp256r1", "secp384r1", "secp521r1", "x448"} | ffdhe
    assert result["verdict"] == "ok" and result["findings"] == []


async def test_scan_over_starttls_has_the_same_depth(
    tool: Tool, ca: CertAuthority, starttls_server: Any
) -> None:
    async with starttls_server("smtp", ca.valid()) as port:
        result = await tool("tls_scan", host="127.0.0.1", port=port, starttls="smtp")
    assert result["starttls"] == "smtp"
    assert suites(result)["TLSv1.3"] == TLS13_DEFAULT
    assert "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" in suites(result)["TLSv1.2"]
    assert "x25519" in group_names(result)


async def test_unreachable_target_is_one_finding(tool: Tool) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = await tool("tls_scan", host="127.0.0.1", port=port)
    assert codes(result) == ["connect_refused"] and result["protocols"] == []


@pytest.mark.parametrize(
    ("offered", "accepted"),
    [(["h2", "http/1.1"], ["h2", "http/1.1"]), (["http/1.1"], ["http/1.1"]), (None, [])],
)
async def test_alpn(tool: Tool, ca: CertAuthority, offered: list[str] | None, accepted: list[str]) -> None:
    result = await scan_python(tool, ca.valid().server_ssl_context(alpn_protocols=offered))
    assert result["alpn"] == accepted


@needs_gnutls
async def test_gnutls_legacy_suites_openssl3_will_not_offer(
    tool: Tool, rsa_leaf: Leaf, tmp_path: Path
) -> None:
    priority = ("NONE:+VERS-TLS1.2:+VERS-TLS1.1:+VERS-TLS1.0:+3DES-CBC:+AES-128-CBC:+CAMELLIA-128-CBC"
                ":+SHA1:+RSA:+COMP-NULL:+SIGN-ALL:+CURVE-ALL")  # fmt: skip
    with gnutls_serv(tmp_path, rsa_leaf, priority) as port:
        result = await tool("tls_scan", host="127.0.0.1", port=port)
    expected = {
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
    }
    assert suites(result) == {"TLSv1": expected, "TLSv1.1": expected, "TLSv1.2": expected}
    assert codes(result) == ["cbc_only", "no_forward_secrecy", "tls10_enabled", "tls11_enabled",
                             "tls13_missing", "weak_cipher"]  # fmt: skip
    assert result["verdict"] == "critical" and result["forward_secrecy"] is False
    assert result["weak_ciphers"] == ["TLS_RSA_WITH_3DES_EDE_CBC_SHA"]
    assert result["groups"] == [] and result["signature_algorithms"] == []  # no ephemeral key exchange
    assert result["mozilla"]["profile"] is None and result["mozilla"]["next_profile"] == "old"
    assert "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA" in result["mozilla"]["misses"][0]


@needs_gnutls
async def test_gnutls_dhe_with_1024_bit_parameters(tool: Tool, rsa_leaf: Leaf, tmp_path: Path) -> None:
    priority = "NONE:+VERS-TLS1.2:+AES-128-GCM:+AEAD:+DHE-RSA:+COMP-NULL:+SIGN-RSA-SHA256:+SIGN-RSA-SHA384:+GROUP-ALL"
    with gnutls_serv(tmp_path, rsa_leaf, priority, dhparams=dh_params(tmp_path, 1024)) as port:
        result = await tool("tls_scan", host="127.0.0.1", port=port)
    assert suites(result) == {"TLSv1.2": {"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"}}
    assert [g["name"] for g in result["groups"]] == ["dh-1024"]
    assert set(result["signature_algorithms"]) == {"rsa_pkcs1_sha256", "rsa_pkcs1_sha384"}
    assert codes(result) == ["tls13_missing", "weak_dh"]
    assert result["mozilla"]["profile"] == "old"
    assert any("DH parameters of 1024 bits" in reason for reason in result["mozilla"]["misses"])


@needs_nginx
async def test_nginx_intermediate_profile(tool: Tool, ca: CertAuthority, tmp_path: Path) -> None:
    with nginx_tls(
        tmp_path,
        ca.valid(),
        protocols="TLSv1.2 TLSv1.3",
        ciphers="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305",
        ecdh_curve="X25519:prime256v1",
        conf_commands="Ciphersuites TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256",
    ) as port:
        result = await tool("tls_scan", host="127.0.0.1", port=port)
    assert suites(result) == {
        "TLSv1.2": {
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        },
        "TLSv1.3": {"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"},
    }
    assert group_names(result) == {"x25519", "secp256r1"}
    assert result["verdict"] == "ok" and result["findings"] == []
    mozilla = result["mozilla"]
    assert (mozilla["profile"], mozilla["next_profile"]) == ("intermediate", "modern")
    assert mozilla["misses"][0].startswith("accepts TLSv1.2; modern allows only TLSv1.3")
    assert "Mozilla profile: intermediate" in result["summary"]


@needs_nginx
async def test_nginx_tls13_only_without_x25519_is_found_by_retry_requests(
    tool: Tool, ca: CertAuthority, tmp_path: Path
) -> None:
    with nginx_tls(tmp_path, ca.valid(), protocols="TLSv1.3", ecdh_curve="secp384r1") as port:
        result = await tool("tls_scan", host="127.0.0.1", port=port)
    assert suites(result) == {"TLSv1.3": TLS13_DEFAULT}
    assert group_names(result) == {"secp384r1"}
    assert result["mozilla"]["profile"] == "modern" and result["verdict"] == "ok"


@needs_nginx
async def test_nginx_anonymous_and_null_suites(tool: Tool, rsa_leaf: Leaf, tmp_path: Path) -> None:
    with nginx_tls(
        tmp_path,
        rsa_leaf,
        protocols="TLSv1.2",
        ciphers="ECDHE-RSA-AES128-GCM-SHA256:ADH-AES128-SHA:NULL-SHA256:@SECLEVEL=0",
        ecdh_curve="prime256v1",
        dhparam=dh_params(tmp_path, 2048),
    ) as port:
        result = await tool("tls_scan", host="127.0.0.1", port=port)
    assert suites(result) == {
        "TLSv1.2": {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_DH_anon_WITH_AES_128_CBC_SHA",
                    "TLS_RSA_WITH_NULL_SHA256"},
    }  # fmt: skip
    assert codes(result) == ["anonymous_cipher", "null_cipher", "tls13_missing"]
    assert result["verdict"] == "critical"
    assert set(result["weak_ciphers"]) == {"TLS_DH_anon_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_NULL_SHA256"}


@needs_nginx
async def test_nginx_legacy_versions_dh_and_curves(tool: Tool, rsa_leaf: Leaf, tmp_path: Path) -> None:
    with nginx_tls(
        tmp_path,
        rsa_leaf,
        protocols="TLSv1 TLSv1.1 TLSv1.2",
        ciphers="ECDHE-RSA-AES128-SHA:DHE-RSA-AES256-SHA:AES128-SHA:@SECLEVEL=0",
        ecdh_curve="prime256v1:secp224r1",
        dhparam=dh_params(tmp_path, 1024),
    ) as port:
        result = await tool("tls_scan", host="127.0.0.1", port=port)
    expected = {
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
    }
    assert suites(result) == {"TLSv1": expected, "TLSv1.1": expected, "TLSv1.2": expected}
    assert group_names(result) == {"secp256r1", "secp224r1", "dh-1024"}
    assert codes(result) == [
        "cbc_only",
        "tls10_enabled",
        "tls11_enabled",
        "tls13_missing",
        "unusual_curve",
        "weak_dh",
    ]
    assert result["verdict"] == "warning"


class _Ssl3Only:
    """A server that speaks only SSLv3 with two suites (nothing on this machine serves SSLv3 any
    more): it answers an SSLv3 ClientHello offering one of them with a ServerHello that selects it
    (server order: 3DES, then RC4), and anything else with a handshake_failure alert."""

    ACCEPTED = (0x000A, 0x0005)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            header = await reader.readexactly(5)
            body = await reader.readexactly(int.from_bytes(header[3:5], "big"))
            version = body[4:6]
            at = 38 + body[38]
            count = int.from_bytes(body[at + 1 : at + 3], "big") // 2
            offered = {int.from_bytes(body[at + 3 + 2 * i : at + 5 + 2 * i], "big") for i in range(count)}
            chosen = next((suite for suite in self.ACCEPTED if suite in offered), None)
            if version != b"\x03\x00" or chosen is None:
                writer.write(b"\x15\x03\x00\x00\x02\x02\x28")  # fatal handshake_failure
            else:
                hello = b"\x03\x00" + bytes(32) + b"\x00" + chosen.to_bytes(2, "big") + b"\x00"
                message = b"\x02" + len(hello).to_bytes(3, "big") + hello
                writer.write(b"\x16\x03\x00" + len(message).to_bytes(2, "big") + message)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()


async def test_an_sslv3_only_server(tool: Tool) -> None:
    server = await asyncio.start_server(_Ssl3Only().handle, "127.0.0.1", 0)
    try:
        result = await tool("tls_scan", host="127.0.0.1", port=server.sockets[0].getsockname()[1])
    finally:
        server.close()
    assert states(result) == {"SSLv3": "enabled", "TLSv1": "disabled", "TLSv1.1": "disabled",
                              "TLSv1.2": "disabled", "TLSv1.3": "disabled"}  # fmt: skip
    assert result["protocols"][0]["ciphers"] == ["TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_RC4_128_SHA"]
    assert codes(result) == ["modern_tls_missing", "no_forward_secrecy", "ssl3_enabled", "weak_cipher"]
    assert result["verdict"] == "critical" and result["mozilla"]["profile"] is None
