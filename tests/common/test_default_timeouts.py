"""Every tool's default timeout comes from MCP_MONITOR_TIMEOUT_S (issue: tools ignored it)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from monitor_common.config import Settings, set_settings
from monitor_common.context import CheckContext

# (server module, tool, engine module, engine function, required arguments, scale of the setting)
CASES = [
    (
        "http_monitor.server",
        "http_check",
        "http_monitor.probe",
        "http_check",
        {"url": "https://example.com"},
        1,
    ),
    (
        "http_monitor.server",
        "http_timing",
        "http_monitor.timing",
        "http_timing",
        {"url": "https://example.com"},
        1,
    ),
    (
        "http_monitor.server",
        "tcp_check",
        "http_monitor.tcp",
        "tcp_check",
        {"host": "example.com", "port": 25},
        1,
    ),
    ("ssl_monitor.server", "cert_check", "ssl_monitor.certs", "cert_check", {"host": "example.com"}, 1),
    ("ssl_monitor.server", "tls_scan", "ssl_monitor.scan", "tls_scan", {"host": "example.com"}, 3),
    ("dns_monitor.server", "dns_lookup", "dns_monitor.lookup", "dns_lookup", {"name": "example.com"}, 0.5),
    ("dns_monitor.server", "reverse_dns", "dns_monitor.reverse", "reverse_dns", {"target": "192.0.2.1"}, 0.5),
    (
        "dns_monitor.server",
        "dns_delegation",
        "dns_monitor.delegation",
        "dns_delegation",
        {"domain": "example.com"},
        1,
    ),
    (
        "dns_monitor.server",
        "dnssec_check",
        "dns_monitor.dnssec",
        "dnssec_check",
        {"domain": "example.com"},
        1,
    ),
    (
        "dns_monitor.server",
        "email_auth_check",
        "dns_monitor.email",
        "email_auth_check",
        {"domain": "example.com"},
        1,
    ),
    (
        "dns_monitor.server",
        "domain_expiry",
        "dns_monitor.rdap",
        "domain_expiry",
        {"domain": "example.com"},
        1,
    ),
]


@pytest.fixture
def settings_timeout_4() -> Iterator[None]:
    set_settings(Settings(timeout_s=4.0, max_timeout_s=60.0))
    try:
        yield
    finally:
        set_settings(Settings())


@pytest.mark.usefixtures("settings_timeout_4")
@pytest.mark.parametrize(("server", "tool", "engine", "function", "arguments", "scale"), CASES)
async def test_default_timeout_follows_the_setting(
    monkeypatch: pytest.MonkeyPatch,
    server: str,
    tool: str,
    engine: str,
    function: str,
    arguments: dict[str, Any],
    scale: float,
) -> None:
    seen: dict[str, Any] = {}

    async def fake(*args: Any, **kwargs: Any) -> str:
        seen.update(kwargs)
        return "called"

    monkeypatch.setattr(importlib.import_module(engine), function, fake)
    declared = getattr(importlib.import_module(server), tool)
    assert await declared(**arguments) == "called"
    assert seen["timeout_s"] == pytest.approx(4.0 * scale)


def test_a_scaled_default_never_exceeds_the_maximum() -> None:
    context = CheckContext.from_settings(Settings(timeout_s=30.0, max_timeout_s=60.0))
    assert context.timeout(None, scale=3) == 60.0
    assert context.timeout(5, scale=3) == 5
