"""Debian's Chromium, headless, driven by selenium through Debian's chromedriver: no browser or
driver is ever downloaded (both paths are given, so Selenium Manager never runs), and the
browser is started with everything that would reach the network on its own turned off.

    with chromium(tmp_path) as browser:      # skips the test when chromium is not installed
        browser.get(url)
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

__all__ = ["CHROMEDRIVER", "CHROMIUM", "chromium", "distinct_colours", "full_page_png"]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--no-proxy-server",
    "--hide-scrollbars",
    # Any name the browser would look up fails: the only address it may reach is loopback.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--window-size=1000,900",
    # A sandboxed frame in the page's own process: its console and network events are then the
    # page's, which chromedriver reports (an isolated frame's are not). The MCP Apps host page.
    "--disable-features=IsolateSandboxedIframes",
)


@contextmanager
def chromium(tmp_path: Path, *, javascript: bool = True) -> Iterator[WebDriver]:
    """A headless Chromium driven by chromedriver, with a fresh profile in `tmp_path`; skipped
    (with the reason) where Debian's chromium and chromium-driver are not installed."""
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip(f"needs {CHROMIUM} and {CHROMEDRIVER} (Debian chromium, chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    # The console too: a request the CSP refused shows there ("Refused to connect to ...").
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    # An explicit driver: selenium then neither looks for nor downloads one.
    service = Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def full_page_png(driver: WebDriver, width: int) -> bytes:
    """A screenshot of the whole page laid out `width` CSS pixels wide."""
    driver.set_window_size(width, 800)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
    driver.set_window_size(width, min(height, 6000))
    return driver.get_screenshot_as_png()


def distinct_colours(png: bytes) -> int:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return len(image.convert("RGB").getcolors(maxcolors=1 << 24) or [])
