"""Pytest fixtures for DNS tests; tests/conftest.py star-imports them.

dns_server   a running `DNSServer` on 127.0.0.1 (UDP and TCP, one port), stopped after the
             test; it answers REFUSED until the test sets `dns_server.handler`
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.dns_server import DNSServer

__all__ = ["dns_server"]


@pytest.fixture
def dns_server() -> Iterator[DNSServer]:
    with DNSServer() as server:
        yield server
