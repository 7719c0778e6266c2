"""A test host for MCP Apps views: a loopback page that frames a view and plays the host's side of
the Apps bridge, and Debian's headless Chromium (through chromedriver) to load it.

    with host_page(view_html, tool_result, tool_arguments) as page, chromium(tmp_path) as browser:
        browser.get(page.url)
        messages = wait_for_messages(browser, lambda log: ...)   # what the view sent the host

The page answers `ui/initialize`, then sends `ui/notifications/tool-input` and
`ui/notifications/tool-result`, resizes the frame on `ui/notifications/size-changed`, and keeps
every message the view sent in `window.bridgeLog`. The view is framed as hosts frame it: a
sandboxed `srcdoc` iframe (scripts only, an opaque origin) under the page's Content-Security-Policy,
which lets nothing load from anywhere; the page server records every request it receives.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from support.chromium import CHROMEDRIVER, CHROMIUM, chromium  # the one Chromium launcher

__all__ = [
    "CHROMEDRIVER",
    "CHROMIUM",
    "HostPage",
    "chromium",
    "console_errors",
    "host_page",
    "wait_for_messages",
]


# Applies to the page and, inherited, to the srcdoc frame: nothing may be fetched, framed from an
# address or connected to; only the inline script and style of the page and of the view run.
HOST_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; frame-src 'none'"

_HOST_SCRIPT = """
window.bridgeLog = [];
const frame = document.createElement("iframe");
frame.setAttribute("sandbox", "allow-scripts");
frame.id = "view";
frame.style.cssText = "width: 760px; height: 120px; border: 0";
frame.srcdoc = VIEW_HTML;
document.body.appendChild(frame);
function post(message) { frame.contentWindow.postMessage(Object.assign({ jsonrpc: "2.0" }, message), "*"); }
window.addEventListener("message", (event) => {
  if (event.source !== frame.contentWindow) return;
  const message = event.data;
  window.bridgeLog.push(message);
  if (message.method === "ui/initialize") {
    post({ id: message.id, result: {
      protocolVersion: message.params.protocolVersion,
      hostInfo: { name: "test-host", version: "1" },
      hostCapabilities: {},
      hostContext: HOST_CONTEXT,
    } });
  } else if (message.method === "ui/notifications/initialized") {
    post({ method: "ui/notifications/tool-input", params: { arguments: TOOL_ARGUMENTS } });
    post({ method: "ui/notifications/tool-result", params: TOOL_RESULT });
  } else if (message.method === "ui/notifications/size-changed") {
    frame.style.height = message.params.height + "px";
  }
});
"""


def _script_json(value: Any) -> str:
    """`value` as a JS literal that cannot end the <script> element it sits in."""
    return json.dumps(value).replace("</", "<\\/")


@dataclass
class HostPage:
    url: str
    requests: list[str] = field(default_factory=lambda: list[str]())


@contextmanager
def host_page(
    view_html: str,
    tool_result: dict[str, Any],
    tool_arguments: dict[str, Any],
    theme: str = "light",
) -> Iterator[HostPage]:
    """Serve the host page on 127.0.0.1 (an ephemeral port) for as long as the block runs; its
    `ui/initialize` answer gives the view the host's `theme`."""
    context = {"theme": theme, "displayMode": "inline", "viewport": {"width": 760, "height": 600}}
    body = (
        '<!doctype html><html><head><meta charset="utf-8"><title>test host</title>'
        '<link rel="icon" href="data:,"></head><body><script>'
        f"const VIEW_HTML = {_script_json(view_html)};\n"
        f"const TOOL_RESULT = {_script_json(tool_result)};\n"
        f"const TOOL_ARGUMENTS = {_script_json(tool_arguments)};\n"
        f"const HOST_CONTEXT = {_script_json(context)};\n"
        f"{_HOST_SCRIPT}</script></body></html>"
    ).encode()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"GET {self.path}")
            if self.path != "/":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", HOST_CSP)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            seen.append(f"POST {self.path}")
            self.send_error(404)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HostPage(url=f"http://127.0.0.1:{server.server_address[1]}/", requests=seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def wait_for_messages(
    driver: Any, done: Callable[[list[dict[str, Any]]], bool], seconds: float = 30.0
) -> list[dict[str, Any]]:
    """Poll the host page's `bridgeLog` until `done(log)`; fail with the log after `seconds`
    (generous: the machine may be loaded; the condition, not the time, ends the wait)."""
    deadline = time.monotonic() + seconds
    log: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        log = cast("list[dict[str, Any]]", driver.execute_script("return window.bridgeLog || []"))
        if done(log):
            return log
        time.sleep(0.1)
    raise AssertionError(f"the view did not send what was expected within {seconds} s: {log}")


def console_errors(driver: Any) -> list[str]:
    """The errors logged in the browser's console so far (the page's and its frames'): a script
    error, or a load or connection the Content-Security-Policy refused."""
    entries = cast("list[dict[str, Any]]", driver.get_log("browser"))
    return [str(e.get("message")) for e in entries if e.get("level") == "SEVERE"]
