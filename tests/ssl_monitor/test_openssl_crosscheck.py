"""Cross-checks against the openssl command line on the same loopback servers.

`not_after` and `days_left` must agree with `openssl x509 -enddate` on the certificate the server
sends; `trusted` must agree with `openssl s_client -verify_return_error -CAfile` given the same CA
bundle (neither checks the host name here: s_client does not without -verify_hostname, and
`trusted` is judged apart from `hostname_match`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from support.certs import CertAuthority, Leaf, serve_tls

pytestmark = [
    pytest.mark.usefixtures("allow_loopback"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]

Tool = Callable[..., Awaitable[dict[str, Any]]]


async def run(*command: str, stdin: bytes = b"") -> tuple[int, bytes]:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(process.communicate(stdin), 20)
    assert process.returncode is not None
    return process.returncode, stdout


async def openssl_enddate(port: int) -> dt.datetime:
    _, shown = await run("openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost")
    code, out = await run("openssl", "x509", "-enddate", "-noout", stdin=shown)
    assert code == 0, shown[-400:]
    text = out.decode().strip().removeprefix("notAfter=")
    return dt.datetime.strptime(text, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=dt.UTC)


async def openssl_trusts(port: int, ca_file: Path) -> bool:
    code, _ = await run(
        "openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
        "-verify_return_error", "-CAfile", str(ca_file), "-no-CApath", "-no-CAstore",
    )  # fmt: skip
    return code == 0


def cases(ca: CertAuthority) -> dict[str, Leaf]:
    inter = ca.with_intermediate()
    return {
        "valid": ca.valid(),
        "expiring_in_3": ca.expiring_in(3),
        "expired": ca.expired(days_ago=2),
        "not_yet_valid": ca.not_yet_valid(),
        "wrong_host": ca.wrong_host(),
        "self_signed": ca.self_signed(),
        "with_intermediate": inter,
        "with_extra_root": inter.with_chain(*inter.chain, ca.cert),
        "misordered": inter.with_chain(inter.cert, ca.cert, inter.chain[1]),
        "without_intermediate": ca.without_intermediate(),
        "sha1_signed": ca.weak_signature(),
    }


CASES = [
    "valid", "expiring_in_3", "expired", "not_yet_valid", "wrong_host", "self_signed", "with_intermediate",
    "with_extra_root", "misordered", "without_intermediate", "sha1_signed",
]  # fmt: skip


@pytest.fixture(scope="module")
def leaves() -> dict[str, Leaf]:
    return cases(CertAuthority("cross-check root"))


@pytest.mark.parametrize("case", CASES)
async def test_agrees_with_openssl(tool: Tool, leaves: dict[str, Leaf], case: str, tmp_path: Path) -> None:
    leaf = leaves[case]
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text(leaf.ca_pem)
    async with serve_tls(leaf.server_ssl_context()) as (_, port):
        ours = await tool(
            "cert_check", host="127.0.0.1", port=port, sni="localhost", ca_bundle_pem=leaf.ca_pem
        )
        now = dt.datetime.now(dt.UTC)
        enddate = await openssl_enddate(port)
        trusted = await openssl_trusts(port, ca_file)
    assert ours["not_after"] == enddate.isoformat().replace("+00:00", "Z")
    assert abs(ours["days_left"] - (enddate - now).total_seconds() / 86400) < 0.01
    assert ours["trusted"] is trusted, ours["trust_error"]


async def test_rsa_1024_is_the_one_known_difference(tool: Tool, tmp_path: Path) -> None:
    # OpenSSL at its default security level (2) rejects an RSA key under 2048 bits while verifying;
    # the web PKI profile of cryptography accepts it. cert_check reports the chain as trusted and
    # flags the key with weak_key (critical), so the verdict agrees even though `trusted` does not.
    ca = CertAuthority("rsa cross-check root")
    leaf = ca.weak_key()
    (tmp_path / "ca.pem").write_text(leaf.ca_pem)
    async with serve_tls(leaf.server_ssl_context()) as (_, port):
        ours = await tool(
            "cert_check", host="127.0.0.1", port=port, sni="localhost", ca_bundle_pem=leaf.ca_pem
        )
        trusted = await openssl_trusts(port, tmp_path / "ca.pem")
    assert (ours["trusted"], trusted) == (True, False)
    assert [f["code"] for f in ours["findings"]] == ["weak_key"] and ours["verdict"] == "critical"


async def test_a_pinned_self_signed_certificate(tool: Tool, tmp_path: Path) -> None:
    # The caller's bundle holds the self-signed certificate itself: both call it trusted.
    leaf = CertAuthority("pinning").self_signed()
    (tmp_path / "pinned.pem").write_text(leaf.cert_pem)
    async with serve_tls(leaf.server_ssl_context()) as (_, port):
        ours = await tool(
            "cert_check", host="127.0.0.1", port=port, sni="localhost", ca_bundle_pem=leaf.cert_pem
        )
        trusted = await openssl_trusts(port, tmp_path / "pinned.pem")
    assert ours["trusted"] is trusted is True
    assert [(f["code"], f["severity"]) for f in ours["findings"]] == [("self_signed", "warning")]
