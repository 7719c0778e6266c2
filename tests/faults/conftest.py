"""The fault catalogue, started once for the campaign, and the tally of what it survived."""

from __future__ import annotations

import gc
import ipaddress
from collections.abc import AsyncIterator, Iterator

import pytest
from monitor_common.config import Settings, set_settings
from support.reliability import record

from faults.harness import Tally
from faults.servers import FaultServers


@pytest.fixture(scope="session")
def faults() -> Iterator[FaultServers]:
    with FaultServers() as servers:
        yield servers


@pytest.fixture(scope="session")
def tally() -> Iterator[Tally]:
    counted = Tally()
    yield counted
    if counted.cases:
        record("faults", "cases_survived", counted.cases, "fault x tool calls", per_server=counted.per_server)
        record("faults", "max_overrun_s", round(counted.max_overrun_s, 3), "s past the timeout")


@pytest.fixture(autouse=True)
def collect_garbage() -> Iterator[None]:
    """Collect after each case, so that a socket a tool leaked fails the case that leaked it."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
async def close_shared_pools() -> AsyncIterator[None]:
    """http-monitor's shared pool lives as long as its event loop; each test's loop ends with it."""
    yield
    from http_monitor.session import close_shared_clients

    await close_shared_clients()


@pytest.fixture
def loopback_unlimited() -> Settings:
    """Loopback allowed and no per-host rate limit: every fault server lives on 127.0.0.1, and
    this campaign is about faults (tests/security covers the limiter)."""
    settings = Settings(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),), rate_limit_per_host=0)
    set_settings(settings)
    return settings
