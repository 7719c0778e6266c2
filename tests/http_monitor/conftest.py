"""Fixtures of the http-monitor tests: the loopback policy, names from a local DNS server, pool cleanup."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

import pytest
from monitor_common.context import CheckContext
from monitor_common.netpolicy import NetworkPolicy, Resolver, dns_resolver
from monitor_common.ratelimit import RateLimiter
from support.dns_server import DNSServer, zone

LOOPBACK = NetworkPolicy(
    allow_networks=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
)


@pytest.fixture
def policy() -> NetworkPolicy:
    """Loopback allowed (127.0.0.0/8 and ::1), everything else internal refused."""
    return LOOPBACK


@pytest.fixture
def ctx() -> CheckContext:
    """The check context of the engine tests: loopback allowed, the default rate limit (10/s)."""
    return CheckContext(policy=LOOPBACK, limiter=RateLimiter(10))


@pytest.fixture(autouse=True)
async def close_shared_pools() -> AsyncIterator[None]:
    """The shared connection pool lives as long as its event loop; each test's loop ends with it."""
    yield
    from http_monitor.session import close_shared_clients

    await close_shared_clients()


@pytest.fixture
def names(dns_server: DNSServer) -> Callable[[Mapping[tuple[str, str], Sequence[str] | str]], Resolver]:
    """Serve `records` from the local DNS server and return a resolver that asks it (never the system's)."""

    def serve(records: Mapping[tuple[str, str], Sequence[str] | str]) -> Resolver:
        dns_server.handler = zone(records)
        return dns_resolver(dns_server.host, dns_server.port, timeout=2.0)

    return serve
