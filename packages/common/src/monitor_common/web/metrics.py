"""`/metrics`: the watches in the Prometheus text exposition format (version 0.0.4).

blackbox_exporter's names where the meaning is the same, each labelled by `watch`, `kind` and
`target` (a URL's password hidden), from the newest result of each watch:

    probe_success                      1 when the last check passed (ok or warning), else 0
    probe_duration_seconds             how long the last check took
    probe_http_status_code             the last HTTP status (http watches)
    probe_ssl_earliest_cert_expiry     when the first certificate of the chain expires, Unix time
                                       (http watches of https URLs, cert watches; from the days left)
    probe_dns_lookup_time_seconds      the time the lookup took (dns watches; http watches whose
                                       check timed the DNS phase)

A last run that could not look at the target (rate limited, the monitor without network) says
nothing about it, so a watch whose last run was such has no `probe_*` series rather than a
`probe_success` of 0 that would blame the target. Our own, for every watch:

    monitor_watch_state{state="up|down|degraded|unknown|paused"}   1 for the state it is in
    monitor_incidents_open                                          incidents open now
    monitor_watch_last_run_timestamp_seconds                        when it last ran, Unix time

The text is written here rather than by prometheus_client's `generate_latest`: that builds a
sample object per series and escapes every label of every sample again, 60 ms of the 100 ms a
scrape of 500 watches (5,500 series) took. Here a watch's labels are escaped once and each series
is one formatted line, the same lines prometheus_client wrote; `promtool check metrics` approves
them (tests/common/test_web_metrics).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from monitor_common._records import DAY, NOT_CHECKED_CODES
from monitor_common.web.status import STATES, StatusPage, WatchStatus

if TYPE_CHECKING:
    from monitor_common.store import ResultRecord

__all__ = ["CONTENT_TYPE", "exposition"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what Prometheus 2 and 3 both read

# Every family, in the order written, with its help text; all are gauges.
FAMILIES: dict[str, str] = {
    "probe_success": "Whether the last check passed (ok or warning)",
    "probe_duration_seconds": "How long the last check took",
    "probe_http_status_code": "HTTP status of the last check",
    "probe_ssl_earliest_cert_expiry": "Expiry of the first certificate to expire, Unix time",
    "probe_dns_lookup_time_seconds": "Time the DNS lookup took",
    "monitor_watch_state": "1 for the state the watch is shown in, 0 for the others",
    "monitor_incidents_open": "Incidents of the watch open now",
    "monitor_watch_last_run_timestamp_seconds": "When the watch last ran, Unix time",
}


def _judged(last: ResultRecord) -> bool:
    return not (last.verdict == "unknown" and last.codes and all(c in NOT_CHECKED_CODES for c in last.codes))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _escape(value: str) -> str:
    """A label value as the text format writes it: backslash, double quote and line feed escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(number: float) -> str:
    """A sample value as prometheus_client (and Go) writes it: `NaN`, `+Inf`, `-Inf`, and an
    exponent past six digits before the point (a timestamp is `1.8e+09`)."""
    if not math.isfinite(number):
        return "NaN" if math.isnan(number) else "+Inf" if number > 0 else "-Inf"
    text = repr(float(number))
    dot = text.find(".")
    if number > 0 and dot > 6:
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+0{dot - 1}"
    return text


class _Lines:
    """The sample lines of one scrape by family, filled watch by watch."""

    def __init__(self) -> None:
        self.lines: dict[str, list[str]] = {name: [] for name in FAMILIES}

    def add(self, watch: WatchStatus) -> None:
        kind = f'kind="{_escape(watch.kind)}"'
        rest = f'target="{_escape(watch.target)}",watch="{_escape(watch.name)}"}} '
        labels = f"{{{kind},{rest}"  # label names sorted, as prometheus_client writes them

        def put(name: str, value: float) -> None:
            self.lines[name].append(name + labels + _value(value))

        self.lines["monitor_watch_state"].extend(
            f'monitor_watch_state{{{kind},state="{state}",{rest}{"1.0" if state == watch.state else "0.0"}'
            for state in STATES
        )
        put("monitor_incidents_open", watch.open_incidents)
        last = watch.last
        if last is None:
            return
        put("monitor_watch_last_run_timestamp_seconds", last.checked_at)
        if not _judged(last):
            return
        put("probe_success", 0.0 if last.verdict in ("critical", "unknown") else 1.0)
        put("probe_duration_seconds", last.duration_ms / 1000)
        figures = last.figures
        status = _number(figures.get("status_code"))
        if status is not None:
            put("probe_http_status_code", status)
        days = [
            d
            for d in (_number(figures.get("days_left")), _number(figures.get("days_left_chain_min")))
            if d is not None
        ]
        if days:
            put("probe_ssl_earliest_cert_expiry", last.checked_at + min(days) * DAY)
        lookup = _number(figures.get("dns_ms"))
        if lookup is None and watch.kind == "dns" and last.latency_ms is not None:
            lookup = last.latency_ms
        if lookup is not None:
            put("probe_dns_lookup_time_seconds", lookup / 1000)

    def text(self) -> str:
        parts: list[str] = []
        for name, help_text in FAMILIES.items():
            parts.append(f"# HELP {name} {help_text}\n# TYPE {name} gauge\n")
            if lines := self.lines[name]:
                parts.append("\n".join(lines))
                parts.append("\n")
        return "".join(parts)


def exposition(watches: Sequence[WatchStatus] | StatusPage) -> bytes:
    """The text exposition of `watches` (served with `CONTENT_TYPE`)."""
    lines = _Lines()
    for watch in watches.watches if isinstance(watches, StatusPage) else watches:
        lines.add(watch)
    return lines.text().encode()
