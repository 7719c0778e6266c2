"""dns-monitor's tools called in process, as the DNS tiers call them (one MCP client per call).

result = await delegation("good.test")            # dns_delegation's structured result
result = await dnssec("good.test")                # dnssec_check's
finding = only(result, "ns_address_shared")       # the one finding of that code
"""

from __future__ import annotations

from typing import Any

from dns_monitor.server import mcp
from mcp import Client

__all__ = ["call", "delegation", "dnssec", "only"]


async def call(tool: str, **arguments: Any) -> dict[str, Any]:
    """`tool`'s structured result; the call must not be a tool error."""
    async with Client(mcp) as client:
        result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def delegation(domain: str) -> dict[str, Any]:
    return await call("dns_delegation", domain=domain)


async def dnssec(domain: str) -> dict[str, Any]:
    return await call("dnssec_check", domain=domain)


def only(result: dict[str, Any], code: str) -> dict[str, Any]:
    """The finding of `code`: exactly one, since a fault is one finding, never one per server."""
    found = [f for f in result["findings"] if f["code"] == code]
    assert len(found) == 1, result["findings"]
    return found[0]
