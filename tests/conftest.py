"""Fixtures every suite shares: a clean environment and the local servers from `support`."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

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
