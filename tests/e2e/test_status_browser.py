"""The status page in a real browser (Debian's headless Chromium): served by `serve --transport
http` and as the static export from file://, with JavaScript on and off; rows, states and
incident texts in the DOM; screenshots at 375 and 1440 px that are neither blank nor wider than
the window.

Set STATUS_SCREENSHOT_DIR to keep the screenshots (docs/status-page.png is the 1440 px one).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from support.chromium import chromium, distinct_colours, full_page_png
from support.mcp_http import Served, serving
from support.status_store import EXPECTED_STATES, PASSWORD

WIDTHS = (375, 1440)


@pytest.fixture(scope="module")
def served(seeded_status_db: str) -> Iterator[Served]:
    with serving("http_monitor", env={"MCP_MONITOR_DB": seeded_status_db}) as running:
        yield running


@pytest.fixture(scope="module")
def exported(seeded_status_db: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "http_monitor", "status", "--out", str(out)],
        env={**os.environ, "MCP_MONITOR_DB": seeded_status_db},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote ") and done.stderr == ""
    return out


def rows(browser: WebDriver) -> dict[str, str]:
    found: dict[str, str] = {}
    for row in browser.find_elements(By.CSS_SELECTOR, "#watches tbody tr"):
        name = row.find_element(By.CSS_SELECTOR, "td:first-child a").text
        found[name] = row.find_element(By.CSS_SELECTOR, "td:nth-child(2)").text
    return found


def check_overview(browser: WebDriver) -> None:
    assert rows(browser) == EXPECTED_STATES
    overall = browser.find_element(By.ID, "overall").text
    assert overall.startswith("1 of 6 down")
    incident = browser.find_element(By.CSS_SELECTOR, "#open li").text
    assert incident.startswith("api down since") and "http_status_unexpected" in incident
    assert "flappy" in browser.find_element(By.ID, "recent").text
    body = browser.find_element(By.TAG_NAME, "body").text
    assert PASSWORD not in body and "***:***@127.0.0.1" in body
    # Each state has its own colour in the table.
    colours = {
        row.find_element(By.CSS_SELECTOR, "td:nth-child(2)").text: row.find_element(
            By.CSS_SELECTOR, "td:nth-child(2)"
        ).value_of_css_property("color")
        for row in browser.find_elements(By.CSS_SELECTOR, "#watches tbody tr")
    }
    assert len(set(colours.values())) == len(colours) == 4, colours  # up, down, degraded, paused
    # Each row draws its 90-day bar and latency chart as inline SVG.
    assert len(browser.find_elements(By.CSS_SELECTOR, "#watches td:nth-child(8) svg path")) >= len(
        EXPECTED_STATES
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, "#watches td:nth-child(7) svg polyline")) == len(
        EXPECTED_STATES
    )


def screenshots(browser: WebDriver, tag: str, keep: Path) -> None:
    for width in WIDTHS:
        png = full_page_png(browser, width)
        (keep / f"{tag}-{width}.png").write_bytes(png)
        # Readable at this width: nothing wider than the window (no sideways scrolling).
        scroll = int(browser.execute_script("return document.documentElement.scrollWidth"))  # pyright: ignore[reportUnknownArgumentType]
        assert scroll <= width, (width, scroll)
        assert distinct_colours(png) > 200, width  # text, bars and charts drawn, not a blank page
    wanted = os.environ.get("STATUS_SCREENSHOT_DIR")
    if wanted:
        for png in keep.glob(f"{tag}-*.png"):
            (Path(wanted) / png.name).write_bytes(png.read_bytes())


def test_the_served_page(served: Served, tmp_path: Path) -> None:
    with chromium(tmp_path) as browser:
        browser.get(served.url + "/status")
        check_overview(browser)
        screenshots(browser, "status", tmp_path)
        browser.find_element(By.LINK_TEXT, "flappy").click()
        assert browser.current_url == served.url + "/status/flappy"
        assert browser.find_element(By.CSS_SELECTOR, "h2 .st").text == "up"
        assert "http_status_unexpected" in browser.find_element(By.CSS_SELECTOR, "ul.incidents").text
        assert browser.find_elements(By.CSS_SELECTOR, "svg.chart polyline.mean")
        screenshots(browser, "watch", tmp_path)


def test_the_page_needs_no_javascript(served: Served, tmp_path: Path) -> None:
    with chromium(tmp_path, javascript=False) as browser:
        browser.get(served.url + "/status")
        check_overview(browser)


def test_the_static_export_from_file_urls(exported: Path, tmp_path: Path) -> None:
    with chromium(tmp_path) as browser:
        browser.get((exported / "index.html").as_uri())
        check_overview(browser)
        screenshots(browser, "export", tmp_path)
        browser.find_element(By.LINK_TEXT, "api").click()
        assert browser.current_url.startswith((exported / "watch").as_uri())
        assert browser.find_element(By.CSS_SELECTOR, "h2 .st").text == "down"
        badge = browser.find_element(By.CSS_SELECTOR, "p.target img")
        assert browser.execute_script("return arguments[0].naturalWidth", badge) > 0  # the badge file loads
        browser.back()
        browser.find_element(By.LINK_TEXT, "7d").click()  # another window's overview
        assert browser.current_url.endswith("index-7d.html")
        assert rows(browser) == EXPECTED_STATES
