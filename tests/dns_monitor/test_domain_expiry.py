"""domain_expiry against a local RDAP server (and a local IANA-style bootstrap file) over HTTPS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dns_monitor import rdap
from dns_monitor.rdap import RdapConfig, domain_expiry, parse_rdap_config
from dns_monitor.server import mcp
from mcp import Client
from monitor_common.config import Settings, set_settings
from monitor_common.context import CheckContext
from monitor_common.errors import ConfigError, InputError
from monitor_common.netpolicy import NetworkPolicy
from support.static_https import StaticHttps


def record(name: str, days: float | None, status: list[str] | None = None) -> str:
    now = datetime.now(UTC)
    events = [{"eventAction": "registration", "eventDate": "2001-02-03T04:05:06Z"}]
    if days is not None:
        events.append({"eventAction": "expiration", "eventDate": (now + timedelta(days=days)).isoformat()})
    return json.dumps(
        {
            "objectClassName": "domain",
            "ldhName": name.upper(),
            "status": status or ["client transfer prohibited"],
            "events": events,
            "entities": [
                {
                    "roles": ["registrar"],
                    "vcardArray": [
                        "vcard",
                        [["version", {}, "text", "4.0"], ["fn", {}, "text", "Example Registrar, Inc."]],
                    ],
                }
            ],
            "nameservers": [{"ldhName": "NS2.EXAMPLE.NET"}, {"ldhName": "ns1.example.net"}],
        }
    )


DOMAINS = {
    "fine.test": record("fine.test", 400),
    "soon.test": record("soon.test", 20),
    "urgent.test": record("urgent.test", 3),
    "gone.test": record("gone.test", -5, ["redemption period"]),
    "held.test": record("held.test", 200, ["client hold"]),
    "nodate.test": record("nodate.test", None),
    "example.co.uk": record("example.co.uk", 400),
    "github.io": record("github.io", 400),
}


@pytest.fixture
def registry() -> Iterator[StaticHttps]:
    documents = {
        ("127.0.0.1", f"/rdap/domain/{name}"): (200, "application/rdap+json", body)
        for name, body in DOMAINS.items()
    }
    documents[("127.0.0.1", "/bootstrap/dns.json")] = (
        200,
        "application/json",
        json.dumps(
            {
                "version": "1.0",
                "services": [[["test", "example", "uk", "io"], ["https://127.0.0.1:PORT/rdap/"]]],
            }
        ),
    )
    with StaticHttps(documents, hosts=["127.0.0.1"]) as server:
        bootstrap = documents[("127.0.0.1", "/bootstrap/dns.json")]
        server.documents[("127.0.0.1", "/bootstrap/dns.json")] = (
            bootstrap[0],
            bootstrap[1],
            bootstrap[2].replace("PORT", str(server.port)),
        )
        rdap._bootstrap_cache.clear()
        yield server
    rdap._bootstrap_cache.clear()


LOOPBACK = CheckContext(
    policy=NetworkPolicy(allow_networks=(__import__("ipaddress").ip_network("127.0.0.0/8"),))
)


async def check(server: StaticHttps, domain: str, *, bootstrap: bool = False, **extra: Any) -> Any:
    base = f"https://127.0.0.1:{server.port}"
    config = (
        RdapConfig(bootstrap=f"{base}/bootstrap/dns.json")
        if bootstrap
        else parse_rdap_config([f"test={base}/rdap"])
    )
    return await domain_expiry(domain, LOOPBACK, config=config, verify=server.client_context(), **extra)


def codes(result: Any) -> list[str]:
    return sorted(f.code for f in result.findings)


@pytest.mark.parametrize(
    ("domain", "verdict", "expected_codes"),
    [
        ("fine.test", "ok", []),
        ("soon.test", "warning", ["domain_expiring"]),
        ("urgent.test", "critical", ["domain_expiring"]),
        ("gone.test", "critical", ["domain_expired", "domain_redemption"]),
        ("held.test", "critical", ["domain_on_hold"]),
        ("nodate.test", "warning", ["expiry_unknown"]),
        ("unregistered.test", "critical", ["rdap_not_found"]),
    ],
)
async def test_expiry_verdicts(
    registry: StaticHttps, domain: str, verdict: str, expected_codes: list[str]
) -> None:
    result = await check(registry, domain)
    assert result.verdict == verdict and codes(result) == expected_codes


async def test_registration_details(registry: StaticHttps) -> None:
    result = await check(registry, "fine.test")
    assert result.registrar == "Example Registrar, Inc."
    assert result.created == "2001-02-03T04:05:06Z"
    assert 399 < result.days_left <= 400
    assert result.nameservers == ["ns1.example.net", "ns2.example.net"]
    assert result.status == ["client transfer prohibited"]
    assert result.rdap_url == f"https://127.0.0.1:{registry.port}/rdap/domain/fine.test"


async def test_server_found_through_the_bootstrap_file_and_cached(registry: StaticHttps) -> None:
    first = await check(registry, "fine.test", bootstrap=True)
    second = await check(registry, "soon.test", bootstrap=True)
    assert first.verdict == "ok" and second.verdict == "warning"
    assert registry.requests.count(("127.0.0.1", "/bootstrap/dns.json")) == 1


async def test_tld_missing_from_bootstrap(registry: StaticHttps) -> None:
    result = await check(registry, "example.org", bootstrap=True)
    assert result.verdict == "unknown" and codes(result) == ["rdap_unavailable"]


async def test_unreachable_rdap_server_is_unknown() -> None:
    config = parse_rdap_config(["https://127.0.0.1:9/rdap/"])  # discard port: nothing listens
    result = await domain_expiry("fine.test", LOOPBACK, config=config, timeout_s=2)
    assert result.verdict == "unknown" and codes(result) == ["rdap_unreachable"]


async def test_rdap_server_on_internal_address_is_refused_by_default() -> None:
    config = parse_rdap_config(["https://127.0.0.1:9/rdap/"])
    result = await domain_expiry("fine.test", CheckContext(), config=config, timeout_s=2)
    assert codes(result) == ["rdap_unreachable"] and "refused" in result.findings[0].message


@pytest.mark.parametrize("entry", ["rdap.example", "com=ftp://x"])
def test_bad_rdap_setting(entry: str) -> None:
    with pytest.raises(ConfigError):
        parse_rdap_config([entry])


async def test_tool_reads_the_rdap_setting(registry: StaticHttps, allow_loopback: Settings) -> None:
    # Through the tool the certificate of the local server is not trusted: a clear unknown result.
    set_settings(allow_loopback.replace(rdap_url=(f"https://127.0.0.1:{registry.port}/rdap/",)))
    async with Client(mcp) as client:
        result = await client.call_tool("domain_expiry", {"domain": "fine.test", "timeout_s": 3})
    content = result.structured_content or {}
    assert content["verdict"] == "unknown" and content["findings"][0]["code"] == "rdap_unreachable"
    assert "certificate" in content["findings"][0]["message"].lower()
    async with Client(mcp) as client:
        bad = await client.call_tool(
            "domain_expiry", {"domain": "fine.test", "warn_days": 3, "critical_days": 7}
        )
    assert bad.is_error


@pytest.mark.parametrize(
    ("asked", "registered"),
    [
        ("www.fine.test", "fine.test"),  # a TLD the list does not know: one label (its default rule)
        ("a.b.www.example.co.uk", "example.co.uk"),  # co.uk is a public suffix of two labels
        ("EXAMPLE.co.uk.", "example.co.uk"),
        ("user.github.io", "github.io"),  # the private section's suffixes have no registry
    ],
)
async def test_a_name_below_a_registered_domain_asks_about_that_domain(
    registry: StaticHttps, asked: str, registered: str
) -> None:
    result = await check(registry, asked, bootstrap=True)
    assert result.verdict == "ok", result.findings
    assert result.domain == registered
    assert result.rdap_url == f"https://127.0.0.1:{registry.port}/rdap/domain/{registered}"
    assert ("127.0.0.1", f"/rdap/domain/{registered}") in registry.requests
    if asked.lower().rstrip(".") != registered:
        assert f"the registered domain of {asked.lower().rstrip('.')}" in result.summary


@pytest.mark.parametrize("suffix", ["co.uk", "com.au", "gov.uk"])
async def test_a_public_suffix_is_refused_with_an_example(registry: StaticHttps, suffix: str) -> None:
    with pytest.raises(InputError, match=rf"public suffix.*e\.g\. example\.{suffix}"):
        await check(registry, suffix)
    assert registry.requests == []
