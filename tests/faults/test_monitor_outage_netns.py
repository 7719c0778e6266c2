"""The monitor's own outage is `unknown`, never blamed on the target.

Each server's main checks run in a child process inside a network namespace with no route out
(`unshare -rn`, as tests/security does; its loopback is down and it has no other interface), with
the policy opened so that nothing is refused before dialling. The system resolver (from
/etc/resolv.conf) cannot be reached there, and neither can any address: every check must say
`monitor_network_unavailable` with verdict unknown, not `dns_resolution_failed` or
`connect_failed` (critical). Nothing can leave the namespace, so no packet reaches any address.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from security.probe import run_sealed

pytestmark = pytest.mark.netns


CHILD = r"""
import asyncio, json, os, socket

from monitor_common.context import CheckContext
from monitor_common.netpolicy import NetworkPolicy, dns_resolver

from dns_monitor.anchors import load_root_hints, load_trust_anchors
from dns_monitor.delegation import dns_delegation
from dns_monitor.dnssec import dnssec_check
from dns_monitor.email import email_auth_check
from dns_monitor.lookup import dns_lookup
from dns_monitor.propagation import dns_propagation
from dns_monitor.rdap import domain_expiry, parse_rdap_config
from dns_monitor.reverse import reverse_dns
from http_monitor.backends import http_check_each_ip
from http_monitor.bulk import http_check_many
from http_monitor.probe import http_check
from http_monitor.tcp import tcp_check
from http_monitor.timing import http_timing
from ssl_monitor.certs import cert_check
from ssl_monitor.compare import cert_compare_endpoints
from ssl_monitor.scan import tls_scan

OPEN = CheckContext(policy=NetworkPolicy(allow_private=True), timeout_s=5)
# The operator configured a resolver (MCP_MONITOR_RESOLVER) that this machine cannot reach.
CONFIGURED = OPEN.replace(resolver=dns_resolver("192.0.2.53", timeout=3), resolver_address="192.0.2.53")


def seen(result):
    return {"verdict": result.verdict.value, "codes": [f.code for f in result.findings], "summary": result.summary}


async def main():
    checks = {
        "http_check name": http_check("https://example.com/", ctx=OPEN, timeout_s=5),
        "http_check address": http_check("http://192.0.2.1/", ctx=OPEN, timeout_s=5),
        "http_check configured resolver": http_check("https://example.com/", ctx=CONFIGURED, timeout_s=5),
        "http_check_each_ip name": http_check_each_ip("https://example.com/", OPEN, timeout_s=5),
        "http_check_each_ip address": http_check_each_ip("http://192.0.2.1/", OPEN, timeout_s=5),
        "http_timing": http_timing("https://example.com/", OPEN, samples=2, timeout_s=5),
        "tcp_check name": tcp_check("example.com", 443, OPEN, timeout_s=5),
        "tcp_check address": tcp_check("192.0.2.1", 80, OPEN, timeout_s=5),
        "tcp_check ipv6 address": tcp_check("2001:db8::1", 80, OPEN, timeout_s=5),
        "cert_check name": cert_check("example.com", OPEN, timeout_s=5),
        "cert_check address": cert_check("192.0.2.1", OPEN, timeout_s=5),
        "cert_check configured resolver": cert_check("example.com", CONFIGURED, timeout_s=5),
        "tls_scan": tls_scan("example.com", OPEN, timeout_s=5),
        "cert_compare_endpoints": cert_compare_endpoints("example.com", OPEN, timeout_s=5),
        "dns_lookup system resolver": dns_lookup("example.com", OPEN, timeout_s=3),
        "dns_lookup configured resolver": dns_lookup("example.com", CONFIGURED, record_types=["A", "AAAA"], timeout_s=3),
        "reverse_dns": reverse_dns("192.0.2.1", OPEN, timeout_s=3),
        # The shipped root hints: the real root servers, which cannot be reached from here.
        "dns_delegation": dns_delegation("example.com", OPEN, hints=load_root_hints(), timeout_s=5),
        "dnssec_check": dnssec_check(
            "example.com", OPEN, hints=load_root_hints(), anchors=load_trust_anchors(), timeout_s=5
        ),
        "dns_propagation": dns_propagation("example.com", OPEN, timeout_s=3),
        "dns_propagation doh resolver": dns_propagation(
            "example.com", OPEN, resolvers=["https://doh.example.net/dns-query"], timeout_s=3
        ),
        "email_auth_check system resolver": email_auth_check("example.com", OPEN, dkim_selectors=["s1"], timeout_s=5),
        "email_auth_check configured resolver": email_auth_check("example.com", CONFIGURED, timeout_s=5),
        "email_auth_check named server": email_auth_check("example.com", OPEN, server="9.9.9.9", timeout_s=5),
        "domain_expiry bootstrap": domain_expiry("example.com", OPEN, timeout_s=5),
        "domain_expiry configured server": domain_expiry(
            "example.com", OPEN, config=parse_rdap_config(["https://192.0.2.1/rdap/"]), timeout_s=5
        ),
    }
    results = {name: seen(await check) for name, check in checks.items()}
    many = await http_check_many(["https://example.com/", "http://192.0.2.1/"], ctx=OPEN, timeout_s=5)
    results["http_check_many"] = {
        "verdict": many.verdict.value,
        "codes": [f.code for f in many.findings],
        "rows": [[row.verdict.value, row.summary] for row in many.rows],
    }
    print(json.dumps({
        "netns": os.readlink("/proc/self/ns/net"),
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "results": results,
    }))


