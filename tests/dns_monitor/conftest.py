"""The BIND9 hierarchy, started once per session for the integration tier."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest
from monitor_common.config import Settings, set_settings
from monitor_common.context import CheckContext, get_context
from support.bind9 import Bind9, Bind9Unavailable


@pytest.fixture(scope="session")
def bind9() -> Iterator[Bind9]:
    server = Bind9()
    try:
        server.start()
    except Bind9Unavailable as exc:
        pytest.skip(f"BIND9 integration tier skipped: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def local_dns(bind9: Bind9) -> Settings:
    """Loopback allowed, and the local root as root hints, trust anchor and only resolver."""
    settings = Settings(
        allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        dns_root_hints=bind9.root_hints,
        dns_trust_anchors=bind9.trust_anchors,
        dns_resolvers=("127.0.3.1",),
        resolver="127.0.3.1",
    )
    set_settings(settings)
    return settings


@pytest.fixture
def local_ctx(local_dns: Settings) -> CheckContext:
    """The check context of `local_dns`'s settings, for tests that call an engine directly (the
    same context, rate limiter included, that the tools of this test use)."""
    return get_context()
