"""Every download made on a caller's behalf is bounded: an endless body stops at its cap, a
trickled one at the deadline, each as a finding of the tool that made it (monitor_common.fetch).

One real loopback HTTP server per case answers with `/endless` (a chunked body that never ends)
or `/drip/{ms}` (a byte every `ms` ms, for ever). Each fetch user is called through its tool:
DoH through dns_lookup, MTA-STS through email_auth_check, RDAP through domain_expiry, CRL and
OCSP through cert_revocation.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from mcp import Client
from monitor_common.config import Settings, set_settings
from support.certs import CertAuthority, serve_tls
from support.dns_server import DNSServer, zone
from support.http_server import HttpServer, TLSFiles
from support.reliability import record

from security.probe import servers

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
TRICKLE = "/drip/100"  # a byte every 100 ms: every read is quick, the whole never ends
DEADLINE_S = 2.0


@pytest.fixture(autouse=True)
def loopback_allowed() -> None:
    set_settings(Settings(allow_networks=LOOPBACK, rate_limit_per_host=0))


@pytest.fixture
def trusted(http_ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    """The tools check certificates against the system's CAs: make that `http_ca`."""
    bundle = tmp_path / "ca.pem"
    http_ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    return http_ca


async def call(which: str, tool: str, **arguments: Any) -> tuple[dict[str, Any], float]:
    """Call `tool` of server `which`; its result and duration. Both, and the Python memory the
    call peaked at (tracemalloc), go to the reliability report under this test's name."""
    traced_here = not tracemalloc.is_tracing()
    if traced_here:
        tracemalloc.start()
    tracemalloc.reset_peak()
    begun = time.monotonic()
    try:
        async with Client(servers()[which]) as client:
            result = await client.call_tool(tool, arguments)
        took = time.monotonic() - begun
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if traced_here:
            tracemalloc.stop()
    assert not result.is_error, result.content
    assert result.structured_content is not None
    case = os.environ.get("PYTEST_CURRENT_TEST", tool).split("::")[-1].split(" ")[0]
    record("security", f"bounded fetch: {case}", round(took, 2), "s",
           tool=tool, peak_traced_mb=round(peak / 2**20, 1))  # fmt: skip
    return result.structured_content, took


def messages(result: dict[str, Any]) -> str:
    return " | ".join(f"{f['code']}: {f['message']}" for f in result["findings"])


# --- DNS over HTTPS (dns_lookup) ------------------------------------------------------------------


async def test_doh_answer_stops_at_64_kib(https_server: HttpServer, trusted: trustme.CA) -> None:
    result, _ = await call(
        "dns", "dns_lookup", name="example.com", server=https_server.url_for("/endless"), timeout_s=5
    )
    assert result["verdict"] != "ok"
    assert "sent more than 65535 bytes" in messages(result), messages(result)


async def test_doh_answer_trickled_ends_at_the_deadline(
    https_server: HttpServer, trusted: trustme.CA
) -> None:
    result, took = await call(
        "dns", "dns_lookup", name="example.com", server=https_server.url_for(TRICKLE), timeout_s=DEADLINE_S
    )
    assert result["verdict"] != "ok"
    assert "within 2 s" in messages(result), messages(result)
    assert took < DEADLINE_S + 1.5


# --- MTA-STS policy (email_auth_check) ------------------------------------------------------------


@contextlib.contextmanager
def mta_sts_site(http_ca: trustme.CA, dns_server: DNSServer, route: str) -> Iterator[str]:
    """big.test publishes MTA-STS; its policy host answers `route` on port 443 of a loopback address."""
    address = f"127.{random.randint(64, 250)}.{random.randint(1, 250)}.{random.randint(1, 250)}"
    dns_server.handler = zone(
        {
            ("big.test.", "MX"): "10 mx.big.test.",
            ("mx.big.test.", "A"): "192.0.2.25",
            ("_mta-sts.big.test.", "TXT"): '"v=STSv1; id=1"',
            ("mta-sts.big.test.", "A"): address,
        },
        origin="test.",
        ttl=0,
    )
    tls = TLSFiles.from_trustme(http_ca, "mta-sts.big.test")
    with HttpServer(tls, host=address, port=443, aliases={"/.well-known/mta-sts.txt": route}):
        yield f"{dns_server.host}:{dns_server.port}"


