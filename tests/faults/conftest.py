"""The fault catalogue, started once for the campaign, and the tally of what it survived."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Iterator

import pytest
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
