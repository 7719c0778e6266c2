"""http_check sends only safe methods unless the operator allows others, and says so in tools/list.

A host runs a read-only tool without asking the user, so `readOnlyHint` must be true only while
the tool cannot change anything on the target: GET, HEAD and OPTIONS. With
MCP_MONITOR_HTTP_UNSAFE_METHODS=true the server sends POST, DELETE, ... and no longer calls the
tool read-only.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from http_monitor.server import mcp, tools
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from monitor_common.config import Settings, set_settings
from monitor_common.server import MonitorServer, build_server
from support.http_server import HttpServer

SETTING = "MCP_MONITOR_HTTP_UNSAFE_METHODS"


async def call(server: MonitorServer, tool: str, arguments: dict[str, Any]) -> tuple[bool, str, Any]:
    async with Client(server) as client:
        result = await client.call_tool(tool, arguments)
    text = " ".join(c.text for c in result.content if c.type == "text")
    return result.is_error, text, result.structured_content


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "head"])
async def test_safe_methods_are_sent(allow_loopback: Settings, http_server: HttpServer, method: str) -> None:
    is_error, text, result = await call(mcp, "http_check", {"url": http_server.url, "method": method})
    assert not is_error, text
    assert result["verdict"] == "ok"
    assert [r.method for r in http_server.requests] == [method.upper()]


@pytest.mark.parametrize("method", ["POST", "put", "DELETE", "PATCH", "TRACE", "PURGE"])
async def test_other_methods_are_refused_naming_the_setting(
    allow_loopback: Settings, http_server: HttpServer, method: str
) -> None:
    is_error, text, _ = await call(mcp, "http_check", {"url": http_server.url, "method": method})
    assert is_error
    assert f"method {method.upper()} is refused" in text and "GET, HEAD and OPTIONS" in text
    assert f"{SETTING}=true" in text
    assert http_server.count() == 0  # refused before anything was sent


async def test_a_watch_cannot_send_them_either(
    allow_loopback: Settings, http_server: HttpServer, tmp_path: Any
) -> None:
    set_settings(dataclasses.replace(allow_loopback, db=str(tmp_path / "watches.db")))
    is_error, text, _ = await call(
        mcp, "http_watch", {"action": "add", "url": http_server.url, "method": "DELETE"}
    )
    assert is_error and SETTING in text
    assert http_server.count() == 0


async def test_the_operator_may_allow_them(allow_loopback: Settings, http_server: HttpServer) -> None:
    set_settings(dataclasses.replace(allow_loopback, http_unsafe_methods=True))
    server = build_server(tools, dataclasses.replace(allow_loopback, http_unsafe_methods=True))
    is_error, text, result = await call(server, "http_check", {"url": http_server.url, "method": "POST"})
    assert not is_error, text
    assert result["verdict"] == "ok"
    assert [r.method for r in http_server.requests] == ["POST"]


def annotations_of(server: MonitorServer) -> dict[str, dict[str, Any]]:
    import anyio

    listed = anyio.run(server.list_tools)
    return {
        t.name: t.annotations.model_dump(by_alias=True, exclude_none=True) for t in listed if t.annotations
    }


def test_http_check_is_read_only_only_while_methods_are_safe() -> None:
    safe = annotations_of(build_server(tools, Settings()))
    unsafe = annotations_of(build_server(tools, Settings(http_unsafe_methods=True)))
    assert safe["http_check"] == {"readOnlyHint": True, "openWorldHint": True}
    assert unsafe["http_check"] == {
        "readOnlyHint": False,
        "destructiveHint": True,  # a DELETE or a POST may well destroy something
        "idempotentHint": False,
        "openWorldHint": True,
    }
    # The other tools send GET (or HEAD) whatever the setting: still read-only.
    assert {name for name in safe if safe[name] != unsafe[name]} == {"http_check"}


@pytest.mark.parametrize(("env", "read_only"), [({}, True), ({SETTING: "true"}, False)])
async def test_a_served_listing_follows_the_setting(env: dict[str, str], read_only: bool) -> None:
    import os
    import sys

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "http_monitor"], env={**os.environ, **env}
    )
    async with Client(params) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
    annotations = listed["http_check"].annotations
    assert annotations is not None and annotations.read_only_hint is read_only
    assert annotations.destructive_hint is (None if read_only else True)