async def test_mta_sts_policy_stops_at_64_kib(dns_server: DNSServer, trusted: trustme.CA) -> None:
    with mta_sts_site(trusted, dns_server, "/endless") as resolver:
        result, _ = await call("dns", "email_auth_check", domain="big.test", server=resolver, timeout_s=5)
    found = [f for f in result["findings"] if f["code"] == "mta_sts_policy_unreachable"]
    assert found and "sent more than 64 KiB" in found[0]["message"], messages(result)


async def test_mta_sts_policy_trickled_ends_at_the_deadline(
    dns_server: DNSServer, trusted: trustme.CA
) -> None:
    with mta_sts_site(trusted, dns_server, TRICKLE) as resolver:
        result, took = await call(
            "dns", "email_auth_check", domain="big.test", server=resolver, timeout_s=DEADLINE_S
        )
    found = [f for f in result["findings"] if f["code"] == "mta_sts_policy_unreachable"]
    assert found and "did not finish sending" in found[0]["message"], messages(result)
    assert took < DEADLINE_S + 1.5


# --- RDAP (domain_expiry) -------------------------------------------------------------------------


async def test_rdap_record_stops_at_512_kib_with_bounded_memory(http_server: HttpServer) -> None:
    set_settings(
        Settings(
            allow_networks=LOOPBACK, rate_limit_per_host=0, rdap_url=(f"test={http_server.url}/endless/",)
        )
    )
    tracemalloc.start()
    try:
        result, _ = await call("dns", "domain_expiry", domain="big.test", timeout_s=5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["verdict"] == "unknown"
    assert "sent more than 512 KiB" in messages(result), messages(result)
    assert peak < 16 * 1024 * 1024  # the cap and the session's own needs, not the endless body


async def test_rdap_record_trickled_ends_at_the_deadline(http_server: HttpServer) -> None:
    set_settings(
        Settings(
            allow_networks=LOOPBACK, rate_limit_per_host=0, rdap_url=(f"test={http_server.url}{TRICKLE}/",)
        )
    )
    result, took = await call("dns", "domain_expiry", domain="big.test", timeout_s=DEADLINE_S)
    assert result["verdict"] == "unknown"
    assert "did not finish sending" in messages(result), messages(result)
    assert took < DEADLINE_S + 1.5


# --- CRL and OCSP (cert_revocation) ---------------------------------------------------------------


async def revocation(
    ca: CertAuthority, crl_url: str, ocsp_url: str, timeout_s: float
) -> tuple[dict[str, Any], float]:
    leaf = ca.issue_leaf(["127.0.0.1"], crl_url=crl_url, ocsp_url=ocsp_url)
    async with serve_tls(leaf.server_ssl_context()) as (host, port):
        return await call(
            "ssl", "cert_revocation", host=host, port=port, ca_bundle_pem=leaf.ca_pem, timeout_s=timeout_s
        )


async def test_crl_stops_at_10_mib_and_ocsp_at_64_kib(http_server: HttpServer, ca: CertAuthority) -> None:
    endless = http_server.url_for("/endless")
    result, _ = await revocation(ca, endless, endless, timeout_s=10)
    sources = {s["method"]: s for s in result["sources"]}
    assert result["status"] == "unknown"
    assert "sent more than 10 MiB" in (sources["crl"]["reason"] or ""), sources
    assert "sent more than 64 KiB" in (sources["ocsp"]["reason"] or ""), sources


async def test_crl_and_ocsp_trickled_end_at_the_deadline(http_server: HttpServer, ca: CertAuthority) -> None:
    trickle = http_server.url_for(TRICKLE)
    result, took = await revocation(ca, trickle, trickle, timeout_s=DEADLINE_S)
    sources = {s["method"]: s for s in result["sources"]}
    assert result["status"] == "unknown"
    for method in ("crl", "ocsp"):
        assert "did not finish sending" in (sources[method]["reason"] or ""), sources
    assert took < DEADLINE_S + 1.5
