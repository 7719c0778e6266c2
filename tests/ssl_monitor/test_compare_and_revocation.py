"""cert_compare_endpoints over several loopback addresses, and cert_revocation against a local CRL and OCSP responder."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from support.certs import CertAuthority, Leaf
from support.dns_server import DNSServer, zone

Tool = Callable[..., Awaitable[dict[str, Any]]]
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


def codes(result: dict[str, Any]) -> list[str]:
    return [f["code"] for f in result["findings"]]


def fingerprint(leaf: Leaf) -> str:
    return leaf.cert.fingerprint(hashes.SHA256()).hex(":").upper()


@contextlib.asynccontextmanager
async def same_port(contexts: dict[str, ssl.SSLContext]) -> AsyncIterator[int]:
    """TLS servers on one port of several loopback addresses, each with its own certificate."""

    async def close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    for _ in range(20):
        servers: list[asyncio.Server] = []
        try:
            port = 0
            for address, context in contexts.items():
                server = await asyncio.start_server(close, address, port, ssl=context)
                port = server.sockets[0].getsockname()[1]
                servers.append(server)
        except OSError:  # the port was taken on another address: try another
            for server in servers:
                server.close()
            continue
        try:
            yield port
        finally:
            for server in servers:
                server.close()
                await server.wait_closed()
        return
    raise RuntimeError("no port free on every address")


@pytest.mark.usefixtures("allow_loopback")
async def test_one_address_serves_an_old_certificate(tool: Tool, ca: CertAuthority) -> None:
    new, old = ca.valid(), ca.expiring_in(2)
    contexts = {"127.0.0.1": new.server_ssl_context(), "127.0.0.2": old.server_ssl_context(),
                "127.0.0.3": new.server_ssl_context()}  # fmt: skip
    async with same_port(contexts) as port:
        result = await tool("cert_compare_endpoints", host="localhost", port=port, connect_ips=list(contexts))
    assert result["consistent"] is False and result["distinct_certificates"] == 2
    assert [e["sha256_fingerprint"] for e in result["endpoints"]] == [
        fingerprint(new),
        fingerprint(old),
        fingerprint(new),
    ]
    (finding,) = result["findings"]
    assert finding["code"] == "cert_differs_between_endpoints"
    assert "127.0.0.2" in finding["message"] and "127.0.0.1" not in finding["message"]


async def test_every_address_of_a_name_from_dns(tool: Tool, ca: CertAuthority, dns_server: DNSServer) -> None:
    from monitor_common.config import Settings, set_settings

    host, dns_port = dns_server.address
    set_settings(Settings(allow_networks=LOOPBACK, resolver=f"{host}:{dns_port}"))
    dns_server.handler = zone({("multi.test.", "A"): ["127.0.0.1", "127.0.0.2"]})
    leaf = ca.valid(["multi.test"])
    async with same_port(
        {"127.0.0.1": leaf.server_ssl_context(), "127.0.0.2": leaf.server_ssl_context()}
    ) as port:
        result = await tool("cert_compare_endpoints", host="multi.test", port=port, ip_version="ipv4")
    assert sorted(e["ip"] for e in result["endpoints"]) == ["127.0.0.1", "127.0.0.2"]
    assert result["consistent"] is True and result["verdict"] == "ok"
    assert {e["tls_version"] for e in result["endpoints"]} == {"TLSv1.3"}


@pytest.mark.usefixtures("allow_loopback")
async def test_an_address_that_is_down(tool: Tool, ca: CertAuthority) -> None:
    leaf = ca.valid()
    async with same_port({"127.0.0.1": leaf.server_ssl_context()}) as port:
        result = await tool(
            "cert_compare_endpoints", host="localhost", port=port, connect_ips=["127.0.0.1", "127.0.0.9"]
        )
    assert codes(result) == ["endpoint_unreachable"]
    assert result["consistent"] is True and "127.0.0.9" in result["findings"][0]["message"]


async def test_an_address_held_back_by_the_rate_limit_is_not_called_unreachable(
    tool: Tool, ca: CertAuthority
) -> None:
    from monitor_common.config import Settings, set_settings

    # One token for "localhost" (every address shares the name's bucket), the next a second away.
    set_settings(Settings(allow_networks=LOOPBACK, rate_limit_per_host=1))
    leaf = ca.valid()
    contexts = {"127.0.0.1": leaf.server_ssl_context(), "127.0.0.2": leaf.server_ssl_context()}
    async with same_port(contexts) as port:
        result = await tool(
            "cert_compare_endpoints", host="localhost", port=port, connect_ips=list(contexts), timeout_s=0.5
        )
    assert codes(result) == ["rate_limited"], result["findings"]
    assert result["verdict"] == "unknown"
    assert sorted(e["ok"] for e in result["endpoints"]) == [False, True]


async def test_compare_refuses_internal_addresses_by_default(tool_error: Any) -> None:
    text = await tool_error("cert_compare_endpoints", host="localhost", connect_ips=["127.0.0.1"])
    assert "refused to connect to 127.0.0.1" in text


# --- cert_revocation --------------------------------------------------------------------------------


async def revocation(tool: Tool, leaf: Leaf, **arguments: Any) -> dict[str, Any]:
    from support.certs import serve_tls

    async with serve_tls(leaf.server_ssl_context()) as (_, port):
        return await tool("cert_revocation", host="127.0.0.1", port=port, **arguments)


def by_method(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["method"]: s for s in result["sources"]}


@pytest.mark.usefixtures("allow_loopback")
async def test_good_by_crl_and_ocsp(tool: Tool, pki: Any) -> None:
    leaf = pki.issue()
    result = await revocation(tool, leaf, ca_bundle_pem=leaf.ca_pem)
    assert result["status"] == "good" and result["verdict"] == "ok"
    sources = by_method(result)
    assert (sources["crl"]["status"], sources["crl"]["signature_valid"], sources["crl"]["url"]) == (
        "good",
        True,
        pki.crl_url,
    )
    assert (sources["ocsp"]["status"], sources["ocsp"]["signature_valid"]) == ("good", True)
    assert sorted(pki.requests) == ["GET /crl", "POST /ocsp"]
    assert int(result["serial"], 16) == leaf.cert.serial_number


@pytest.mark.usefixtures("allow_loopback")
async def test_revoked_with_time_and_reason(tool: Tool, pki: Any) -> None:
    leaf = pki.issue()
    when = pki.revoke(leaf, x509.ReasonFlags.key_compromise)
    result = await revocation(tool, leaf, ca_bundle_pem=leaf.ca_pem)
    assert result["status"] == "revoked" and result["verdict"] == "critical"
    assert codes(result) == ["cert_revoked"]
    assert result["revoked_at"] == when.isoformat().replace("+00:00", "Z")
    assert result["revocation_reason"] == "keyCompromise"
    assert {s["status"] for s in result["sources"]} == {"revoked"}


@pytest.mark.usefixtures("allow_loopback")
async def test_delegated_ocsp_responder(tool: Tool, pki: Any) -> None:
    pki.delegated = True
    leaf = pki.issue()
    result = await revocation(tool, leaf, ca_bundle_pem=leaf.ca_pem)
    assert by_method(result)["ocsp"]["status"] == "good"


@pytest.mark.usefixtures("allow_loopback")
async def test_forged_answers_prove_nothing(tool: Tool, pki: Any) -> None:
    pki.wrong_key = True
    leaf = pki.issue()
    pki.revoke(leaf)  # a forged "revoked" must not count either
    result = await revocation(tool, leaf, ca_bundle_pem=leaf.ca_pem)
    assert result["status"] == "unknown"
    assert set(codes(result)) == {"crl_signature_invalid", "ocsp_signature_invalid", "revocation_unknown"}
    assert by_method(result)["ocsp"]["reason"] == "the OCSP response's signature does not verify"


@pytest.mark.usefixtures("allow_loopback")
async def test_stale_answers(tool: Tool, pki: Any) -> None:
    pki.stale = True
    result = await revocation(tool, pki.issue(), ca_bundle_pem=pki.ca.cert_pem)
    assert result["status"] == "unknown"
    assert set(codes(result)) == {"crl_stale", "ocsp_stale", "revocation_unknown"}


@pytest.mark.usefixtures("allow_loopback")
async def test_unknown_to_ocsp_but_good_by_crl(tool: Tool, pki: Any, ca: CertAuthority) -> None:
    leaf = ca.issue_leaf(crl_url=pki.crl_url, ocsp_url=pki.ocsp_url)  # never registered with the responder
    result = await revocation(tool, leaf, ca_bundle_pem=leaf.ca_pem)
    assert by_method(result)["ocsp"]["status"] == "unknown"
    assert result["status"] == "good"


@pytest.mark.usefixtures("allow_loopback")
async def test_no_urls_is_unknown_not_an_error(tool: Tool, ca: CertAuthority) -> None:
    result = await revocation(tool, ca.valid(), ca_bundle_pem=ca.cert_pem)
    assert result["status"] == "unknown" and result["verdict"] == "unknown"
    assert "neither a CRL nor an OCSP responder" in result["summary"]


@pytest.mark.usefixtures("allow_loopback")
async def test_issuer_not_available(tool: Tool, pki: Any) -> None:
    result = await revocation(tool, pki.issue())  # the root is neither served nor in the system store
    assert result["status"] == "unknown"
    assert "no answer can be verified" in result["summary"]
    assert pki.requests == []


async def test_crl_and_ocsp_fetches_pass_the_network_policy(tool: Tool, ca: CertAuthority) -> None:
    from monitor_common.config import Settings, set_settings

    set_settings(Settings(allow_networks=(ipaddress.ip_network("127.0.0.1/32"),)))
    leaf = ca.issue_leaf(crl_url="http://127.0.0.2:9/crl", ocsp_url="http://127.0.0.2:9/ocsp")
    result = await revocation(tool, leaf, ca_bundle_pem=leaf.ca_pem)
    assert result["status"] == "unknown"
    for source in result["sources"]:
        assert source["reason"].startswith("not fetched: refused to connect to 127.0.0.2")


@pytest.mark.usefixtures("allow_loopback")
async def test_stapled_response_from_openssl_s_server(tool: Tool, pki: Any, openssl_server: Any) -> None:
    leaf = pki.issue(must_staple=True)
    pki.revoke(leaf)
    staple = pki.stapled_response(leaf)
    with openssl_server(leaf, staple=staple) as port:
        revoked = await tool("cert_revocation", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem)
        checked = await tool("cert_check", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem)
    stapled = by_method(revoked)["ocsp_stapled"]
    assert (stapled["status"], stapled["signature_valid"], stapled["reason"]) == (
        "revoked",
        True,
        "keyCompromise",
    )
    assert stapled["next_update"] is not None
    assert checked["ocsp_stapled"] is True
    assert "must_staple_not_stapled" not in codes(checked)
    # cert_check reads the same staple: a revoked certificate is never "ok".
    assert "cert_revoked" in codes(checked) and checked["verdict"] == "critical"


@pytest.mark.usefixtures("allow_loopback")
async def test_openssl_server_without_a_staple(tool: Tool, pki: Any, openssl_server: Any) -> None:
    leaf = pki.issue(must_staple=True)
    with openssl_server(leaf) as port:
        checked = await tool("cert_check", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem)
    assert checked["ocsp_stapled"] is False
    assert codes(checked) == ["must_staple_not_stapled"]


@pytest.mark.usefixtures("allow_loopback")
async def test_a_silent_responder_does_not_stretch_the_time_limit(tool: Tool, ca: CertAuthority) -> None:
    async def say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    silent = await asyncio.start_server(say_nothing, "127.0.0.1", 0)
    async with silent:
        url = f"http://127.0.0.1:{silent.sockets[0].getsockname()[1]}"
        leaf = ca.issue_leaf(crl_url=f"{url}/crl", ocsp_url=f"{url}/ocsp")
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await revocation(tool, leaf, ca_bundle_pem=leaf.ca_pem, timeout_s=1)
        elapsed = loop.time() - started
    assert elapsed < 2.5
    assert result["status"] == "unknown"
    assert {s["method"] for s in result["sources"]} == {"crl", "ocsp"}


@pytest.mark.usefixtures("allow_loopback")
@pytest.mark.parametrize("revoked", [False, True])
async def test_a_conclusive_staple_answers_without_any_fetch(
    tool: Tool, pki: Any, openssl_server: Any, revoked: bool
) -> None:
    leaf = pki.issue()
    if revoked:
        pki.revoke(leaf)
    staple = pki.stapled_response(leaf)
    pki.requests.clear()
    with openssl_server(leaf, staple=staple) as port:
        await pki.stop()  # the CRL server and the responder are down: the staple must do
        result = await tool(
            "cert_revocation", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem, timeout_s=5
        )
        checked = await tool(
            "cert_check", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem, timeout_s=5
        )
    assert [s["method"] for s in result["sources"]] == ["ocsp_stapled"]
    assert result["status"] == ("revoked" if revoked else "good")
    assert codes(checked) == (["cert_revoked"] if revoked else []) and checked["ocsp_stapled"] is True
    assert codes(result) == (["cert_revoked"] if revoked else [])
    assert pki.requests == []


@pytest.mark.usefixtures("allow_loopback")
async def test_a_hung_responder_is_not_asked_when_the_staple_answers(
    pki: Any, tool: Tool, openssl_server: Any
) -> None:
    dialled: list[asyncio.StreamWriter] = []

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        dialled.append(writer)  # accept, then answer nothing

    hung = await asyncio.start_server(hang, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{hung.sockets[0].getsockname()[1]}"
    try:
        leaf = pki.ca.issue_leaf(ocsp_url=f"{url}/ocsp", crl_url=f"{url}/crl")
        pki.known.add(leaf.cert.serial_number)
        with openssl_server(leaf, staple=pki.stapled_response(leaf)) as port:
            result = await tool(
                "cert_revocation", host="127.0.0.1", port=port, ca_bundle_pem=leaf.ca_pem, timeout_s=5
            )
    finally:
        for writer in dialled:
            writer.close()
        hung.close()
    assert result["status"] == "good" and [s["method"] for s in result["sources"]] == ["ocsp_stapled"]
    assert dialled == []
