"""Each server as a real stdio subprocess, answered by the SDK's client."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from support.http_server import HttpServer

from e2e.helpers import LOOPBACK_ENV, MODULES, child_env

EXPECTED_TOOLS = {
    "mcp-http-monitor": {
        "http_check",
        "http_check_many",
        "http_timing",
        "http_check_each_ip",
        "http_redirects",
        "http_security_headers",
        "tcp_check",
        "http_watch",
        "http_watch_report",
    },
    "mcp-ssl-monitor": {
        "cert_check",
        "cert_check_many",
        "cert_decode",
        "tls_scan",
        "cert_compare_endpoints",
        "cert_revocation",
        "cert_watch",
        "cert_watch_report",
    },
    "mcp-dns-monitor": {
        "dns_lookup",
        "dns_propagation",
        "dns_delegation",
        "dnssec_check",
        "email_auth_check",
        "reverse_dns",
        "domain_expiry",
        "dns_watch",
        "dns_watch_report",
    },
}


def params(name: str, extra_env: dict[str, str] | None = None) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", MODULES[name]], env=child_env(extra_env))


@pytest.mark.parametrize("name", sorted(MODULES))
async def test_initialize_and_list_tools(name: str) -> None:
    async with Client(params(name), mode="legacy") as client:
        assert client.server_info is not None
        assert client.server_info.name == name
        assert client.server_info.version == "0.1.0"
        assert client.instructions and len(client.instructions) > 40
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == EXPECTED_TOOLS[name]
    for tool in tools:
        assert tool.description and tool.description.strip()
        assert tool.output_schema is not None
        assert {"verdict", "summary", "findings"} <= set(tool.output_schema["properties"])


async def test_http_check_over_stdio(http_server: HttpServer) -> None:
    async with Client(params("mcp-http-monitor", LOOPBACK_ENV)) as client:
        result = await client.call_tool("http_check", {"url": http_server.url_for("/status/200")})
    assert not result.is_error
    content: dict[str, Any] = result.structured_content or {}
    assert content["verdict"] == "ok" and content["status_code"] == 200


async def test_cert_check_over_stdio(https_server: HttpServer) -> None:
    async with Client(params("mcp-ssl-monitor", LOOPBACK_ENV)) as client:
        result = await client.call_tool(
            "cert_check",
            {
                "host": "127.0.0.1",
                "port": https_server.port,
                "ca_bundle_pem": (https_server.ca_pem or b"").decode(),
            },
        )
    assert not result.is_error
    content: dict[str, Any] = result.structured_content or {}
    assert content["days_left"] > 300  # trustme leaves live for years
    assert content["trusted"] is True and content["hostname_match"] is True
    # ... which is far beyond what browsers accept, the one thing wrong with it.
    assert [f["code"] for f in content["findings"]] == ["lifetime_too_long"]


async def test_policy_refusal_reaches_the_model_as_tool_error(http_server: HttpServer) -> None:
    async with Client(params("mcp-http-monitor")) as client:
        result = await client.call_tool("http_check", {"url": http_server.url})
    assert result.is_error
    text = " ".join(c.text for c in result.content if c.type == "text")
    assert "127.0.0.1" in text and "MCP_MONITOR_ALLOW" in text
    assert http_server.count() == 0


@pytest.mark.parametrize("name", sorted(MODULES))
def test_stdout_carries_only_protocol_messages_even_when_verbose(name: str) -> None:
    import json
    import subprocess
    import threading

    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "no_such_tool", "arguments": {}}},
    ]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", MODULES[name], "-vv"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    # Drain stderr meanwhile, so that -vv logs cannot fill the pipe and stall the server.
    errors: list[str] = []
    drain = threading.Thread(target=lambda: errors.append(proc.stderr.read() if proc.stderr else ""))
    drain.start()
    proc.stdin.write("".join(json.dumps(r) + "\n" for r in requests))
    proc.stdin.flush()
    messages: list[dict[str, Any]] = []
    for line in proc.stdout:  # every line must be a JSON-RPC message
        messages.append(json.loads(line))
        assert messages[-1].get("jsonrpc") == "2.0"
        if messages[-1].get("id") == 3:
            break
    proc.stdin.close()  # end of input: the server exits
    rest = proc.stdout.read()
    proc.wait(timeout=30)
    drain.join(timeout=30)
    proc.stdout.close()
    proc.stderr.close()
    stderr = "".join(errors)
    assert rest == ""
    assert {m.get("id") for m in messages} >= {1, 2, 3}
    assert "DEBUG" in stderr  # -vv logs went to stderr
    assert '"tool":"no_such_tool"' in stderr  # and so did the audit line
