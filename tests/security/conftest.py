"""Fixtures of the network policy campaign: shared pools closed with each test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest


@pytest.fixture(autouse=True)
async def close_shared_pools() -> AsyncIterator[None]:
    """http-monitor's shared connection pool lives as long as its event loop; each test's loop ends with it."""
    yield
    from http_monitor.session import close_shared_clients

    await close_shared_clients()
