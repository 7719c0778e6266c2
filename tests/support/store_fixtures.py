"""Fixtures for the store tests: each store under test as an `MCP_MONITOR_DB` value.

`store_target` is parametrized over both stores: a SQLite file in the test's temp dir, and a
fresh database on the session's PostgreSQL cluster (skipped, with the reason, when PostgreSQL is
not installed). Import the names you use into the test module.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from support.postgres import pg_url, postgres_cluster

__all__ = ["pg_url", "postgres_cluster", "store_target", "watch_settings"]

STORES = ["sqlite", "postgresql"]


@pytest.fixture(params=STORES)
def store_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """`MCP_MONITOR_DB` for the store under test."""
    if request.param == "sqlite":
        return str(tmp_path / "monitor.db")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def watch_settings(store_target: str) -> object:
    """Settings for watch tests: loopback allowed, the store under test, short intervals allowed."""
    from monitor_common.config import Settings, set_settings

    settings = Settings(
        allow_networks=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")),
        db=store_target,
        watch_min_interval_s=0.1,
    )
    set_settings(settings)
    return settings
