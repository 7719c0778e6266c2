"""What http-monitor's watches need besides its check: the key figures of an `http_check` result
and the `investigate_outage` prompt (`server.py` registers both). Every watched run is an `http_check` with the stored arguments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, cast

from pydantic import Field

__all__ = ["http_figures", "investigate_outage"]


def http_figures(result: Mapping[str, Any]) -> dict[str, Any]:
    """The key figures of an http_check result: total time, DNS time, status, certificate days left."""
    timings = cast("Mapping[str, Any]", result.get("timings_ms") or {})
    tls = cast("Mapping[str, Any]", result.get("tls") or {})
    figures: dict[str, Any] = {"latency_ms": timings.get("total", result.get("duration_ms"))}
    if timings.get("dns") is not None:
        figures["dns_ms"] = timings["dns"]  # /metrics: probe_dns_lookup_time_seconds
    if result.get("status_code") is not None:
        figures["status_code"] = result["status_code"]
    if tls.get("days_left") is not None:
        figures["days_left"] = tls["days_left"]
    return figures


def investigate_outage(url: Annotated[str, Field(description="The URL that is down or slow")]) -> str:
    """Find out why a website or API is down or slow, step by step, with this server's tools."""
    return (
        f"Investigate why {url} is down or slow, using the http-monitor tools in this order and "
        "stopping as soon as the cause is clear:\n"
        f"1. http_check url={url}: the verdict, status, findings and where the time goes (DNS, connect, "
        "TLS, first byte, transfer).\n"
        f"2. If it is watched, http_watch_report name={url} window=24h: since when it is broken, how "
        "often it flapped, the incidents and their causes (http_watch action=list shows the watches).\n"
        f"3. http_check_each_ip url={url}: whether only some backends (addresses) fail.\n"
        f"4. http_redirects url={url} when the final URL or a redirect looks wrong; tcp_check on the "
        "host and port when nothing answers at all.\n"
        f"5. http_timing url={url} when it is slow rather than down: which phase is slow and how much "
        "it varies.\n"
        "Then state the cause in one sentence, the evidence (finding codes, timings, statuses), and what "
        f"to do. Offer http_watch action=add url={url} if it is not watched yet, so the next outage is "
        "caught and timed."
    )
