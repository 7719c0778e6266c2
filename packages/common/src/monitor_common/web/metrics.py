"""`/metrics`: the watches in the Prometheus text exposition format (prometheus_client's writer).

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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from monitor_common._records import DAY, NOT_CHECKED_CODES
from monitor_common.web.status import STATES, StatusPage, WatchStatus

if TYPE_CHECKING:
    from monitor_common.store import ResultRecord

__all__ = ["CONTENT_TYPE", "exposition"]

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what Prometheus 2 and 3 both read
LABELS = ["watch", "kind", "target"]


def _judged(last: ResultRecord) -> bool:
    return not (last.verdict == "unknown" and last.codes and all(c in NOT_CHECKED_CODES for c in last.codes))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class _Families:
    """The metric families of one scrape, filled watch by watch (a prometheus_client Collector)."""

    def __init__(self) -> None:
        gauge = GaugeMetricFamily
        self.success = gauge("probe_success", "Whether the last check passed (ok or warning)", labels=LABELS)
        self.duration = gauge("probe_duration_seconds", "How long the last check took", labels=LABELS)
        self.status = gauge("probe_http_status_code", "HTTP status of the last check", labels=LABELS)
        self.expiry = gauge(
            "probe_ssl_earliest_cert_expiry",
            "Expiry of the first certificate to expire, Unix time",
            labels=LABELS,
        )
        self.dns = gauge("probe_dns_lookup_time_seconds", "Time the DNS lookup took", labels=LABELS)
        self.incidents = gauge("monitor_incidents_open", "Incidents of the watch open now", labels=LABELS)
        self.last_run = gauge(
            "monitor_watch_last_run_timestamp_seconds", "When the watch last ran, Unix time", labels=LABELS
        )
        self.state = gauge(
            "monitor_watch_state",
            "1 for the state the watch is shown in, 0 for the others",
            labels=[*LABELS, "state"],
        )

    def add(self, watch: WatchStatus) -> None:
        labels = [watch.name, watch.kind, watch.target]
        for state in STATES:
            self.state.add_metric([*labels, state], float(state == watch.state))
        self.incidents.add_metric(labels, watch.open_incidents)
        last = watch.last
        if last is None:
            return
        self.last_run.add_metric(labels, last.checked_at)
        if not _judged(last):
            return
        self.success.add_metric(labels, 0.0 if last.verdict in ("critical", "unknown") else 1.0)
        self.duration.add_metric(labels, last.duration_ms / 1000)
        figures = last.figures
        status = _number(figures.get("status_code"))
        if status is not None:
            self.status.add_metric(labels, status)
        days = [
            d
            for d in (_number(figures.get("days_left")), _number(figures.get("days_left_chain_min")))
            if d is not None
        ]
        if days:
            self.expiry.add_metric(labels, last.checked_at + min(days) * DAY)
        lookup = _number(figures.get("dns_ms"))
        if lookup is None and watch.kind == "dns" and last.latency_ms is not None:
            lookup = last.latency_ms
        if lookup is not None:
            self.dns.add_metric(labels, lookup / 1000)

    def collect(self) -> Iterable[Metric]:
        yield from (self.success, self.duration, self.status, self.expiry, self.dns)
        yield from (self.state, self.incidents, self.last_run)


def exposition(watches: Sequence[WatchStatus] | StatusPage) -> bytes:
    """The text exposition of `watches` (served with `CONTENT_TYPE`)."""
    families = _Families()
    for watch in watches.watches if isinstance(watches, StatusPage) else watches:
        families.add(watch)
    return generate_latest(families)
