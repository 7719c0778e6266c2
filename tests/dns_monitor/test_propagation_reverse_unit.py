"""dns_propagation and reverse_dns against scriptable loopback DNS servers (the unit tier)."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dns_monitor.propagation import dns_propagation
from dns_monitor.reverse import reverse_dns
from monitor_common.context import CheckContext
from monitor_common.errors import PolicyError
from monitor_common.netpolicy import NetworkPolicy
from monitor_common.ratelimit import DNS_QUERY_COST, RateLimiter
from support.dns_server import DNSServer, delayed, drop, servfail, zone
from support.ports import free_port

NEW = {("www.example.com.", "A"): ["192.0.2.2"], ("example.com.", "NS"): ["ns1.example.com."]}
OLD = {("www.example.com.", "A"): ["192.0.2.1"]}


@pytest.fixture
def servers() -> Iterator[list[DNSServer]]:
    started = [DNSServer().start() for _ in range(4)]
    yield started
    for server in started:
        server.stop()


def addresses(servers: list[DNSServer]) -> list[str]:
    return [f"127.0.0.1:{s.port}" for s in servers]


def codes(result: Any) -> list[str]:
    return sorted(f.code for f in result.findings)


async def test_groups_outliers_and_unreachable(loopback_ctx: CheckContext, servers: list[DNSServer]) -> None:
    servers[0].handler = servers[1].handler = zone(NEW)
    servers[2].handler = zone(OLD, ttl=120)
    servers[3].handler = drop
    started = time.monotonic()
    result = await dns_propagation(
        "www.example.com",
        loopback_ctx,
        resolvers=addresses(servers),
        include_authoritative=False,
        timeout_s=0.6,
    )
    assert time.monotonic() - started < 0.6 * 1.1
    assert codes(result) == ["propagation_incomplete", "resolver_disagrees", "resolver_unreachable"]
    assert [g.values for g in result.groups] == [["192.0.2.2"], ["192.0.2.1"]]
    assert result.groups[0].share_percent == pytest.approx(66.7)
    assert result.outliers == [f"127.0.0.1:{servers[2].port}"]
    assert result.stale_within_s == 120
    assert result.agreement_percent == pytest.approx(66.7)


async def test_expected_answer_decides_who_is_behind(
    loopback_ctx: CheckContext, servers: list[DNSServer]
) -> None:
    servers[0].handler = zone(OLD)
    servers[1].handler = servers[2].handler = servers[3].handler = zone(NEW)
    result = await dns_propagation(
        "www.example.com",
        loopback_ctx,
        resolvers=addresses(servers[:1]) + addresses(servers[1:2]),
        include_authoritative=False,
        expected=["192.0.2.1"],
    )
    assert result.outliers == [f"127.0.0.1:{servers[1].port}"]
    assert result.agreement_percent == 50


async def test_authoritative_servers_are_found_and_asked_without_recursion(
    loopback_ctx: CheckContext, servers: list[DNSServer]
) -> None:
    auth = servers[1]
    servers[0].handler = zone(
        {**OLD, ("example.com.", "NS"): ["ns1.example.com."], ("ns1.example.com.", "A"): ["127.0.0.1"]}
    )
    auth.handler = zone(NEW)
    result = await dns_propagation(
        "www.example.com",
        loopback_ctx,
        resolvers=addresses(servers[:1]),
        authoritative_port=auth.port,
    )
    kinds = {a.server: a.kind for a in result.answers}
    assert kinds == {f"127.0.0.1:{servers[0].port}": "resolver", f"127.0.0.1:{auth.port}": "authoritative"}
    # The authoritative answer is the reference, so the resolver's cached old answer is the outlier.
    assert result.outliers == [f"127.0.0.1:{servers[0].port}"]
    _, request = auth.requests[-1]
    import dns.flags

    assert not request.flags & dns.flags.RD


async def test_nameserver_addresses_pass_the_policy(
    loopback_ctx: CheckContext, servers: list[DNSServer]
) -> None:
    servers[0].handler = zone({**NEW, ("ns1.example.com.", "A"): ["10.1.2.3"]})
    result = await dns_propagation(
        "www.example.com", loopback_ctx, resolvers=addresses(servers[:1]), timeout_s=1
    )
    assert not [a for a in result.answers if a.kind == "authoritative"]
    notes = [f.message for f in result.findings if f.code == "authoritative_note"]
    assert notes and "10.1.2.3" in notes[0] and "refused" in notes[0]


async def test_no_server_answers_is_unknown(loopback_ctx: CheckContext, servers: list[DNSServer]) -> None:
    servers[0].handler = drop
    result = await dns_propagation(
        "www.example.com",
        loopback_ctx,
        resolvers=addresses(servers[:1]),
        timeout_s=0.3,
    )
    assert result.verdict == "unknown" and "no_answer" in codes(result)


async def test_a_resolver_on_a_closed_port_is_not_the_monitors_outage(loopback_ctx: CheckContext) -> None:
    # Nothing answers, but the query left this machine: the resolver's failure, not the monitor's.
    result = await dns_propagation(
        "www.example.com", loopback_ctx, resolvers=[f"127.0.0.1:{free_port()}"], timeout_s=0.5
    )
    assert result.verdict == "unknown" and codes(result) == ["no_answer", "resolver_unreachable"]


async def test_caller_named_resolver_on_internal_address_is_refused() -> None:
    with pytest.raises(PolicyError):
        await dns_propagation("www.example.com", CheckContext(), resolvers=["127.0.0.1"])


REVERSE = {
    (".", "SOA"): ["ns1.example.com. hostmaster.example.com. 1 3600 600 86400 300"],
    ("10.2.0.192.in-addr.arpa.", "PTR"): ["www.example.com."],
    ("www.example.com.", "A"): ["192.0.2.10"],
    ("11.2.0.192.in-addr.arpa.", "PTR"): ["elsewhere.example.com."],
    ("elsewhere.example.com.", "A"): ["192.0.2.99"],
    ("host.example.com.", "A"): ["192.0.2.10", "192.0.2.11"],
}


@pytest.mark.parametrize(
    ("target", "codes_", "confirmed"),
    [
        ("192.0.2.10", [], [["www.example.com."]]),
        ("192.0.2.11", ["fcrdns_mismatch"], [[]]),
        ("192.0.2.12", ["ptr_missing"], [[]]),
        ("host.example.com", ["fcrdns_mismatch"], [["www.example.com."], []]),
        ("nothing.example.com", ["nxdomain"], []),
    ],
)
async def test_reverse_dns(
    loopback_ctx: CheckContext,
    dns_server: DNSServer,
    target: str,
    codes_: list[str],
    confirmed: list[list[str]],
) -> None:
    dns_server.handler = zone(REVERSE, origin=".")
    result = await reverse_dns(target, loopback_ctx, server=f"127.0.0.1:{dns_server.port}")
    assert codes(result) == codes_
    assert [e.confirmed for e in result.entries] == confirmed


async def test_reverse_dns_server_failure_is_unknown(
    loopback_ctx: CheckContext, dns_server: DNSServer
) -> None:
    dns_server.handler = delayed(5, servfail)
    result = await reverse_dns(
        "192.0.2.10",
        loopback_ctx,
        server=f"127.0.0.1:{dns_server.port}",
        timeout_s=0.3,
    )
    assert result.verdict == "unknown" and codes(result) == ["timeout"]


async def test_servers_held_back_by_the_rate_limit_are_named_as_such(servers: list[DNSServer]) -> None:
    # The four servers share one host (127.0.0.1), so at one query a second with a burst of one,
    # only the first is asked within the 0.6 s deadline; the others are reported as not asked,
    # not as unreachable.
    ctx = CheckContext(
        policy=NetworkPolicy(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),)),
        limiter=RateLimiter(DNS_QUERY_COST),  # a DNS question costs a quarter: one question a second
    )
    ctx.limiter.reserve("127.0.0.1", cost=1 - DNS_QUERY_COST)  # and a burst of one question
    for server in servers:
        server.handler = zone(NEW)
    result = await dns_propagation(
        "www.example.com",
        ctx,
        resolvers=addresses(servers),
        include_authoritative=False,
        timeout_s=0.6,
    )
    limited = next(f for f in result.findings if f.code == "rate_limited")
    assert limited.severity == "unknown" and "3 of 4 servers were not asked" in limited.message
    assert "resolver_unreachable" not in codes(result)
    assert [a.failure for a in result.answers if a.rcode is None] == ["rate_limited"] * 3
    assert sum(sum(s.queries.values()) for s in servers) == 1  # held back means never sent
