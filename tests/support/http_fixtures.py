"""pytest fixtures for the loopback HTTP server; `tests/conftest.py` star-imports them.

Servers are function scoped, so every test starts with an empty request log (starting one takes a
few milliseconds); the CA and the leaf certificate are minted once per session.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme

from support.http_server import HttpServer, TLSFiles

__all__ = ["http_ca", "http_server", "http_tls", "https_server"]


@pytest.fixture(scope="session")
def http_ca() -> trustme.CA:
    """The CA that signs `https_server`'s certificate; trust it with `https_server.ca_pem`."""
    return trustme.CA()


@pytest.fixture(scope="session")
def http_tls(http_ca: trustme.CA) -> TLSFiles:
    """A leaf for localhost, 127.0.0.1, 127.0.0.2 and ::1, signed by `http_ca`, as PEM."""
    return TLSFiles.from_trustme(http_ca)


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    """A cleartext server (HTTP/1.1 and h2c) on 127.0.0.1."""
    with HttpServer() as server:
        yield server


@pytest.fixture
def https_server(http_tls: TLSFiles) -> Iterator[HttpServer]:
    """A TLS server on 127.0.0.1 offering h2 and http/1.1; `ca_pem` is the CA to trust."""
    with HttpServer(tls=http_tls) as server:
        yield server
