"""The staple is the first source of revocation: real answers made and signed by `openssl ocsp`,
stapled by nginx (`ssl_stapling_file`), beside responders that answer, are down or hang."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from support.certs import CertAuthority, serve_tls
from support.ocsp_daemons import OpensslResponder, nginx_stapling
from support.tls_daemons import NGINX

pytestmark = [
    pytest.mark.usefixtures("allow_loopback"),
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed (.ci/run installs it)"),
]

Tool = Callable[..., Awaitable[dict[str, Any]]]


def codes(result: dict[str, Any]) -> list[str]:
    return [f["code"] for f in result["findings"]]


def methods(result: dict[str, Any]) -> list[str]:
    return [s["method"] for s in result["sources"]]


@pytest.fixture
async def responder(tmp_path: Path, ca: CertAuthority) -> AsyncIterator[OpensslResponder]:
    running = OpensslResponder(tmp_path / "ocsp", ca)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def hung_url() -> AsyncIterator[str]:
    """A responder that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        for writer in held:
            writer.close()
        server.close()


@pytest.mark.parametrize("revoked", [False, True])
async def test_openssl_ocsp_answers_are_verified(
    tool: Tool, ca: CertAuthority, responder: OpensslResponder, revoked: bool
) -> None:
    leaf = ca.issue_leaf(ocsp_url=responder.url)
    when = responder.revoke(leaf) if revoked else None
    if not revoked:
        responder.add(leaf)
    async with serve_tls(leaf.server_ssl_context()) as (_, port):  # staples nothing: the responder is asked
        result = await tool("cert_revocation", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem)
    (source,) = result["sources"]
    assert (source["method"], source["signature_valid"]) == ("ocsp", True)
    assert responder.requests == 1
    if when is None:
        assert (result["status"], result["verdict"], source["status"]) == ("good", "ok", "good")
    else:
        assert (result["status"], result["verdict"]) == ("revoked", "critical")
        assert result["revoked_at"] == when.isoformat().replace("+00:00", "Z")
        assert result["revocation_reason"] == "keyCompromise"


async def test_nginx_stapling_a_revoked_response(
    tool: Tool, ca: CertAuthority, responder: OpensslResponder, tmp_path: Path
) -> None:
    leaf = ca.issue_leaf(ocsp_url=responder.url)
    responder.revoke(leaf)
    with nginx_stapling(tmp_path / "nginx", leaf, responder.staple(leaf)) as port:
        checked = await tool("cert_check", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem)
        revocation = await tool("cert_revocation", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem)
        many = await tool("cert_check_many", targets=[f"127.0.0.1:{port}"], ca_bundle_pem=leaf.ca_pem)
    # cert_check reads the staple itself: "ok" never stands beside a revoked staple.
    assert checked["ocsp_stapled"] is True
    assert checked["verdict"] == "critical" and "cert_revoked" in codes(checked)
    (revoked,) = [f for f in checked["findings"] if f["code"] == "cert_revoked"]
    assert "stapled OCSP response" in revoked["message"] and revoked["severity"] == "critical"
    (row,) = many["rows"]  # an inventory row too
    assert row["verdict"] == "critical" and "cert_revoked" in [f["code"] for f in row["findings"]]
    # cert_revocation answers from the staple, and asks the responder nothing.
    assert (revocation["status"], methods(revocation)) == ("revoked", ["ocsp_stapled"])
    assert revocation["sources"][0]["signature_valid"] is True
    assert revocation["revocation_reason"] == "keyCompromise"
    assert responder.requests == 0


async def test_a_good_staple_answers_when_the_responder_is_down(
    tool: Tool, ca: CertAuthority, responder: OpensslResponder, tmp_path: Path
) -> None:
    leaf = ca.issue_leaf(ocsp_url=responder.url, crl_url=f"{responder.url}crl")
    responder.add(leaf)
    staple = responder.staple(leaf)
    await responder.stop()  # the responder and the CRL server are down
    with nginx_stapling(tmp_path / "nginx", leaf, staple) as port:
        checked = await tool("cert_check", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem)
        result = await tool("cert_revocation", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem)
    assert (result["status"], result["verdict"], methods(result)) == ("good", "ok", ["ocsp_stapled"])
    assert checked["verdict"] == "ok" and checked["ocsp_stapled"] is True


@pytest.mark.parametrize("timeout_s", [2.0, 6.0])
async def test_a_hung_responder_does_not_take_the_staples_time(
    tool: Tool,
    ca: CertAuthority,
    responder: OpensslResponder,
    hung_url: str,
    tmp_path: Path,
    timeout_s: float,
) -> None:
    # The certificate names a responder and a CRL server that accept and never answer.
    leaf = ca.issue_leaf(ocsp_url=f"{hung_url}/ocsp", crl_url=f"{hung_url}/crl")
    responder.add(leaf)
    with nginx_stapling(tmp_path / "nginx", leaf, responder.staple(leaf)) as port:
        started = time.monotonic()
        result = await tool(
            "cert_revocation", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem, timeout_s=timeout_s
        )
        elapsed = time.monotonic() - started
    assert (result["status"], result["verdict"], methods(result)) == ("good", "ok", ["ocsp_stapled"])
    assert elapsed < timeout_s  # answered from the staple within the budget, whatever the budget


async def test_an_inconclusive_staple_leaves_the_fetches_the_rest_of_the_time(
    tool: Tool, ca: CertAuthority, responder: OpensslResponder, hung_url: str, tmp_path: Path
) -> None:
    # A staple openssl made for a certificate its index does not hold says "unknown": the
    # responders are then asked, and hang; the call still ends within its time limit.
    leaf = ca.issue_leaf(ocsp_url=f"{hung_url}/ocsp")
    with nginx_stapling(tmp_path / "nginx", leaf, responder.staple(leaf)) as port:
        started = time.monotonic()
        result = await tool(
            "cert_revocation", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem, timeout_s=2
        )
        elapsed = time.monotonic() - started
    assert methods(result) == ["ocsp_stapled", "ocsp"]
    assert result["sources"][0]["status"] == "unknown"
    assert result["sources"][0]["reason"] == "the responder does not know this certificate"
    assert (result["status"], result["verdict"]) == ("unknown", "unknown")
    assert elapsed < 2 + 1.5  # the time limit, and what a loaded machine adds to returning
