"""dns_lookup over DNS over TLS and DNS over HTTPS, against local servers with a private CA."""

from __future__ import annotations

import ipaddress

import pytest
from dns_monitor.lookup import dns_lookup
from monitor_common.context import CheckContext
from monitor_common.errors import PolicyError
from monitor_common.netpolicy import NetworkPolicy
from monitor_common.ratelimit import RateLimiter
from support.dns_server import servfail, zone
from support.encrypted_dns import DnsOverHttps, DnsOverTls

RECORDS = {("www.example.com.", "A"): ["192.0.2.1"]}
# Loopback allowed, no rate limit (the limiter test below builds its own).
LOOPBACK = CheckContext(policy=NetworkPolicy(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),)))


async def test_dns_over_tls() -> None:
    with DnsOverTls(zone(RECORDS)) as dot:
        server = f"tls://127.0.0.1:{dot.port}"
        result = await dns_lookup("www.example.com", LOOPBACK, server=server, verify=dot.client_context())
        untrusted = await dns_lookup("www.example.com", LOOPBACK, server=server, timeout_s=2)
    assert result.verdict == "ok" and result.server == server
    assert [a.value for a in result.answers] == ["192.0.2.1"]
    assert result.lookups[0].transport == "tls"
    # The certificate is checked by default: an unknown CA is a failure, not a silent answer.
    assert [f.code for f in untrusted.findings] == ["server_unreachable"]
    assert "certificate" in untrusted.findings[0].message.lower()


async def test_dns_over_https() -> None:
    with DnsOverHttps(zone(RECORDS)) as doh:
        result = await dns_lookup(
            "www.example.com",
            LOOPBACK,
            server=doh.url,
            record_types=["A", "AAAA"],
            verify=doh.client_context(),
        )
        failing = await dns_lookup("www.example.com", LOOPBACK, server=doh.url, verify=doh.client_context())
        doh.handler = servfail
        bad = await dns_lookup("www.example.com", LOOPBACK, server=doh.url, verify=doh.client_context())
    assert result.server == doh.url
    assert {lk.record_type: lk.rcode for lk in result.lookups} == {"A": "NOERROR", "AAAA": "NOERROR"}
    assert [lk.transport for lk in result.lookups] == ["https", "https"]
    assert [f.code for f in result.findings] == ["nodata"]
    assert failing.verdict == "ok"
    # two for A and AAAA, one for A, one for A answered SERVFAIL and one CNAME question after it
    # (dns_lookup asks whether a CNAME loop is behind a SERVFAIL); no retry
    assert doh.queries == 5
    assert [f.code for f in bad.findings] == ["servfail"]


@pytest.mark.parametrize("server", ["tls://127.0.0.1:853", "https://127.0.0.1/dns-query", "tls://10.0.0.1"])
async def test_internal_encrypted_servers_refused_before_dialling(server: str) -> None:
    with pytest.raises(PolicyError):
        await dns_lookup("www.example.com", CheckContext(), server=server)


async def test_dns_over_https_latency_leaves_out_the_wait_for_a_rate_limit_slot() -> None:
    from dns_monitor.query import exchange, make_query, parse_server

    ctx = LOOPBACK.replace(limiter=RateLimiter(2))  # a burst of two, then one query per 500 ms
    with DnsOverHttps(zone(RECORDS)) as doh:
        spec = parse_server(doh.url, ctx)
        done = [
            await exchange(
                make_query("www.example.com", "A"), spec, ctx, timeout=5, verify=doh.client_context()
            )
            for _ in range(3)
        ]
    assert [d.error for d in done] == [None, None, None] and doh.queries == 3
    assert ctx.limiter.stats().delayed == 1  # the third query waited about 500 ms for its slot
    # latency_ms is the server's: a local DoH answer takes milliseconds, not the wait.
    assert all(d.latency_ms is not None and d.latency_ms < 300 for d in done), [d.latency_ms for d in done]
