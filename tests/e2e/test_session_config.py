"""A hosted session's settings in the query string of /mcp (Smithery), and PORT, over real HTTP.

Smithery's gateway starts the container with PORT set and passes what a user configured for the
connection as URL parameters of every request. Only the keys a server declares apply, to that
session only; a key that would widen the network policy is refused with a 400 that says why.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support.http_server import HttpServer
from support.mcp_http import INIT, MCP_HEADERS
from support.ports import free_port

from e2e.helpers import LOOPBACK_ENV


@pytest.fixture
def served_on_port_env() -> Iterator[str]:
    """`mcp-http-monitor serve --transport http` with PORT set and no --port: its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http_monitor", "serve", "--transport", "http"],
        env={**os.environ, **LOOPBACK_ENV, "PORT": str(port)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "did not listen on PORT"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def _http_check(url: str, arguments: dict[str, Any]) -> dict[str, Any]:
    async with Client(streamable_http_client(url)) as client:
        result = await client.call_tool("http_check", arguments)
    assert not result.is_error, result.content
    return dict(result.structured_content or {})


def _codes(result: dict[str, Any]) -> list[str]:
    return [f["code"] for f in result["findings"]]


async def test_a_sessions_threshold_applies_to_that_session_only(
    served_on_port_env: str, https_server: HttpServer
) -> None:
    arguments = {
        "url": https_server.url_for("/status/200"),
        "ca_bundle_pem": (https_server.ca_pem or b"").decode(),
    }
    # The test CA's certificate is good for years: fine with the server's 21 days, "expiring"
    # for a session that wants a warning a million days ahead (trustme: year 3000).
    plain = await _http_check(f"{served_on_port_env}/mcp", arguments)
    wary = await _http_check(
        f"{served_on_port_env}/mcp?cert_warn_days=1000000&api_key=gateway-own", arguments
    )
    again = await _http_check(f"{served_on_port_env}/mcp", arguments)
    assert plain["verdict"] == "ok" and "cert_expiring_soon" not in _codes(plain)
    assert wary["verdict"] == "warning" and "cert_expiring_soon" in _codes(wary)
    assert again["verdict"] == "ok"  # nothing leaked into the process's settings


async def test_a_sessions_timeout_is_the_default_of_its_checks(
    served_on_port_env: str, http_server: HttpServer
) -> None:
    started = time.monotonic()
    result = await _http_check(
        f"{served_on_port_env}/mcp?timeout_s=0.5", {"url": http_server.url_for("/hang")}
    )
    assert result["verdict"] == "critical" and "timeout" in _codes(result)
    assert "within 0.5 s" in result["summary"]
    assert time.monotonic() - started < 8  # not the server's 10 s


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("allow_private=true", "allow_private cannot be set per session: it is the operator's setting"),
        ("MCP_MONITOR_ALLOW_NETWORKS=0.0.0.0/0", "MCP_MONITOR_ALLOW_NETWORKS cannot be set per session"),
        ("allow-hosts=.example", "operator's setting (MCP_MONITOR_ALLOW_HOSTS)"),
        ("db=/tmp/x.db", "cannot be set per session"),
        ("timeout_s=600", "above this server's maximum of 60 s"),
        ("timeout_s=soon", "timeout_s='soon' is not valid"),
        ("cert_warn_days=3&cert_critical_days=10", "cert_critical_days=10 is above cert_warn_days=3"),
    ],
)
def test_what_a_session_may_not_set_is_refused_with_the_reason(
    served_on_port_env: str, query: str, needle: str
) -> None:
    answer = httpx2.post(f"{served_on_port_env}/mcp?{query}", json=INIT, headers=MCP_HEADERS, timeout=30)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_session_config"
    assert needle in answer.json()["error_description"]


def test_the_gateways_own_parameters_are_ignored(served_on_port_env: str) -> None:
    answer = httpx2.post(
        f"{served_on_port_env}/mcp?api_key=abc&profile=p&timeout_s=",
        json=INIT,
        headers=MCP_HEADERS,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def test_behind_a_gateway_a_public_bind_needs_no_token() -> None:
    # Only the operator's declaration lifts the token rule; nothing is bound here.
    from monitor_common._http import build_app
    from monitor_common.config import Settings
    from monitor_common.errors import ConfigError
    from monitor_common.server import MonitorServer

    server = MonitorServer("t", version="0", instructions="for tests")
    with pytest.raises(ConfigError, match="MCP_MONITOR_HTTP_BEHIND_GATEWAY=true"):
        build_app(server, Settings(host="0.0.0.0"))
    build_app(server, Settings(host="0.0.0.0", http_behind_gateway=True))


@pytest.mark.parametrize(
    ("environ", "port"),
    [({"PORT": "8081"}, 8081), ({"PORT": "8081", "MCP_MONITOR_PORT": "9000"}, 9000), ({}, 8000)],
)
def test_port_comes_from_the_platform_unless_the_operator_names_one(
    environ: dict[str, str], port: int
) -> None:
    from monitor_common.config import Settings

    assert Settings.load(environ=environ).port == port
    assert Settings.load(flags={"port": "7000"}, environ=environ).port == 7000


def test_a_bad_port_names_the_variable() -> None:
    from monitor_common.config import Settings
    from monitor_common.errors import ConfigError

    with pytest.raises(ConfigError, match="PORT='http' is not valid"):
        Settings.load(environ={"PORT": "http"})
