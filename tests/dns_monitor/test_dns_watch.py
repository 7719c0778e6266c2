"""dns_watch and dns_watch_report: real dns_lookup runs against the loopback DNS server."""

from __future__ import annotations

from pathlib import Path

from dns_monitor.server import mcp, watch_service
from mcp import Client
from support.dns_server import DNSServer, zone
from support.watch_helpers import call, wait_until, watch_settings_in


async def test_dns_watch_notices_a_changed_answer(tmp_path: Path, dns_server: DNSServer) -> None:
    watch_settings_in(tmp_path)
    watch_service.poll_s, watch_service.start_delay_s = 0.1, 0.0
    dns_server.handler = zone({("www.example.com.", "A"): ["192.0.2.1"]})
    async with Client(mcp) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "dns_watch")
        assert "domain" in tool.input_schema["properties"]  # dns_lookup's `name`, renamed
        added = await call(
            client, "dns_watch", action="add", domain="www.example.com", expect=["192.0.2.1"],
            server=f"127.0.0.1:{dns_server.port}", interval_s=0.2, failure_threshold=2,
        )  # fmt: skip
        assert added["verdict"] == "ok" and added["watch"]["name"] == "www.example.com"
        assert added["watch"]["definition"]["name"] == "www.example.com"

        dns_server.handler = zone({("www.example.com.", "A"): ["198.51.100.7"]})

        async def down() -> bool:
            report = await call(client, "dns_watch_report", name="www.example.com", window="1h")
            return report["watches"][0]["state"] == "down"

        await wait_until(down)
        report = await call(client, "dns_watch_report", window="1h")
    (item,) = report["watches"]
    assert report["verdict"] == "critical" and [f["code"] for f in report["findings"]] == ["watch_down"]
    (incident,) = item["incidents"]
    assert incident["closed_at"] is None
    assert item["last_result"]["figures"]["answers"] == 1


async def test_review_dns_health_prompt() -> None:
    async with Client(mcp) as client:
        prompt = await client.get_prompt("review_dns_health", {"domain": "example.org"})
        tools = {t.name for t in (await client.list_tools()).tools}
    text = " ".join(m.content.text for m in prompt.messages if m.content.type == "text")
    assert "example.org" in text
    for tool in (
        "dns_delegation",
        "dnssec_check",
        "dns_lookup",
        "email_auth_check",
        "domain_expiry",
        "dns_watch",
    ):
        assert tool in text and tool in tools
