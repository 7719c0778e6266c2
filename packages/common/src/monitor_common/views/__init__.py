"""The HTML views a host draws inside its conversation (MCP Apps), shipped as package data.

    WATCH_REPORT_VIEW      "ui://report": draws a `<kind>_watch_report` result
    view_html(uri)         the view's HTML (one self-contained file: inline script and style)
    for_the_model(uri, r)  a result without what only the view draws (the text a model reads)

Each view takes its data from the tool result the host hands it over the Apps bridge
(`ui/notifications/tool-result`, the result's structuredContent) and fetches nothing; the MCP
side (which clients are offered it, the resource and its CSP) is `monitor_common.apps`. Nothing
here imports the MCP SDK: the watch tools name their view when they are declared.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any, cast

__all__ = ["VIEWS", "WATCH_REPORT_VIEW", "for_the_model", "view_html"]

WATCH_REPORT_VIEW = "ui://report"

# ui:// URI -> (file in this package, what the view shows)
VIEWS = {WATCH_REPORT_VIEW: ("watch_report.html", "Uptime, latency and incidents of a watch report, drawn")}


def view_html(uri: str) -> str:
    """The HTML of the view at `uri` (KeyError for a URI that is not one of `VIEWS`)."""
    filename, _ = VIEWS[uri]
    return files("monitor_common.views").joinpath(filename).read_text(encoding="utf-8")


def for_the_model(uri: str, result: dict[str, Any]) -> dict[str, Any]:
    """`result` (a tool's structuredContent) without the fields only the view at `uri` draws.

    The Apps spec gives a tool result's text to the model and its structuredContent to the view;
    a host with MCP Apps gets the report's timeline for drawing, and its model reads no more than
    the model of any other host does."""
    if uri != WATCH_REPORT_VIEW:
        return result
    watches = cast("list[dict[str, Any]]", result.get("watches") or [])
    return {**result, "watches": [{k: v for k, v in w.items() if k != "timeline"} for w in watches]}
