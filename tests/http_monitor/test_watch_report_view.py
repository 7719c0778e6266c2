"""http_watch_report's MCP Apps view: a real watch that goes down and up against the loopback test
server, its report as a host with MCP Apps receives it, and that report drawn by the view in a
real browser (headless Chromium) framed by a test host that plays the host's side of the bridge."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
from http_monitor.server import mcp, watch_service
from mcp import Client
from mcp.client import advertise
from mcp_types import CallToolResult, TextResourceContents
from support.apps_host import chromium, console_errors, host_page, wait_for_messages
from support.http_server import HttpServer
from support.watch_helpers import call, structured, wait_until, watch_settings_in

WITH_APPS = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})
ARGUMENTS = {"name": "site", "window": "1h"}


async def _outage(tmp_path: Path, http_server: HttpServer) -> tuple[CallToolResult, CallToolResult, str]:
    """A watch that was down once and is up again; its report as a host with MCP Apps and a host
    without get it, and the view's HTML as the host with MCP Apps reads it."""
    watch_settings_in(tmp_path)
    watch_service.poll_s, watch_service.start_delay_s = 0.1, 0.0
    url = http_server.url_for("/switch/site")
    async with Client(mcp, extensions=[WITH_APPS]) as apps, Client(mcp) as plain:
        await call(apps, "http_watch", action="add", name="site", url=url, interval_s=0.2)

        async def state(wanted: str) -> bool:
            report = await call(plain, "http_watch_report", **ARGUMENTS)
            return report["watches"][0]["state"] == wanted

        http_server.switch("site", 503)
        await wait_until(lambda: state("down"))
        http_server.switch("site", 200)
        await wait_until(lambda: state("up"))
        await call(apps, "http_watch", action="pause", name="site")  # the history stops moving
        drawn = await apps.call_tool("http_watch_report", ARGUMENTS)
        read = await plain.call_tool("http_watch_report", ARGUMENTS)
        (view,) = (await apps.read_resource("ui://report")).contents
    assert isinstance(view, TextResourceContents)
    return drawn, read, view.text


async def test_a_host_with_apps_gets_the_timeline_and_others_the_report_as_before(
    tmp_path: Path, http_server: HttpServer
) -> None:
    drawn, read, _ = await _outage(tmp_path, http_server)
    (item,) = structured(drawn)["watches"]
    timeline = item["timeline"]
    assert len(timeline) == 12  # 1h in 5-minute slices
    assert sum(b["checks"] for b in timeline) == item["checks"]
    assert sum(b["failed"] for b in timeline) == item["counts"]["critical"] + item["counts"]["unknown"] > 0
    assert any(b["p50_ms"] for b in timeline)
    # The text is what the model reads: the same report, without the timeline only the view draws.
    (text,) = [c.text for c in drawn.content if c.type == "text"]
    assert json.loads(text) == {
        **structured(drawn),
        "watches": [{k: v for k, v in item.items() if k != "timeline"}],
    }
    # Without the extension: no timeline, in the structured result nor in its text.
    (plain,) = structured(read)["watches"]
    assert "timeline" not in plain
    assert all("timeline" not in c.text for c in read.content if c.type == "text")
    assert {k: v for k, v in item.items() if k != "timeline"}.keys() == plain.keys()


