"""completion/complete and logging/setLevel: what the servers offer besides tools and resources."""

from __future__ import annotations

import importlib
import ipaddress
import logging
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import LoggingMessageNotificationParams, PromptReference, ResourceTemplateReference
from monitor_common.config import Settings, set_settings
from monitor_common.results import CheckResult, Stopwatch
from monitor_common.server import MonitorServer
from support.http_server import HttpServer
from support.watch_server import build

from e2e.helpers import MODULES


@pytest.fixture
def store(tmp_path: Path) -> Settings:
    settings = Settings(
        db=str(tmp_path / "watches.db"),
        allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        watch_min_interval_s=0.1,
    )
    set_settings(settings)
    return settings


async def test_watch_names_and_targets_complete_from_the_store(
    store: Settings, http_server: HttpServer
) -> None:
    server, service = build()
    service.start_delay_s = 3600.0  # no scheduled runs: only what the test does
    ok, down = http_server.url_for("/status/200"), http_server.url_for("/status/503")
    async with Client(server) as client:
        for name, url in (("api", ok), ("api-backup", down), ("www", ok)):
            added = await client.call_tool("probe_watch", {"action": "add", "name": name, "url": url})
            assert not added.is_error, added.content
        template = ResourceTemplateReference(uri="monitor://watches/{name}")
        got = await client.complete(template, {"name": "name", "value": "ap"})
        assert got.completion.values == ["api", "api-backup"] and got.completion.total == 2
        got = await client.complete(template, {"name": "name", "value": ""})
        assert sorted(got.completion.values) == ["api", "api-backup", "www"]
        # A prompt's target argument completes from what is watched.
        prompt = PromptReference(name="any_prompt")
        got = await client.complete(prompt, {"name": "url", "value": http_server.url_for("/status/5")})
        assert got.completion.values == [down]
        # Something this server knows nothing of: no candidates, not an error.
        got = await client.complete(prompt, {"name": "colour", "value": "r"})
        assert got.completion.values == []


@pytest.mark.parametrize("module", sorted(MODULES.values()))
async def test_each_servers_prompt_completes_without_watches(module: str, store: Settings) -> None:
    server = importlib.import_module(f"{module}.server").mcp
    async with Client(server) as client:
        assert client.server_capabilities.completions is not None
        prompts = (await client.list_prompts()).prompts
        assert prompts, module
        for prompt in prompts:
            for argument in prompt.arguments or []:
                got = await client.complete(
                    PromptReference(name=prompt.name), {"name": argument.name, "value": "x"}
                )
                assert got.completion.values == []  # nothing watched yet


def _logging_server() -> MonitorServer:
    server = MonitorServer("log-test", version="0.0.0", instructions="logs during a call")
    log = logging.getLogger("monitor_common.log_test")

    @server.tool()
    async def noisy() -> CheckResult:
        """Log at every level, then answer ok (a stand-in for a check that meets trouble)."""
        started = Stopwatch()
        log.debug("debug line")
        log.info("info line")
        log.warning("the store could not record this result")
        log.error("an error line")
        return CheckResult.build(summary="done", findings=[], started=started)

    return server


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (None, ["warning", "error"]),  # the default: warning and worse
        ("error", ["error"]),
        ("critical", []),
        ("debug", ["warning", "error"]),  # below the server's own log level: never logged at all
    ],
)
async def test_log_messages_honour_the_clients_level(level: str | None, expected: list[str]) -> None:
    received: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        received.append(params)

    async with Client(_logging_server(), mode="legacy", logging_callback=on_log) as client:
        assert client.server_capabilities.logging is not None
        if level is not None:
            with pytest.warns(MCPDeprecationWarning):  # logging/setLevel is gone from 2026-07-28
                await client.set_logging_level(level)  # pyright: ignore[reportArgumentType, reportDeprecated]
        result = await client.call_tool("noisy", {})
        assert not result.is_error
    assert [m.level for m in received] == expected
    assert all(m.logger == "monitor_common.log_test" for m in received)
    if expected and expected[0] == "warning":
        assert received[0].data == "the store could not record this result"


async def test_log_messages_follow_the_requests_opt_in_on_the_2026_protocol() -> None:
    received: list[Any] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        received.append(params.level)

    async with Client(_logging_server(), logging_callback=on_log) as client:
        await client.call_tool("noisy", {})
        assert received == []  # no opt-in: the server must not send any
    async with Client(_logging_server(), logging_callback=on_log, log_level="error") as client:
        await client.call_tool("noisy", {})
        assert received == ["error"]


async def test_a_log_line_that_cannot_be_formatted_does_not_spoil_the_result() -> None:
    server = MonitorServer("log-test", version="0.0.0", instructions="a bad log call")
    log = logging.getLogger("monitor_common.log_test")

    @server.tool()
    async def sloppy() -> CheckResult:
        """Log with arguments that do not fit the format, then answer ok."""
        started = Stopwatch()
        log.warning("retried %d times", "three")  # %d of a string: getMessage raises TypeError
        return CheckResult.build(summary="done", findings=[], started=started)

    received: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        received.append(params)

    logging.raiseExceptions, saved = False, logging.raiseExceptions  # the stderr handler stays quiet
    try:
        async with Client(server, mode="legacy", logging_callback=on_log) as client:
            result = await client.call_tool("sloppy", {})
    finally:
        logging.raiseExceptions = saved
    assert not result.is_error, result.content
    assert [m.data for m in received] == ["retried %d times ('three',)"]
