"""Streamable HTTP: bearer token, Host validation, and a real tool call over HTTP."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support.certs import Leaf
from support.http_server import HttpServer
from support.mcp_http import INIT, serving
from support.mcp_http import MCP_HEADERS as HEADERS
from support.ports import free_port

from e2e.helpers import LOOPBACK_ENV, child_env, run_cli

TOKEN = "test-token-0123456789abcdef"


@pytest.fixture
def http_mcp() -> Iterator[str]:
    """mcp-http-monitor serving streamable HTTP on loopback with a token; yields its base URL."""
    with serving("http_monitor", env={**LOOPBACK_ENV, "MCP_MONITOR_AUTH_TOKEN": TOKEN}) as served:
        yield served.url


async def test_401_without_token(http_mcp: str) -> None:
    async with httpx2.AsyncClient() as client:
        response = await client.post(f"{http_mcp}/mcp", json=INIT, headers=HEADERS)
        wrong = await client.post(
            f"{http_mcp}/mcp", json=INIT, headers={**HEADERS, "authorization": "Bearer nope"}
        )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401


async def test_421_on_foreign_host(http_mcp: str) -> None:
    async with httpx2.AsyncClient() as client:
        response = await client.post(
            f"{http_mcp}/mcp",
            json=INIT,
            headers={**HEADERS, "authorization": f"Bearer {TOKEN}", "host": "evil.example:80"},
        )
    assert response.status_code == 421


async def test_tool_call_with_token(http_mcp: str, http_server: HttpServer) -> None:
    async with (
        httpx2.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"}, timeout=30) as http,
        Client(streamable_http_client(f"{http_mcp}/mcp", http_client=http)) as client,
    ):
        tools = await client.list_tools()
        result = await client.call_tool("http_check", {"url": http_server.url_for("/status/200")})
    assert "http_check" in [t.name for t in tools.tools]
    assert not result.is_error
    content: dict[str, Any] = result.structured_content or {}
    assert content["verdict"] == "ok"


def test_non_loopback_bind_without_token_refuses_to_start() -> None:
    # Fails on the configuration before binding anything, so no socket is opened.
    done = run_cli(
        "http_monitor", "serve", "--transport", "http", "--host", "0.0.0.0", "--port", "1", timeout=30
    )
    assert done.returncode == 78
    assert "MCP_MONITOR_AUTH_TOKEN" in done.stderr


def test_https_with_tls_cert_and_key(tmp_path: Path, localhost_cert: Leaf) -> None:
    files = localhost_cert.write(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ssl_monitor", "serve", "--transport", "http", "--port", str(port),
         "--tls-cert", str(files.cert_file), "--tls-key", str(files.key_file)],
        env=child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        context = localhost_cert.client_ssl_context()
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx2.post(
                    f"https://localhost:{port}/mcp", json=INIT, headers=HEADERS, verify=context
                )
                break
            except httpx2.ConnectError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert response.status_code == 200
        assert response.http_version == "HTTP/1.1"
        assert "mcp-ssl-monitor" in response.text
        with pytest.raises(httpx2.TransportError):  # plain HTTP is not served on the TLS port
            httpx2.post(f"http://localhost:{port}/mcp", json=INIT, headers=HEADERS, timeout=5)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


@pytest.mark.parametrize(("stateless", "status"), [(True, 200), (False, 400)])
async def test_stateless_mode_answers_without_a_session(stateless: bool, status: int) -> None:
    # Replicas behind a load balancer cannot share sessions; stateless mode needs none.
    request = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    headers = {**HEADERS, "mcp-protocol-version": "2025-06-18"}
    with serving("dns_monitor", "--http-stateless", str(stateless).lower()) as served:
        async with httpx2.AsyncClient() as client:
            response = await client.post(served.mcp_url, json=request, headers=headers)
    assert response.status_code == status
    if stateless:
        assert '"dns_lookup"' in response.text
