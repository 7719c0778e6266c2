"""Helpers for the per-server watch tests: settings with a store in the test's temp dir, and calls."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import anyio
from mcp import Client
from mcp_types import CallToolResult
from monitor_common.config import Settings, set_settings

__all__ = ["call", "structured", "wait_until", "watch_settings_in"]


def watch_settings_in(tmp_path: Path, **changes: Any) -> Settings:
    """Loopback allowed, the store in `tmp_path`, short watch intervals allowed; installed."""
    settings = Settings(
        allow_networks=(ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")),
        db=str(tmp_path / "monitor.db"),
        watch_min_interval_s=0.1,
        **changes,
    )
    set_settings(settings)
    return settings


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, [c.text for c in result.content if c.type == "text"]
    return cast("dict[str, Any]", result.structured_content)


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    return structured(await client.call_tool(tool, arguments))


async def wait_until(predicate: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    """Poll `predicate` until true; fail after `seconds`."""
    with anyio.fail_after(seconds):
        while not await predicate():  # noqa: ASYNC110 - the condition lives in the server's scheduler
            await anyio.sleep(0.05)
