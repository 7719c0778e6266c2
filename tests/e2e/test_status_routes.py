"""/status, /status/{watch}, the badges and /metrics of a real `serve --transport http` process,
on a store of real http watches (`support.status_store`): what they show and who may read them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from support.mcp_http import INIT, MCP_HEADERS, Served, serving
from support.status_store import EXPECTED_STATES, PASSWORD

TOKEN = "status-test-token-0123456789"
METRICS_TOKEN = "metrics-only-token-9876543210"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def open_server(seeded_status_db: str) -> Iterator[Served]:
    with serving("http_monitor", env={"MCP_MONITOR_DB": seeded_status_db}) as served:
        yield served


def get(served: Served, path: str, **headers: str) -> httpx.Response:
    return httpx.get(served.url + path, headers=headers, timeout=10)


def test_the_page_lists_every_watch_with_its_state_uptime_and_incidents(open_server: Served) -> None:
    response = get(open_server, "/status")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    rows = re.findall(r'<tr class="(\w+)"><td><a href="/status/(\w+)"', page)
    assert {name: state for state, name in rows} == EXPECTED_STATES
    order = re.findall(r'<td><a href="/status/(\w+)"', page)
    assert order[0] == "api" and order[1] == "slow" and order[-1] == "paused"  # worst first
    assert "1 of 6 down" in page
    # The open incident names its cause: the summary and finding code of the check that opened it.
    open_section = page.split('id="open"')[1].split("</section>")[0]
    assert "api" in open_section and "http_status_unexpected" in open_section and "500" in open_section
    recent = page.split('id="recent"')[1].split("</section>")[0]
    assert "flappy" in recent
    # The credentials of a URL never reach the page; its redacted form does.
    assert PASSWORD not in page and "http://***:***@127.0.0.1:" in page
    # Nothing is loaded from anywhere else: no script, every link and source is this server's.
    assert "<script" not in page and "<link" not in page
    assert all(ref.startswith(("/", "?")) for ref in re.findall(r'(?:src|href)="([^"]*)"', page))


def test_one_watch_has_its_report_chart_and_incidents(open_server: Served) -> None:
    page = get(open_server, "/status/flappy?window=7d").text
    assert "<b>7d</b>" in page and 'class="chart"' in page and "p95" in page
    assert "to 20" in page and "http_status_unexpected" in page  # its closed incident, with its cause
    assert get(open_server, "/status/secret").text.count(PASSWORD) == 0
    missing = get(open_server, "/status/nope")
    assert missing.status_code == 404 and "no watch named 'nope'" in missing.text
    wrong = get(open_server, "/status?window=1y")
    assert wrong.status_code == 400 and "?window=7d" in wrong.text


def fill(svg: str) -> str:
    root = ET.fromstring(svg)
    rects = root.findall(f"{SVG}g/{SVG}rect")
    return rects[1].attrib["fill"]


@pytest.mark.parametrize(
    ("name", "colour"),
    [("homepage", "#4c1"), ("api", "#e05d44"), ("slow", "#dfb317"), ("paused", "#007ec6")],
)
def test_state_badges_are_svg_in_the_state_colour(open_server: Served, name: str, colour: str) -> None:
    response = get(open_server, f"/badge/{name}.svg")
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    assert fill(response.text) == colour
    assert f">{EXPECTED_STATES[name]}<" in response.text


def test_uptime_badges_and_a_badge_for_nothing(open_server: Served) -> None:
    badge = get(open_server, "/badge/api/uptime/30d.svg")
    assert badge.status_code == 200
    value = re.findall(r">([0-9.]+%)<", badge.text)[0]
    assert 80 < float(value.rstrip("%")) < 99.0 and fill(badge.text) not in ("#4c1", "#9f9f9f")
    missing = get(open_server, "/badge/nope.svg")
    assert missing.status_code == 404 and fill(missing.text) == "#9f9f9f"
    assert get(open_server, "/badge/api/uptime/1y.svg").status_code == 400


def test_metrics_use_blackbox_names_labelled_by_watch_kind_and_target(open_server: Served) -> None:
    response = get(open_server, "/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith(
        "text/plain; version=0.0.4"
    )
    body = response.text
    assert PASSWORD not in body
    assert re.search(
        r'probe_success\{kind="http",target="http://127\.0\.0\.1:\d+/switch/api",watch="api"\} 0\.0', body
    )
    assert re.search(r'probe_success\{[^}]*watch="homepage"\} 1\.0', body)
    assert re.search(r'probe_http_status_code\{[^}]*watch="api"\} 500\.0', body)
    assert re.search(r'monitor_watch_state\{[^}]*state="down",[^}]*watch="api"\} 1\.0', body)
    assert re.search(r'monitor_incidents_open\{[^}]*watch="api"\} 1\.0', body)
    assert re.search(r'monitor_incidents_open\{[^}]*watch="flappy"\} 0\.0', body)
    assert re.search(r'monitor_watch_last_run_timestamp_seconds\{[^}]*watch="slow"\} 1\.\d+e\+09', body)
    assert 'target="http://***:***@127.0.0.1:' in body


def test_promtool_accepts_the_exposition(open_server: Served, tmp_path: Path) -> None:
    import shutil
    import subprocess

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: prometheus)")
    body = get(open_server, "/metrics").content
    done = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_with_a_token_every_route_needs_it_unless_made_public(seeded_status_db: str) -> None:
    with serving(
        "http_monitor", env={"MCP_MONITOR_DB": seeded_status_db, "MCP_MONITOR_AUTH_TOKEN": TOKEN}
    ) as served:
        bearer = {"authorization": f"Bearer {TOKEN}"}
        for path in ("/status", "/status/api", "/badge/api.svg", "/metrics"):
            assert get(served, path).status_code == 401, path
            assert get(served, path, **bearer).status_code == 200, path
        assert get(served, "/status", **bearer, host="evil.example").status_code == 421
    env = {
        "MCP_MONITOR_DB": seeded_status_db,
        "MCP_MONITOR_AUTH_TOKEN": TOKEN,
        "MCP_MONITOR_STATUS_PUBLIC": "true",
        "MCP_MONITOR_METRICS_TOKEN": METRICS_TOKEN,
    }
    with serving("http_monitor", env=env) as served:
        assert get(served, "/status").status_code == 200
        assert get(served, "/badge/api/uptime/24h.svg").status_code == 200
        assert get(served, "/status", host="evil.example").status_code == 421
        assert get(served, "/metrics").status_code == 401
        assert get(served, "/metrics", authorization=f"Bearer {TOKEN}").status_code == 401
        assert get(served, "/metrics", authorization=f"Bearer {METRICS_TOKEN}").status_code == 200
        mcp = httpx.post(served.mcp_url, json=INIT, headers=MCP_HEADERS, timeout=10)
        assert mcp.status_code == 401  # /mcp keeps its token


def test_a_server_without_a_store_shows_an_empty_page(tmp_path: Path) -> None:
    db = tmp_path / "never.db"
    with serving("http_monitor", env={"MCP_MONITOR_DB": str(db)}) as served:
        page = get(served, "/status").text
        assert "No watches yet" in page
        assert get(served, "/metrics").status_code == 200
    assert not db.exists()  # reading the page created no store
