"""cert_watch and cert_watch_report: real cert_check runs against loopback TLS servers."""

from __future__ import annotations

from pathlib import Path

from mcp import Client
from ssl_monitor.server import mcp, watch_service
from support.certs import CertAuthority, serve_tls
from support.watch_helpers import call, wait_until, watch_settings_in


async def test_cert_watch_reports_days_left_and_its_trend(tmp_path: Path, ca: CertAuthority) -> None:
    watch_settings_in(tmp_path)
    watch_service.poll_s, watch_service.start_delay_s = 0.1, 0.0
    leaf = ca.expiring_in(5)
    async with serve_tls(leaf.server_ssl_context()) as (_, port), Client(mcp) as client:
        added = await call(
            client, "cert_watch", action="add", name="api", host="127.0.0.1", port=port, sni="localhost",
            ca_bundle_pem=leaf.ca_pem, interval_s=0.2,
        )  # fmt: skip
        assert added["verdict"] == "critical"  # 5 days left: below the default critical_days of 7
        assert "cert_expiring_soon" in [f["code"] for f in added["findings"]]
        # The CA bundle is stored (the check needs it) but not shown back in full.
        assert added["watch"]["definition"]["port"] == port

        async def runs() -> bool:
            listed = await call(client, "cert_watch", action="list")
            return listed["watches"][0]["runs"] >= 3

        await wait_until(runs)
        report = await call(client, "cert_watch_report", name="api", window="1h")
    (item,) = report["watches"]
    assert item["state"] == "down" and report["verdict"] == "critical"
    trend = item["trends"]["days_left"]
    assert 4.9 < trend["last"] <= trend["first"] < 5.01
    assert set(item["trends"]) <= {"days_left", "days_left_chain_min"}


async def test_plan_certificate_renewal_prompt() -> None:
    async with Client(mcp) as client:
        prompt = await client.get_prompt("plan_certificate_renewal", {"host": "mail.example.com:465"})
        tools = {t.name for t in (await client.list_tools()).tools}
    text = " ".join(m.content.text for m in prompt.messages if m.content.type == "text")
    assert "mail.example.com:465" in text
    for tool in ("cert_check", "cert_compare_endpoints", "tls_scan", "cert_revocation", "cert_watch_report"):
        assert tool in text and tool in tools
