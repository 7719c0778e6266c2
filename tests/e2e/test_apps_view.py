"""The MCP Apps view of the watch reports, over a real MCP session: offered to a client that
declares the extension (`io.modelcontextprotocol/ui` with the app MIME type), and to no other."""

from __future__ import annotations

import importlib
import json
import re
import sys
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client import advertise
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import TextResourceContents
from support.mcp_http import serving

from e2e.helpers import MODULES, child_env
from e2e.test_tool_schemas import LISTING_LIMIT

EXTENSION = "io.modelcontextprotocol/ui"
APP_MIME = "text/html;profile=mcp-app"
VIEW = "ui://report"

TOKEN = "test-token-0123456789abcdef"
WITH_APPS = advertise(EXTENSION, {"mimeTypes": [APP_MIME]})
# Declares the extension but not the one MIME type a view is served as: it cannot show it.
WITHOUT_THE_MIME_TYPE = advertise(EXTENSION, {"mimeTypes": ["text/html"]})


def _server(module: str) -> Any:
    return importlib.import_module(f"{module}.server").mcp


async def _listing(client: Client) -> list[dict[str, Any]]:
    listed = await client.list_tools()
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed.tools]


@pytest.mark.parametrize("module", sorted(MODULES.values()))
async def test_a_host_with_apps_is_offered_the_report_view(module: str) -> None:
    async with Client(_server(module), extensions=[WITH_APPS]) as client:
        advertised = client.server_capabilities.extensions or {}
        tools = await _listing(client)
        resources = {str(r.uri): r for r in (await client.list_resources()).resources}
        read = await client.read_resource(VIEW)
    linked = {t["name"]: t["_meta"]["ui"]["resourceUri"] for t in tools if "ui" in t.get("_meta", {})}
    kind = {"http_monitor": "http", "ssl_monitor": "cert", "dns_monitor": "dns"}[module]
    assert linked == {f"{kind}_watch_report": VIEW}
    assert advertised.get(EXTENSION) == {}  # the server names the extension it supports (SEP-2133)
    assert resources[VIEW].mime_type == APP_MIME
    size = len(json.dumps({"tools": tools}, separators=(",", ":")).encode())
    assert size < LISTING_LIMIT, f"{module}: tools/list for a host with MCP Apps is {size} bytes"

    (content,) = read.contents
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == APP_MIME
    assert content.meta is not None
    # An empty allow-list everywhere: the host lets the view load and connect nowhere.
    assert content.meta["ui"]["csp"] == {
        "connectDomains": [],
        "resourceDomains": [],
        "frameDomains": [],
        "baseUriDomains": [],
    }
    html = content.text
    assert html.lstrip().lower().startswith("<!doctype html>")
    # Self-contained: inline script and style, nothing referenced by address.
    assert "<script>" in html and "<style>" in html
    assert not re.search(r"""\b(src|href)\s*=|@import|url\(""", html, re.IGNORECASE)
    assert "default-src 'none'" in html
    for method in ("ui/initialize", "ui/notifications/initialized", "ui/notifications/size-changed"):
        assert f'"{method}"' in html


@pytest.mark.parametrize("declared", [None, WITHOUT_THE_MIME_TYPE], ids=["no-extension", "no-app-mime-type"])
@pytest.mark.parametrize("module", sorted(MODULES.values()))
async def test_other_hosts_see_the_server_as_before(module: str, declared: Any) -> None:
    server = _server(module)
    async with Client(server, extensions=[declared] if declared else None) as client:
        tools = await _listing(client)
        uris = [str(r.uri) for r in (await client.list_resources()).resources]
        with pytest.raises(MCPError, match="Unknown resource"):
            await client.read_resource(VIEW)
    assert not [t["name"] for t in tools if "_meta" in t]
    assert not [u for u in uris if u.startswith("ui://")]
    # The same listing the server gives outside any session (what `tools` and the docs measure).
    direct = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in await server.list_tools()]
    assert tools == direct


async def test_the_extension_is_read_per_client_on_one_server() -> None:
    # Two clients of one server at once: each sees what it declared, whoever asked first.
    server = _server("http_monitor")
    async with (
        Client(server, extensions=[WITH_APPS]) as apps,
        Client(server) as plain,
    ):
        for _ in range(2):
            plain_tools = await _listing(plain)
            apps_tools = await _listing(apps)
            assert not any("_meta" in t for t in plain_tools)
            assert any("_meta" in t for t in apps_tools)


async def test_a_2026_host_declares_the_extension_per_request() -> None:
    # On the 2026-07-28 protocol there is no initialize: the capabilities travel with each request.
    server = _server("dns_monitor")
    async with Client(server, mode="2026-07-28", extensions=[WITH_APPS]) as client:
        tools = await _listing(client)
        read = await client.read_resource(VIEW)
    assert [t["name"] for t in tools if "_meta" in t] == ["dns_watch_report"]
    assert read.contents[0].mime_type == APP_MIME


async def test_over_stdio_the_host_that_declares_it_gets_the_view() -> None:
    # The real process a host launches: the extension is read from the initialize of that pipe.
    server = StdioServerParameters(command=sys.executable, args=["-m", "ssl_monitor"], env=child_env())
    async with Client(server, mode="legacy", extensions=[WITH_APPS]) as client:
        tools = await _listing(client)
        read = await client.read_resource(VIEW)
    assert [t["_meta"]["ui"]["resourceUri"] for t in tools if "_meta" in t] == [VIEW]
    (content,) = read.contents
    assert content.mime_type == APP_MIME and isinstance(content, TextResourceContents)
    assert content.meta is not None and content.meta["ui"]["csp"]["connectDomains"] == []


async def test_over_http_each_session_sees_what_its_host_declared() -> None:
    # One server process, two hosts at once over streamable HTTP: each session has its own view.
    with serving("dns_monitor", env={"MCP_MONITOR_AUTH_TOKEN": TOKEN}) as served:
        async with (
            httpx2.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"}, timeout=30) as http,
            Client(streamable_http_client(served.mcp_url, http_client=http), extensions=[WITH_APPS]) as apps,
            Client(streamable_http_client(served.mcp_url, http_client=http)) as plain,
        ):
            apps_tools, plain_tools = await _listing(apps), await _listing(plain)
            apps_uris = [str(r.uri) for r in (await apps.list_resources()).resources]
            plain_uris = [str(r.uri) for r in (await plain.list_resources()).resources]
    assert [t["name"] for t in apps_tools if "_meta" in t] == ["dns_watch_report"]
    assert not [t["name"] for t in plain_tools if "_meta" in t]
    assert VIEW in apps_uris and VIEW not in plain_uris
