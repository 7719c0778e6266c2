"""Pytest fixtures for TLS tests; tests/conftest.py star-imports them.

    ca              session-scoped `CertAuthority` (EC root; `ca.intermediate` is made once and reused)
    localhost_cert  session-scoped `Leaf` issued by `ca` for localhost, 127.0.0.1 and ::1

Per-case certificates come from the authority's builders (`ca.expired()`,
`ca.without_intermediate()`, ...; see `support.certs`).
"""

from __future__ import annotations

import pytest

from support.certs import CertAuthority, Leaf

__all__ = ["ca", "localhost_cert"]


@pytest.fixture(scope="session")
def ca() -> CertAuthority:
    return CertAuthority()


@pytest.fixture(scope="session")
def localhost_cert(ca: CertAuthority) -> Leaf:
    return ca.valid()
