"""Incident notifications: real Apprise deliveries to a local webhook and a local SMTP server.

One server process (in-process MCP client) on both stores; the multi-process, crash and
PostgreSQL cases are in test_notify_processes.py. The watch checks the loopback `http_server`,
whose `/switch/{key}` the test flips between 200 and 503.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult, TextResourceContents
from monitor_common.config import Settings, get_settings, set_settings
from monitor_common.errors import ConfigError
from monitor_common.notify import outbox
from monitor_common.notify.message import MAX_BODY, MAX_TITLE, compose, duration_text
from monitor_common.notify.targets import resolve_targets, shown_url
from monitor_common.store import Store
from monitor_common.watches import WatchService
from support.http_server import HttpServer
from support.ports import free_port
from support.receivers import smtp_receiver, webhook_receiver
from support.watch_server import build

SECRET = "s3cr3t-T0KEN-path"


@asynccontextmanager
async def serving() -> AsyncIterator[tuple[WatchService, Client]]:
    server, service = build()
    service.poll_s, service.start_delay_s = 0.1, 0.0
    service.notifier.poll_s = 0.1
    async with Client(server) as client:
        yield service, client


def content(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    return cast("dict[str, Any]", result.structured_content)


def error(result: CallToolResult) -> str:
    assert result.is_error
    return " ".join(c.text for c in result.content if c.type == "text")


async def wait_for(predicate: Any, seconds: float = 30.0) -> None:
    with anyio.fail_after(seconds):
        while not await predicate():  # noqa: ASYNC110 - the condition lives in the server's tasks
            await anyio.sleep(0.05)


async def runs_of(store: Store, name: str) -> int:
    watch = await store.get_watch("probe", name)
    assert watch is not None
    return watch.runs


# --- pure parts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("json://user:pass@hooks.example.com:8443/a/b?token=x", "json://hooks.example.com:8443"),
        ("json://127.0.0.1:9000/hook/SECRET", "json://127.0.0.1:9000"),
        ("tgram://123456789:AAH-secret/12345", "tgram://***"),
        ("slack://tokA/tokB/tokC/#general", "slack://***"),
        ("pover://user@token", "pover://***"),
        ("mailto://user:pw@[2001:db8::1]:25?to=a@example.com", "mailto://[2001:db8::1]:25"),
        ("discord://webhook_id/webhook_token", "discord://***"),
        ("not a url", "***"),
    ],
)
def test_a_url_is_shown_with_its_scheme_and_network_host_at_most(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_messages_are_short_and_say_what_happened() -> None:
    findings = [
        {"code": f"code_{i}", "message": "x" * 500, "hint": "do something about it"} for i in range(6)
    ]
    opened = compose(
        "opened",
        kind="http",
        watch="homepage",
        target="https://example.com/",
        opened_at=1_800_000_000,
        verdict="critical",
        summary="https://example.com/ answered 503",
        findings=findings,
        status_url="https://status.example.com/",
    )
    assert opened.title == "DOWN: homepage (critical)"
    assert len(opened.body) <= MAX_BODY and len(opened.title) <= MAX_TITLE
    assert "since 2027-01-15T08:00:00Z" in opened.body and "answered 503" in opened.body
    assert "code_0" in opened.body and "hint: do something about it" in opened.body
    assert "code_5" not in opened.body and "and 3 more" in opened.body
    assert opened.body.endswith("https://status.example.com/status/homepage")
    resolved = compose(
        "resolved",
        kind="http",
        watch="a/b",
        target="t",
        opened_at=0,
        closed_at=7325,
        cause="503 (http_status)",
    )
    assert resolved.title == "RESOLVED: a/b (down 2 h 2 min)" and "cause: 503 (http_status)" in resolved.body
    assert duration_text(30) == "30 s" and duration_text(3 * 86400 + 7200) == "3 d 2 h"


def test_settings_declare_targets_and_hide_them() -> None:
    from monitor_common.config import effective_settings

    settings = Settings.load(
        environ={
            "MCP_MONITOR_NOTIFY": f"json://127.0.0.1:1/{SECRET}",
            "MCP_MONITOR_NOTIFY_TARGETS": f"ops=slack://tokA/{SECRET}/tokC, mail=mailto://u:{SECRET}@mail.example.com",
            "MCP_MONITOR_STATUS_URL": "https://status.example.com/",
        }
    )
    assert settings.notify == (f"json://127.0.0.1:1/{SECRET}",)
    assert dict(settings.notify_targets)["ops"] == f"slack://tokA/{SECRET}/tokC"
    assert settings.status_url == "https://status.example.com"
    set_settings(settings)
    shown = json.dumps(effective_settings())
    assert SECRET not in shown and '"ops": "***"' in shown
    targets = resolve_targets(
        ["ops", "gone", "json://hooks.example.com/x"], settings.notify, settings.notify_targets
    )
    assert [(t.shown, t.checked) for t in targets] == [
        ("MCP_MONITOR_NOTIFY #1", False),
        ("ops", False),
        ("json://hooks.example.com", True),
    ]
    # A watch the operator's watches file declares names the operator's URLs: no policy check.
    (declared,) = resolve_targets(["json://hooks.example.com/x"], (), (), callers=False)
    assert not declared.checked
    for bad in (
        "MCP_MONITOR_NOTIFY_TARGETS=ops",
        "MCP_MONITOR_NOTIFY=nourl",
        "MCP_MONITOR_STATUS_URL=ftp://x",
    ):
        name, _, value = bad.partition("=")
        with pytest.raises(ConfigError, match=name):
            Settings.load(environ={name: value})


# --- one process, real deliveries -------------------------------------------------------------------


async def add_flapping(client: Client, http_server: HttpServer, name: str, **extra: Any) -> dict[str, Any]:
    return content(
        await client.call_tool(
            "probe_watch",
            {
                "action": "add",
                "name": name,
                "url": http_server.url_for(f"/switch/{name}"),
                "interval_s": 0.2,
                "failure_threshold": 2,
                **extra,
            },
        )
    )


async def test_down_and_back_send_one_message_each(watch_settings: Settings, http_server: HttpServer) -> None:
    set_settings(get_settings().replace(status_url="https://status.example.com"))
    with webhook_receiver() as hook:
        async with serving() as (service, client):
            added = await add_flapping(client, http_server, "api", notify=[hook.url(f"/hook/{SECRET}")])
            assert added["watch"]["notify"] == [f"json://127.0.0.1:{hook.port}"]
            store = await service.handle.require()
            http_server.switch("api", 503)
            (down,) = await anyio.to_thread.run_sync(hook.wait_for, 1)
            http_server.switch("api", 200)
            down, up = await anyio.to_thread.run_sync(hook.wait_for, 2)
            # Exactly one each: more runs after the recovery send nothing more.
            runs = await runs_of(store, "api")
            await wait_for(lambda: _more_runs(store, "api", runs + 5))
            assert hook.titles() == ["DOWN: api (critical)", "RESOLVED: api " + up.title.split("api ", 1)[1]]
            assert up.title.startswith("RESOLVED: api (down ")
            assert down.path == f"/hook/{SECRET}"
            assert "probe watch 'api' is down since" in down.message
            assert "answered 503" in down.message and "http_status" in down.message
            assert down.message.endswith("https://status.example.com/status/api")
            assert "is up again after" in up.message
            deliveries = await store.deliveries("probe", "api")
            assert sorted((d.event, d.status, d.attempts, d.outcome) for d in deliveries) == [
                ("opened", "delivered", 1, "delivered"),
                ("resolved", "delivered", 1, "delivered"),
            ]


async def _more_runs(store: Store, name: str, count: int) -> bool:
    return await runs_of(store, name) >= count


async def test_a_failed_delivery_is_retried_until_it_is_delivered(
    watch_settings: Settings, http_server: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "RETRY_BASE_S", 0.3)
    with webhook_receiver() as hook:
        hook.status = 500
        async with serving() as (service, client):
            await add_flapping(client, http_server, "flaky", notify=[hook.url()])
            store = await service.handle.require()
            http_server.switch("flaky", 503)

            async def failed_twice() -> bool:
                return any(d.attempts >= 2 and d.status == "pending" for d in await store.deliveries("probe"))

            await wait_for(failed_twice)
            (pending,) = await store.deliveries("probe")
            assert pending.outcome is not None and "500" in pending.outcome
            hook.status = 200
            (message,) = await anyio.to_thread.run_sync(hook.wait_for, 1)
            assert message.title == "DOWN: flaky (critical)"

            async def delivered() -> bool:
                return [d.status for d in await store.deliveries("probe")] == ["delivered"]

            await wait_for(delivered)
            (done,) = await store.deliveries("probe")
            assert done.attempts >= 3 and len(hook.received) == 1


async def test_reminders_while_an_incident_stays_open(
    watch_settings: Settings, http_server: HttpServer
) -> None:
    with webhook_receiver() as hook:
        async with serving() as (service, client):
            await add_flapping(client, http_server, "down", notify=[hook.url()], notify_repeat_s=0.5)
            http_server.switch("down", 503)
            await anyio.to_thread.run_sync(hook.wait_for, 3)
            http_server.switch("down", 200)

            def resolved() -> bool:
                return any(t.startswith("RESOLVED") for t in hook.titles())

            with anyio.fail_after(30):
                while not resolved():  # noqa: ASYNC110 - the receiver is a thread
                    await anyio.sleep(0.05)
            store = await service.handle.require()
            recorded = sorted(await store.deliveries("probe", "down"), key=lambda d: d.created_at)
        titles = hook.titles()
        assert titles[0] == "DOWN: down (critical)" and titles[1].startswith("STILL DOWN: down (")
        assert titles[-1].startswith("RESOLVED") and sum(t.startswith("RESOLVED") for t in titles) == 1
        # One reminder per period at most: announcements are recorded at least 0.5 s apart.
        announced = [d.created_at for d in recorded if d.event != "resolved"]
        assert len(announced) >= 3 and all(b - a >= 0.5 for a, b in itertools.pairwise(announced))


async def test_named_global_and_mail_targets_and_test_notify(
    watch_settings: Settings, http_server: HttpServer
) -> None:
    with webhook_receiver() as everyone, webhook_receiver() as ops, smtp_receiver() as mail:
        set_settings(
            get_settings().replace(
                notify=(everyone.url(f"/all/{SECRET}"),),
                notify_targets=(("ops", ops.url(f"/ops/{SECRET}")), ("mail", mail.url())),
            )
        )
        async with serving() as (_, client):
            added = await add_flapping(client, http_server, "site", notify=["ops", "mail"])
            assert added["watch"]["notify"] == ["ops", "mail"]
            tested = content(await client.call_tool("probe_watch", {"action": "test_notify", "name": "site"}))
            assert tested["verdict"] == "ok"
            assert sorted(f["message"] for f in tested["findings"]) == [
                "MCP_MONITOR_NOTIFY #1: delivered",
                "mail: delivered",
                "ops: delivered",
            ]
            (mailed,) = await anyio.to_thread.run_sync(mail.wait_for, 1)
            assert mailed["Subject"] == "TEST: site" and mailed["To"] == "ops@example.com"
            assert (await anyio.to_thread.run_sync(ops.wait_for, 1))[0].title == "TEST: site"
            assert (await anyio.to_thread.run_sync(everyone.wait_for, 1))[0].title == "TEST: site"
            listed = content(await client.call_tool("probe_watch", {"action": "list"}))
            config = await client.read_resource("monitor://config")
            shown = json.dumps([added, tested, listed]) + "".join(
                c.text for c in config.contents if isinstance(c, TextResourceContents)
            )
            assert SECRET not in shown and str(ops.port) not in shown and str(everyone.port) not in shown

            # A real incident reaches all three, by mail too.
            http_server.switch("site", 503)
            mails = await anyio.to_thread.run_sync(mail.wait_for, 2)
            assert mails[1]["Subject"] == "DOWN: site (critical)"
            assert "answered 503" in str(mails[1].get_payload())


async def test_test_notify_reports_each_failure(watch_settings: Settings, http_server: HttpServer) -> None:
    closed = free_port()
    with webhook_receiver() as hook:
        async with serving() as (_, client):
            await add_flapping(
                client, http_server, "t", notify=[hook.url(), f"json://127.0.0.1:{closed}/{SECRET}"]
            )
            tested = content(await client.call_tool("probe_watch", {"action": "test_notify", "name": "t"}))
            assert tested["verdict"] == "critical"
            by_target = {f["message"].split(": ", 1)[0]: f for f in tested["findings"]}
            ok = by_target[f"json://127.0.0.1:{hook.port}"]
            bad = by_target[f"json://127.0.0.1:{closed}"]
            assert ok["code"] == "notify_delivered" and bad["code"] == "notify_failed"
            assert "error" in bad["message"].lower() and SECRET not in json.dumps(tested)
            await add_flapping(client, http_server, "nobody")
            quiet = content(
                await client.call_tool("probe_watch", {"action": "test_notify", "name": "nobody"})
            )
            assert quiet["verdict"] == "warning" and quiet["findings"][0]["code"] == "notify_not_configured"


@pytest.mark.parametrize(
    ("notify", "message"),
    [
        (["json://169.254.169.254/latest"], "refused to connect to 169.254.169.254 (link-local address)"),
        (["json://2852039166/x"], "refused to connect to 169.254.169.254"),
        (["json://[::ffff:10.0.0.1]/x"], "private address"),
        (["ops"], "neither an Apprise URL"),
        (["nosuchscheme://host.example.com/x"], "not an Apprise URL Apprise can use"),
        (["syslog://"], "notifies this machine itself"),
        ([f"json://h{i}.example.com/x" for i in range(11)], "at most 10"),
    ],
)
async def test_a_bad_or_refused_notify_refuses_the_watch(
    watch_settings: Settings, http_server: HttpServer, notify: list[str], message: str
) -> None:
    async with serving() as (_, client):
        text = error(
            await client.call_tool(
                "probe_watch",
                {"action": "add", "name": "x", "url": http_server.url_for("/"), "notify": notify},
            )
        )
        assert message in text
        assert "/latest" not in text
        listed = content(await client.call_tool("probe_watch", {"action": "list"}))
        assert listed["watches"] == []


async def test_the_policy_applies_to_a_callers_url_at_send_time_not_to_the_operators() -> None:
    from monitor_common.netpolicy import NetworkPolicy
    from monitor_common.notify.sender import send
    from monitor_common.notify.targets import NotifyTarget

    strict = NetworkPolicy()  # loopback refused, as by default
    with webhook_receiver() as hook:
        operator = await send(
            NotifyTarget(hook.url(), "ops", checked=False), "t", "b", policy=strict, resolver=None
        )
        assert operator.delivered
        hook.wait_for(1)  # the receiver records a message just after answering it
        caller = await send(
            NotifyTarget(hook.url(), "x", checked=True), "t", "b", policy=strict, resolver=None
        )
        assert not caller.delivered and caller.permanent
        assert "refused to connect to 127.0.0.1 (loopback address)" in caller.detail
        assert len(hook.received) == 1