asyncio.run(main())
"""


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return run_sealed(["-c", CHILD], timeout=110)


def test_the_checks_ran_where_nothing_can_leave(report: dict[str, Any]) -> None:
    assert report["netns"] != os.readlink("/proc/self/ns/net")
    assert report["interfaces"] == ["lo"]


CHECKS = [
    "http_check name",
    "http_check address",
    "http_check configured resolver",
    "http_check_each_ip name",
    "http_check_each_ip address",
    "http_timing",
    "tcp_check name",
    "tcp_check address",
    "tcp_check ipv6 address",
    "cert_check name",
    "cert_check address",
    "cert_check configured resolver",
    "tls_scan",
    "cert_compare_endpoints",
    "dns_lookup system resolver",
    "dns_lookup configured resolver",
    "reverse_dns",
    "dns_delegation",
    "dnssec_check",
    "dns_propagation",
    "dns_propagation doh resolver",
    "email_auth_check system resolver",
    "email_auth_check configured resolver",
    "email_auth_check named server",
    "domain_expiry bootstrap",
    "domain_expiry configured server",
]


@pytest.mark.parametrize("check", CHECKS)
def test_without_a_network_the_verdict_is_unknown_and_says_it_is_the_monitors(
    report: dict[str, Any], check: str
) -> None:
    result = report["results"][check]
    assert result["verdict"] == "unknown", result
    assert set(result["codes"]) == {"monitor_network_unavailable"}, result


DNS_CHECKS = [
    c for c in CHECKS if c.startswith(("dns_delegation", "dnssec", "dns_propagation", "email", "domain"))
]


@pytest.mark.parametrize("check", DNS_CHECKS)
def test_the_dns_checks_that_ask_many_servers_say_so_once(report: dict[str, Any], check: str) -> None:
    # One finding, not one per nameserver or lookup, and a summary that names the monitor.
    result = report["results"][check]
    assert result["codes"] == ["monitor_network_unavailable"], result
    assert "the monitor has no working network" in result["summary"], result


def test_a_bulk_check_counts_such_rows_as_not_checked(report: dict[str, Any]) -> None:
    result = report["results"]["http_check_many"]
    assert result["verdict"] == "unknown" and result["codes"] == ["http_urls_unchecked"], result
    for verdict, summary in result["rows"]:
        assert verdict == "unknown" and "was not requested" in summary, result
