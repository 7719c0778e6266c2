"""The URLs fetched on the caller's behalf obey the policy: MTA-STS policy, RDAP, CRL and OCSP.

Each comes from data a target controls (a DNS answer, the registry's bootstrap file, a
certificate), so a target could point them at internal addresses. The policy is widened to
exactly 127.0.0.2, where the legitimate servers run; every fetch aimed at 127.0.0.1, ::1 or a name
resolving to them must be refused with the reason, and a `Listener` there must see nothing.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from mcp import Client
from monitor_common.config import Settings, set_settings
from support.certs import CertAuthority, serve_tls
from support.dns_server import DNSServer, zone
from support.http_server import HttpServer
from support.reliability import record

from security.probe import DialRecorder, Listener, Outcome, Spelling, refusal_problems, servers

ALLOWED = (ipaddress.ip_network("127.0.0.2/32"),)
LOOP4 = Spelling("loop4.test", "loopback", "127.0.0.1")


@pytest.fixture
def listener() -> Iterator[Listener]:
    with Listener() as running:
        yield running


def check(where: str, message: str | None, spelling: Spelling, dials: list[str]) -> list[str]:
    outcome = Outcome(where, where, spelling.category, False, message, message or "", dials=dials)
    return refusal_problems(outcome, spelling)


def refusal(text: str) -> str | None:
    start = text.find("refused to connect to ")
    return None if start == -1 else text[start:]


async def call(which: str, tool: str, **arguments: Any) -> dict[str, Any]:
    async with Client(servers()[which]) as client:
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def test_mta_sts_policy_fetch_to_internal_addresses_is_refused(
    tmp_path: Path, listener: Listener
) -> None:
    set_settings(Settings(allow_networks=ALLOWED))
    cases = {
        "loop4.test": (
            "mta-sts.loop4.test.",
            "A",
            "127.0.0.1",
            Spelling("mta-sts.loop4.test", "loopback", "127.0.0.1"),
        ),
        "loop6.test": (
            "mta-sts.loop6.test.",
            "AAAA",
            "::1",
            Spelling("mta-sts.loop6.test", "loopback", "::1"),
        ),
        "mapped.test": (
            "mta-sts.mapped.test.",
            "AAAA",
            "::ffff:127.0.0.1",
            Spelling("mta-sts.mapped.test", "loopback", "::ffff:7f00:1"),
        ),
    }
    records: dict[tuple[str, str], str] = {}
    for domain, (owner, rdtype, address, _) in cases.items():
        records[(owner, rdtype)] = address
        records[(f"_mta-sts.{domain}.", "TXT")] = '"v=STSv1; id=20260101"'
        records[(f"{domain}.", "MX")] = f"10 mx.{domain}."
    problems: dict[str, list[str]] = {}
    with DNSServer(zone(records, origin="test.", ttl=0), host="127.0.0.2") as dns:
        recorder = DialRecorder()
        for domain, (_, _, _, spelling) in cases.items():
            with recorder.installed():
                result = await call("dns", "email_auth_check", domain=domain, server=f"127.0.0.2:{dns.port}")
            found = [f for f in result["findings"] if f["code"] == "mta_sts_policy_unreachable"]
            message = refusal(found[0]["message"]) if found else None
            dials = [d for d in recorder.take() if not d.endswith(f"127.0.0.2:{dns.port}")]
            if issue := check(f"email_auth_check {domain}", message, spelling, dials):
                problems[domain] = issue
    assert problems == {}
    assert listener.hits == []
    record("security", "refusals_mta_sts", len(cases), "cases")


async def test_rdap_fetches_to_internal_addresses_are_refused(
    tmp_path: Path, listener: Listener, dns_server: DNSServer
) -> None:
    port = listener.port
    dns_server.handler = zone({("loop4.test.", "A"): "127.0.0.1"}, ttl=0)
    resolver = f"{dns_server.host}:{dns_server.port}"
    with HttpServer(host="127.0.0.2") as registry:
        # The bootstrap file (from an allowed server) names RDAP servers on refused addresses ...
        services = [
            [["one"], [f"http://127.0.0.1:{port}/"]],
            [["two"], [f"http://[::1]:{port}/"]],
            [["three"], [f"http://loop4.test:{port}/"]],
            [["four"], [f"http://2130706433:{port}/"]],
        ]
        body = quote(json.dumps({"version": "1.0", "services": services}), safe="")
        bootstrap = registry.url_for(f"/text?content_type=application/json&body={body}")
        # ... and a configured RDAP server (allowed) redirects to one.
        redirect = registry.url_for(f"/redirect-to?status=302&url=http://127.0.0.1:{port}/")
        set_settings(
            Settings(
                allow_networks=ALLOWED,
                resolver=resolver,
                rdap_url=(f"bootstrap={bootstrap}", f"five={redirect}"),
            )
        )
        expected = {
            "example.one": Spelling("127.0.0.1", "loopback", "127.0.0.1"),
            "example.two": Spelling("[::1]", "loopback", "::1"),
            "example.three": LOOP4,
            "example.four": Spelling("2130706433", "loopback", "127.0.0.1"),
            "example.five": Spelling("127.0.0.1", "loopback", "127.0.0.1"),
        }
        problems: dict[str, list[str]] = {}
        recorder = DialRecorder()
        for domain, spelling in expected.items():
            with recorder.installed():
                result = await call("dns", "domain_expiry", domain=domain)
            (finding,) = [f for f in result["findings"] if f["code"] == "rdap_unreachable"] or [None]
            message = refusal(finding["message"]) if finding else None
            dials = [d for d in recorder.take() if not d.endswith((f"127.0.0.2:{registry.port}", resolver))]
            if issue := check(f"domain_expiry {domain}", message, spelling, dials):
                problems[domain] = issue
        assert registry.count("/redirect-to") == 1  # the redirect was fetched, its target refused
    assert problems == {}
    assert listener.hits == []
    record("security", "refusals_rdap", len(expected), "cases", via=["bootstrap file", "redirect"])


async def test_crl_and_ocsp_urls_of_a_certificate_pointing_inside_are_refused(
    tmp_path: Path, listener: Listener, dns_server: DNSServer, ca: CertAuthority
) -> None:
    port = listener.port
    dns_server.handler = zone({("loop4.test.", "A"): "127.0.0.1"}, ttl=0)
    resolver = f"{dns_server.host}:{dns_server.port}"
    set_settings(Settings(allow_networks=ALLOWED, resolver=resolver))
    leaves = [
        (
            ca.issue_leaf(
                ["127.0.0.2"], crl_url=f"http://127.0.0.1:{port}/crl", ocsp_url=f"http://[::1]:{port}/ocsp"
            ),
            {
                "crl": Spelling("127.0.0.1", "loopback", "127.0.0.1"),
                "ocsp": Spelling("[::1]", "loopback", "::1"),
            },
        ),
        (
            ca.issue_leaf(
                ["127.0.0.2"],
                crl_url=f"http://loop4.test:{port}/crl",
                ocsp_url=f"http://0x7f000001:{port}/ocsp",
            ),
            {"crl": LOOP4, "ocsp": Spelling("0x7f000001", "loopback", "127.0.0.1")},
        ),
        (
            ca.issue_leaf(
                ["127.0.0.2"],
                crl_url=f"http://[::ffff:127.0.0.1]:{port}/crl",
                ocsp_url=f"http://127.1:{port}/ocsp",
            ),
            {
                "crl": Spelling("[::ffff:127.0.0.1]", "loopback", "::ffff:7f00:1"),
                "ocsp": Spelling("127.1", "loopback", "127.0.0.1"),
            },
        ),
    ]
    problems: dict[str, list[str]] = {}
    recorder = DialRecorder()
    for index, (leaf, spellings) in enumerate(leaves):
        async with contextlib.AsyncExitStack() as stack:
            _, tls_port = await stack.enter_async_context(
                serve_tls(leaf.server_ssl_context(), host="127.0.0.2")
            )
            with recorder.installed():
                result = await call(
                    "ssl", "cert_revocation", host="127.0.0.2", port=tls_port, ca_bundle_pem=leaf.ca_pem
                )
            dials = [d for d in recorder.take() if not d.endswith((f"127.0.0.2:{tls_port}", resolver))]
        sources = {s["method"]: s for s in result["sources"]}
        for method, spelling in spellings.items():
            message = refusal(sources[method]["reason"] or "") if method in sources else None
            if issue := check(f"cert_revocation {index} {method}", message, spelling, dials):
                problems[f"{index} {method}"] = issue
        assert result["status"] == "unknown"
    assert problems == {}
    assert listener.hits == []
    record("security", "refusals_crl_ocsp", 2 * len(leaves), "cases")