async def test_the_view_draws_the_report_in_a_browser(tmp_path: Path, http_server: HttpServer) -> None:
    drawn, _, html = await _outage(tmp_path, http_server)
    result = drawn.model_dump(mode="json", by_alias=True, exclude_none=True)
    report = structured(drawn)
    (item,) = report["watches"]
    points = sum(b[key] is not None for b in item["timeline"] for key in ("p50_ms", "p95_ms"))

    def browse() -> dict[str, Any]:
        with host_page(html, result, ARGUMENTS) as page, chromium(tmp_path) as browser:
            browser.get(page.url)

            def drawn_and_sized(log: list[dict[str, Any]]) -> bool:
                methods = [m.get("method") for m in log]
                return "ui/notifications/initialized" in methods and any(
                    m.get("method") == "ui/notifications/size-changed" and m["params"]["height"] > 300
                    for m in log
                )

            wait_for_messages(browser, drawn_and_sized)
            frame = browser.find_element("id", "view")
            browser.switch_to.frame(frame)
            # The host sized the frame from the view's size-changed: all of the view shows, no
            # scrolling (polled: a resize can change the wrapping, and the view reports again).
            fits = "return document.documentElement.scrollHeight <= window.innerHeight"
            deadline = time.monotonic() + 30
            while not browser.execute_script(fits) and time.monotonic() < deadline:
                time.sleep(0.1)
            seen = browser.execute_script(
                """
                const texts = (selector) => [...document.querySelectorAll(selector)].map((e) => e.textContent);
                return {
                  bars: document.querySelectorAll(".uptime-bar").length,
                  failing: document.querySelectorAll(".uptime-bar.critical, .uptime-bar.warning").length,
                  points: document.querySelectorAll(".latency-point").length,
                  spans: document.querySelectorAll(".incident-span").length,
                  incidents: texts(".incident-row .cause"),
                  summary: document.getElementById("summary").textContent,
                  state: texts(".watch h2 .chip"),
                  fetched: performance.getEntriesByType("resource").map((e) => e.name),
                  fits: document.documentElement.scrollHeight <= window.innerHeight,
                };
                """
            )
            browser.switch_to.default_content()
            log = browser.execute_script("return window.bridgeLog")
            errors = console_errors(browser)
            return {"log": log, "seen": seen, "requests": list(page.requests), "errors": errors}

    outcome = await anyio.to_thread.run_sync(browse)
    seen, log = outcome["seen"], outcome["log"]
    assert seen["bars"] == 12 and seen["failing"] >= 1
    assert seen["points"] == points > 0
    assert seen["incidents"] == [i["cause"] for i in item["incidents"]] and seen["spans"] == len(
        item["incidents"]
    )
    assert "http_status" in seen["incidents"][0]
    assert seen["summary"] == report["summary"]
    assert seen["state"] == ["paused"]
    # The bridge as the spec orders it: ui/initialize first, then initialized, then the size.
    assert log[0]["method"] == "ui/initialize" and log[0]["params"]["protocolVersion"]
    methods = [m.get("method") for m in log]
    assert methods.index("ui/notifications/initialized") < len(methods) - 1
    sizes = [m["params"] for m in log if m.get("method") == "ui/notifications/size-changed"]
    assert sizes and all(s["width"] > 0 and s["height"] > 0 for s in sizes)
    assert seen["fits"]
    # Nothing fetched: no resource loaded in the view, none refused by the CSP (the console would
    # say so), no script error, and no request reached the loopback server but the host page's.
    assert seen["fetched"] == []
    assert outcome["errors"] == []
    assert outcome["requests"] == ["GET /"]


async def test_the_view_draws_an_empty_report_in_the_hosts_dark_theme(tmp_path: Path) -> None:
    watch_settings_in(tmp_path)  # a fresh store: nothing watched yet
    async with Client(mcp, extensions=[WITH_APPS]) as apps:
        drawn = await apps.call_tool("http_watch_report", {"window": "24h"})
        (view,) = (await apps.read_resource("ui://report")).contents
    assert isinstance(view, TextResourceContents)
    result = drawn.model_dump(mode="json", by_alias=True, exclude_none=True)

    def browse() -> dict[str, Any]:
        with (
            host_page(view.text, result, {"window": "24h"}, theme="dark") as page,
            chromium(tmp_path) as browser,
        ):
            browser.get(page.url)
            wait_for_messages(
                browser,
                lambda log: (
                    any(m.get("method") == "ui/notifications/size-changed" for m in log)
                    and "ui/notifications/initialized" in [m.get("method") for m in log]
                ),
            )
            browser.switch_to.frame(browser.find_element("id", "view"))
            # Drawn once the result is in: the summary replaces the waiting line.
            deadline = time.monotonic() + 30
            while not browser.find_elements("id", "summary") and time.monotonic() < deadline:
                time.sleep(0.1)
            seen = browser.execute_script(
                """
                return {
                  theme: document.documentElement.dataset.theme,
                  watches: document.querySelectorAll(".watch").length,
                  summary: document.getElementById("summary").textContent,
                  text: document.body.textContent,
                };
                """
            )
            browser.switch_to.default_content()
            return {"seen": seen, "errors": console_errors(browser)}

    outcome = await anyio.to_thread.run_sync(browse)
    seen = outcome["seen"]
    assert seen["theme"] == "dark" and seen["watches"] == 0
    assert seen["summary"] == structured(drawn)["summary"] and "Nothing is watched yet." in seen["text"]
    assert outcome["errors"] == []
