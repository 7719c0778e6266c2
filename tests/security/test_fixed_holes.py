"""Regressions for the holes the policy campaign found and fixed, one test each.

1. A refused DNS server given as `IP:port` was described as a name ("resolved from '127.1:53'")
   and the message advised MCP_MONITOR_ALLOW_HOSTS=127.1:53.
2. The name of a DoH server was looked up with the system's resolver, not the configured one
   (dns_lookup, dns_propagation, reverse_dns, email_auth_check), and some DoH exchanges ignored
   the operator's policy.
3. A refusal raised in a task group (several record types, several resolvers, A and AAAA at
   once) came back as "internal error: ExceptionGroup" instead of the policy's message.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from monitor_common.config import Settings, set_settings
from support.dns_server import DNSServer, zone
from support.reliability import record

from security.probe import servers


async def call(tool: str, **arguments: Any) -> tuple[bool, str]:
    async with Client(servers()["dns"]) as client:
        result = await client.call_tool(tool, {"timeout_s": 2, **arguments})
    return result.is_error, " ".join(c.text for c in result.content if c.type == "text")


@pytest.mark.parametrize(
    ("server", "written"),
    [
        ("127.1:53", "127.1"),
        ("tls://0x7f000001:853", "0x7f000001"),
        ("[::ffff:127.0.0.1]:53", "[::ffff:127.0.0.1]"),
    ],
)
async def test_a_refused_dns_server_is_quoted_as_written(server: str, written: str) -> None:
    is_error, text = await call("dns_lookup", name="example.com", server=server)
    assert is_error and text.startswith("refused to connect to ")
    assert f"written as {written!r}" in text and "resolved from" not in text
    assert "MCP_MONITOR_ALLOW_HOSTS" not in text  # an address is allowed by network, not by name
    record(
        "security",
        "hole_fixed",
        1,
        "hole",
        hole="DNS server IP:port read as a name in the refusal",
        case=server,
    )


DOH_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("dns_lookup", {"name": "example.com"}),
    ("dns_lookup", {"name": "example.com", "record_types": ["A", "AAAA", "MX"]}),
    ("dns_propagation", {"name": "example.com", "include_authoritative": False}),
    ("reverse_dns", {"target": "192.0.2.1"}),
    ("email_auth_check", {"domain": "example.com"}),
]


@pytest.mark.parametrize(("tool", "arguments"), DOH_CALLS)
async def test_a_doh_server_name_is_looked_up_by_the_configured_resolver_and_refused_cleanly(
    dns_server: DNSServer, tool: str, arguments: dict[str, Any]
) -> None:
    dns_server.handler = zone({("doh.test.", "A"): "127.0.0.1", ("doh.test.", "AAAA"): "::1"}, ttl=0)
    set_settings(Settings(resolver=f"{dns_server.host}:{dns_server.port}"))
    doh = "https://doh.test:8443/dns-query"
    server_argument = {"resolvers": [doh]} if tool == "dns_propagation" else {"server": doh}
    is_error, text = await call(tool, **arguments, **server_argument)
    # A clean ToolError with the policy's reason, not "internal error: ExceptionGroup" ...
    assert is_error and text.startswith("refused to connect to "), text
    assert "(loopback address, resolved from 'doh.test')" in text
    # ... and the name was asked of the configured resolver (the system's is never used in tests).
    assert any(str(request.question[0].name) == "doh.test." for _, request in dns_server.requests)
    record(
        "security",
        "hole_fixed",
        1,
        "hole",
        hole="DoH server name: configured resolver, clean refusal",
        case=tool,
    )
