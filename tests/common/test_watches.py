"""The watch tools, resources and notifications through a real MCP client, on both stores.

The server is `support.watch_server`: a tiny MonitorServer whose check does a real HTTP GET
against the loopback `http_server`; `/switch/{key}` lets a test flip the target up and down.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import anyio
import pytest
from mcp import Client
from mcp.shared.subscriptions import ResourceUpdated
from mcp_types import CallToolResult, TextResourceContents
from monitor_common.config import Settings, get_settings, set_settings
from monitor_common.server import MonitorServer
from monitor_common.watches import WatchService
from support.http_server import HttpServer
from support.watch_server import build

Served = tuple[MonitorServer, WatchService, Client]


@asynccontextmanager
async def serving() -> AsyncIterator[Served]:
    # Not an async fixture: the server's lifespan (and its task group) must be entered and left
    # in the same task, which pytest-asyncio's fixture teardown is not.
    server, service = build()
    service.poll_s, service.start_delay_s = 0.1, 0.0
    async with Client(server) as client:
        yield server, service, client


def content(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    return cast("dict[str, Any]", result.structured_content)


def error(result: CallToolResult) -> str:
    assert result.is_error
    return " ".join(c.text for c in result.content if c.type == "text")


async def wait_for(predicate: Any, seconds: float = 5.0) -> None:
    """Poll `predicate` (an async callable) until it is true; fail after `seconds`."""
    with anyio.fail_after(seconds):
        while not await predicate():  # noqa: ASYNC110 - the condition lives in another thread or process
            await anyio.sleep(0.05)


async def test_tools_are_listed_with_the_checks_parameters(watch_settings: Settings) -> None:
    async with serving() as (_, _, client):
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"probe_check", "probe_watch", "probe_watch_report"} <= set(tools)
        watch = tools["probe_watch"]
        assert watch.input_schema["required"] == ["action"]
        assert {
            "action",
            "name",
            "interval_s",
            "failure_threshold",
            "success_threshold",
            "notify",
            "notify_repeat_s",
            "url",
            "timeout_s",
        } == set(watch.input_schema["properties"])
        # `remove` drops the history: destructive, which hosts confirm with the user first.
        assert watch.annotations is not None and watch.annotations.read_only_hint is False
        assert watch.annotations.destructive_hint is True
        report = tools["probe_watch_report"]
        assert report.annotations is not None and report.annotations.read_only_hint is True
        for tool in (watch, report):
            assert tool.title
            assert tool.output_schema is not None
            assert {"verdict", "summary", "findings"} <= set(tool.output_schema["properties"])


async def test_add_runs_the_check_at_once_and_stores_it(
    watch_settings: Settings, http_server: HttpServer
) -> None:
    async with serving() as (_, service, client):
        url = http_server.url_for("/status/200")
        added = content(
            await client.call_tool("probe_watch", {"action": "add", "url": url, "interval_s": 60})
        )
        assert added["verdict"] == "ok" and added["action"] == "add"
        assert added["result"]["status"] == 200 and added["result_id"] > 0
        assert (
            added["watch"]["name"] == url and added["watch"]["state"] == "up" and added["watch"]["runs"] == 1
        )
        assert http_server.count("/status/200") == 1
        store = await service.handle.require()
        stored = await store.result_ids([added["result_id"]])
        assert stored == {added["result_id"]}
        # Defaults are not stored, so a later change of a default applies to the watch.
        assert added["watch"]["definition"] == {"url": url}

        listed = content(await client.call_tool("probe_watch", {"action": "list"}))
        assert [w["name"] for w in listed["watches"]] == [url]
        assert listed["summary"] == "1 probe watches: 1 up, 0 down, 0 pending, 0 paused"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"action": "add"}, "action=add needs url"),
        ({"action": "add", "url": "http://127.0.0.1:1/", "interval_s": 0.01}, "below the minimum of 0.1 s"),
        ({"action": "add", "url": "http://127.0.0.1:1/", "interval_s": 10**6}, "above one day"),
        ({"action": "add", "url": "http://127.0.0.1:1/", "failure_threshold": 0}, "failure_threshold"),
        ({"action": "remove"}, "needs the watch's name"),
        ({"action": "pause", "name": "nope"}, "no probe watch named 'nope'"),
        ({"action": "explode"}, "action"),
    ],
)
async def test_bad_input_is_a_tool_error(
    watch_settings: Settings, arguments: dict[str, Any], message: str
) -> None:
    async with serving() as (_, _, client):
        assert message in error(await client.call_tool("probe_watch", arguments))


async def test_a_refused_target_refuses_the_watch(watch_settings: Settings, http_server: HttpServer) -> None:
    async with serving() as (_, _, client):
        set_settings(get_settings().replace(allow_networks=()))  # the default policy: loopback refused
        text = error(
            await client.call_tool("probe_watch", {"action": "add", "url": http_server.url_for("/")})
        )
        assert "127.0.0.1" in text and "loopback" in text
        set_settings(
            get_settings().replace(allow_networks=(__import__("ipaddress").ip_network("127.0.0.0/8"),))
        )
        listed = content(await client.call_tool("probe_watch", {"action": "list"}))
        assert listed["watches"] == []


async def test_duplicate_names_are_refused(watch_settings: Settings, http_server: HttpServer) -> None:
    async with serving() as (_, _, client):
        arguments = {"action": "add", "name": "home", "url": http_server.url_for("/")}
        content(await client.call_tool("probe_watch", arguments))
        assert "already exists" in error(await client.call_tool("probe_watch", arguments))
        assert http_server.count("/") == 1  # the second add did not even run the check


async def test_flapping_target_thresholds_incidents_and_report(
    watch_settings: Settings, http_server: HttpServer
) -> None:
    async with serving() as (_, service, client):
        url = http_server.url_for("/switch/api")
        content(
            await client.call_tool(
                "probe_watch",
                {
                    "action": "add",
                    "name": "api",
                    "url": url,
                    "interval_s": 0.2,
                    "failure_threshold": 3,
                    "success_threshold": 2,
                },
            )
        )
        store = await service.handle.require()

        async def state() -> str:
            watch = await store.get_watch("probe", "api")
            assert watch is not None
            return watch.state

        async def is_state(wanted: str) -> bool:
            return await state() == wanted

        http_server.switch("api", 503)
        await wait_for(lambda: is_state("down"))
        results = await store.results("probe", "api", 0)
        # Down after exactly three failures in a row, not before: the incident opened with the
        # third. (More runs may have come in since; the watch keeps running at 0.2 s.)
        verdicts = [r.verdict for r in results]
        first = verdicts.index("critical")
        assert first > 0 and verdicts[first : first + 3] == ["critical"] * 3
        (opened,) = await store.incidents("probe", "api", 0)
        assert opened.opened_at == results[first + 2].checked_at
        http_server.switch("api", 200)
        await wait_for(lambda: is_state("up"))
        results = await store.results("probe", "api", 0)
        assert [r.verdict for r in results][-2:] == ["ok", "ok"]

        report = content(await client.call_tool("probe_watch_report", {"name": "api", "window": "1h"}))
        (item,) = report["watches"]
        assert item["state"] == "up" and item["verdict"] == "ok"
        (incident,) = item["incidents"]
        assert incident["closed_at"] is not None and incident["duration_s"] > 0.3
        assert "503" in incident["cause"] and "http_status" in incident["cause"]
        assert item["counts"]["critical"] >= 3 and 0 < item["uptime_percent"] < 100
        assert item["latency"]["samples"] == item["checks"] and item["latency"]["p50_ms"] > 0
        assert item["last_result"]["verdict"] == "ok"


async def test_report_all_worst_first(watch_settings: Settings, http_server: HttpServer) -> None:
    async with serving() as (_, service, client):
        http_server.switch("bad", 500)
        for name in ("good", "bad"):
            content(
                await client.call_tool(
                    "probe_watch",
                    {
                        "action": "add",
                        "name": name,
                        "url": http_server.url_for(f"/switch/{name}"),
                        "interval_s": 0.2,
                    },
                )
            )
        store = await service.handle.require()

        async def bad_is_down() -> bool:
            watch = await store.get_watch("probe", "bad")
            return watch is not None and watch.state == "down"

        await wait_for(bad_is_down)
        report = content(await client.call_tool("probe_watch_report", {}))
        assert [w["name"] for w in report["watches"]] == ["bad", "good"]
        assert report["verdict"] == "critical"
        assert [f["code"] for f in report["findings"]] == ["watch_down"]
        assert report["summary"].startswith("24h: bad 0.00% up, good 100.00% up")


async def test_pause_resume_remove(watch_settings: Settings, http_server: HttpServer) -> None:
    async with serving() as (_, service, client):
        url = http_server.url_for("/status/204")
        content(
            await client.call_tool(
                "probe_watch", {"action": "add", "name": "p", "url": url, "interval_s": 0.2}
            )
        )
        paused = content(await client.call_tool("probe_watch", {"action": "pause", "name": "p"}))
        assert paused["watch"]["paused"] is True and paused["watch"]["next_run"] is None
        before = http_server.count("/status/204")
        await anyio.sleep(0.6)
        assert http_server.count("/status/204") == before
        content(await client.call_tool("probe_watch", {"action": "resume", "name": "p"}))
        await wait_for(lambda: _true(http_server.count("/status/204") > before))
        content(await client.call_tool("probe_watch", {"action": "remove", "name": "p"}))
        store = await service.handle.require()
        assert await store.get_watch("probe", "p") is None
        assert "no probe watch named 'p'" in error(
            await client.call_tool("probe_watch_report", {"name": "p"})
        )


async def _true(value: bool) -> bool:
    return value


async def test_watches_persist_across_restarts(watch_settings: Settings, http_server: HttpServer) -> None:
    url = http_server.url_for("/status/200")
    server, service = build()
    async with Client(server) as client:
        content(
            await client.call_tool(
                "probe_watch", {"action": "add", "name": "keep", "url": url, "interval_s": 0.2}
            )
        )
    assert service.scheduler is None  # stopped with the server
    await anyio.sleep(0.2)  # a request sent just before the stop may still be on its way
    count = http_server.count("/status/200")
    await anyio.sleep(0.5)
    assert http_server.count("/status/200") == count

    server, service = build()
    service.poll_s, service.start_delay_s = 0.1, 0.0
    async with Client(server) as client:
        await wait_for(lambda: _true(http_server.count("/status/200") >= count + 2))

        async def stored_runs() -> bool:  # the result is stored after the request is answered
            listed = content(await client.call_tool("probe_watch", {"action": "list"}))
            return listed["watches"][0]["runs"] >= 3

        await wait_for(stored_runs)


async def test_resource_updated_reaches_a_subscribed_client(
    watch_settings: Settings, http_server: HttpServer
) -> None:
    async with serving() as (_, _, client):
        url = http_server.url_for("/switch/n")
        content(
            await client.call_tool(
                "probe_watch", {"action": "add", "name": "n", "url": url, "interval_s": 0.2}
            )
        )
        seen: list[str] = []
        async with client.listen(resource_subscriptions=["monitor://watches/n"]) as subscription:
            http_server.switch("n", 500)
            with anyio.fail_after(5):
                async for event in subscription:
                    assert isinstance(event, ResourceUpdated)
                    seen.append(event.uri)
                    break
        assert seen == ["monitor://watches/n"]
        # The resource now tells the story.
        read = await client.read_resource("monitor://watches/n")
        text = cast("TextResourceContents", read.contents[0]).text
        history = json.loads(text)
        assert history["watches"][0]["state"] == "down"


async def test_resources(watch_settings: Settings, http_server: HttpServer) -> None:
    async with serving() as (_, _, client):
        set_settings(get_settings().replace(db=get_settings().db, auth_token="s3cret"))
        config = json.loads(
            cast("TextResourceContents", (await client.read_resource("monitor://config")).contents[0]).text
        )
        assert config["MCP_MONITOR_AUTH_TOKEN"] == "***"
        assert config["MCP_MONITOR_WATCH_MIN_INTERVAL_S"] == 0.1
        assert "s3cret" not in json.dumps(config)
        content(
            await client.call_tool(
                "probe_watch", {"action": "add", "name": "r", "url": http_server.url_for("/")}
            )
        )
        listing = json.loads(
            cast("TextResourceContents", (await client.read_resource("monitor://watches")).contents[0]).text
        )
        assert [w["name"] for w in listing] == ["r"]
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        assert sorted(templates) == ["monitor://schemas/{tool}", "monitor://watches/{name}"]


def test_config_resource_hides_the_database_password() -> None:
    from monitor_common.config import effective_settings

    set_settings(Settings(db="postgresql://monitor:hunter2@127.0.0.1:5432/monitor"))
    shown = effective_settings()
    assert shown["MCP_MONITOR_DB"] == "postgresql://***:***@127.0.0.1:5432/monitor"


async def test_on_demand_checks_are_recorded_when_asked(
    watch_settings: Settings, http_server: HttpServer
) -> None:
    async with serving() as (_, _, client):
        url = http_server.url_for("/status/500")
        content(await client.call_tool("probe_check", {"url": url}))
        assert "no probe watch named" in error(await client.call_tool("probe_watch_report", {"name": url}))

        set_settings(get_settings().replace(record=True))
        content(await client.call_tool("probe_check", {"url": url}))
        content(await client.call_tool("probe_check", {"url": http_server.url_for("/status/200")}))
        report = content(await client.call_tool("probe_watch_report", {"name": url}))
        assert report["verdict"] == "critical" and report["watches"] == []
        (seen,) = report["recorded"]
        assert seen["codes"] == ["http_status"] and seen["figures"] == {"status": 500, "pid": os.getpid()}
        assert report["summary"].startswith(f"{url} is not watched; last checked ")


async def test_call_cli_runs_no_watches(watch_settings: Settings, http_server: HttpServer) -> None:
    server, service = build()
    server.run_background = False
    async with Client(server) as client:
        content(await client.call_tool("probe_watch", {"action": "list"}))
        assert service.scheduler is None
    _ = time


async def test_resources_subscribe_of_2025_clients_gets_updates(
    watch_settings: Settings, http_server: HttpServer
) -> None:
    import warnings

    from mcp.shared.exceptions import MCPDeprecationWarning
    from mcp_types import ResourceUpdatedNotification

    server, service = build()
    service.poll_s, service.start_delay_s = 0.1, 0.0
    updated = anyio.Event()
    seen: list[str] = []

    async def on_message(message: object) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            seen.append(str(message.params.uri))
            updated.set()

    async with Client(server, mode="legacy", message_handler=on_message) as client:
        assert client.server_capabilities.resources is not None
        assert client.server_capabilities.resources.subscribe is True
        url = http_server.url_for("/switch/legacy")
        content(
            await client.call_tool(
                "probe_watch", {"action": "add", "name": "l", "url": url, "interval_s": 0.2}
            )
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)  # resources/subscribe is the 2025 way
            await client.subscribe_resource("monitor://watches/l")
        http_server.switch("legacy", 500)
        with anyio.fail_after(5):
            await updated.wait()
    assert seen[0] == "monitor://watches/l"


async def test_a_lost_database_connection_is_an_error_once_then_reopened(
    pg_url: str, http_server: HttpServer
) -> None:
    import psycopg

    set_settings(
        Settings(
            allow_networks=(__import__("ipaddress").ip_network("127.0.0.0/8"),),
            db=pg_url,
            watch_min_interval_s=0.1,
        )
    )
    server, service = build()
    # The scheduler polls the store too: slowly here, so that the tool call below is the first to
    # meet the dead connection (with the usual 0.1 s poll, the scheduler could reopen it first).
    service.poll_s, service.start_delay_s = 30.0, 0.0
    async with Client(server) as client:
        content(
            await client.call_tool(
                "probe_watch", {"action": "add", "name": "p", "url": http_server.url_for("/")}
            )
        )
        await anyio.sleep(0.2)  # the run that `add` wakes the scheduler for is over
        # Another session ends ours, as a restarted or failed-over database would.
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as admin:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        assert "PostgreSQL store" in error(await client.call_tool("probe_watch", {"action": "list"}))
        listed = content(await client.call_tool("probe_watch", {"action": "list"}))
        assert [w["name"] for w in listed["watches"]] == ["p"]


async def test_a_watch_named_by_its_url_has_a_readable_resource(
    watch_settings: Settings, http_server: HttpServer
) -> None:
    async with serving() as (_, _, client):
        url = http_server.url_for("/status/200?a=b")
        added = content(await client.call_tool("probe_watch", {"action": "add", "url": url}))
        uri = added["watch"]["uri"]
        assert uri.startswith("monitor://watches/http%3A%2F%2F127.0.0.1%3A")
        history = json.loads(cast("TextResourceContents", (await client.read_resource(uri)).contents[0]).text)
        assert history["watches"][0]["name"] == url
