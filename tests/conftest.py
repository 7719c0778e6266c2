"""Fixtures every suite shares: a clean environment and the local servers from `support`."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from monitor_common.config import Settings
    from monitor_common.context import CheckContext

# Proxy and TLS variables would route test traffic elsewhere or change which CAs are trusted;
# MCP_MONITOR_* variables would change the settings under test.
_CLEARED_PREFIXES = ("MCP_MONITOR_",)
_CLEARED = {
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "FTP_PROXY",
    "http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSLKEYLOGFILE",
}  # fmt: skip


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name in _CLEARED or name.startswith(_CLEARED_PREFIXES):
            monkeypatch.delenv(name)
    yield


@pytest.fixture(autouse=True)
def default_settings() -> Iterator[None]:
    """Every test starts from the default settings (internal addresses refused) and leaves them so."""
    from monitor_common.config import Settings, set_settings

    set_settings(Settings())
    yield
    set_settings(None)


@pytest.fixture
def allow_loopback() -> Settings:
    """Widen the network policy to loopback only, as the local test servers need."""
    from monitor_common.config import Settings, set_settings

    settings = Settings(allow_networks=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")))
    set_settings(settings)
    return settings


@pytest.fixture
def loopback_ctx(allow_loopback: Settings) -> CheckContext:
    """The check context of `allow_loopback`'s settings, for tests that call an engine directly
    (the same context, rate limiter included, that the tools of this test use)."""
    from monitor_common.context import get_context

    return get_context()


from support.dns_fixtures import *  # noqa: E402, F403
from support.http_fixtures import *  # noqa: E402, F403
from support.isolation import loopback_only  # noqa: E402, F401
from support.tls_fixtures import *  # noqa: E402, F403
