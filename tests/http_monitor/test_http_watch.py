"""http_watch and http_watch_report: real http_check runs against the loopback test server."""

from __future__ import annotations

from pathlib import Path

from http_monitor.server import mcp, watch_service
from mcp import Client
from support.http_server import HttpServer
from support.watch_helpers import call, wait_until, watch_settings_in


async def test_http_watch_goes_down_and_up_with_an_incident(tmp_path: Path, http_server: HttpServer) -> None:
    watch_settings_in(tmp_path)
    watch_service.poll_s, watch_service.start_delay_s = 0.1, 0.0
    url = http_server.url_for("/switch/site")
    async with Client(mcp) as client:
        added = await call(
            client, "http_watch", action="add", name="site", url=url, interval_s=0.2, expect_status="200"
        )
        assert added["verdict"] == "ok" and added["result"]["status_code"] == 200
        assert added["watch"]["definition"] == {"url": url, "expect_status": "200"}

        async def state(wanted: str) -> bool:
            report = await call(client, "http_watch_report", name="site", window="1h")
            return report["watches"][0]["state"] == wanted

        http_server.switch("site", 503)
        await wait_until(lambda: state("down"))
        http_server.switch("site", 200)
        await wait_until(lambda: state("up"))
        report = await call(client, "http_watch_report", name="site", window="1h")
        (item,) = report["watches"]
        (incident,) = item["incidents"]
        assert incident["closed_at"] is not None and "http_status" in incident["cause"]
        assert item["latency"]["p50_ms"] > 0 and item["last_result"]["figures"]["status_code"] == 200
        assert 0 < item["uptime_percent"] < 100


async def test_investigate_outage_prompt_names_real_tools() -> None:
    async with Client(mcp) as client:
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert "investigate_outage" in prompts
        prompt = await client.get_prompt("investigate_outage", {"url": "https://shop.example/"})
        tools = {t.name for t in (await client.list_tools()).tools}
    text = " ".join(m.content.text for m in prompt.messages if m.content.type == "text")
    assert "https://shop.example/" in text
    for tool in (
        "http_check",
        "http_watch_report",
        "http_check_each_ip",
        "http_redirects",
        "tcp_check",
        "http_timing",
    ):
        assert tool in text and tool in tools
