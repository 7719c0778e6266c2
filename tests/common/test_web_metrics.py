"""/metrics from watch statuses made by hand: blackbox_exporter's meaning for each kind's figures,
nothing blamed on a target its last run could not look at, and promtool's approval."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from monitor_common.results import Verdict
from monitor_common.store import ResultRecord
from monitor_common.web.metrics import exposition
from monitor_common.web.status import State, WatchStatus

AT = 1_800_000_000.0


def status(
    kind: str, name: str, state: State, last: ResultRecord | None, open_incidents: int = 0
) -> WatchStatus:
    return WatchStatus(
        kind=kind,
        name=name,
        target=last.target if last else "example.test",
        state=state,
        verdict=Verdict.OK,
        since=None,
        last_checked=None,
        summary="",
        codes=[],
        uptime={},
        days=[],
        latency=[],
        incidents=[],
        open_incidents=open_incidents,
        last=last,
    )


def record(
    kind: str, target: str, verdict: str, figures: dict[str, float], codes: tuple[str, ...] = ()
) -> ResultRecord:
    return ResultRecord(
        kind=kind,
        watch="w",
        tool="check",
        target=target,
        checked_at=AT,
        verdict=verdict,
        summary="",
        duration_ms=250.0,
        latency_ms=figures.get("latency_ms"),
        figures=figures,
        codes=codes,
    )


def samples(body: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            found[series] = float(value)
    return found


def test_each_kind_maps_its_figures_to_blackbox_names() -> None:
    watches = [
        status(
            "cert",
            "tls",
            "degraded",
            record("cert", "example.test:443", "warning", {"days_left": 10.5, "days_left_chain_min": 4.0}),
        ),
        status("dns", "zone", "up", record("dns", "example.test", "ok", {"latency_ms": 12.0, "answers": 2})),
        status(
            "http",
            "site",
            "down",
            record("http", "https://example.test/", "critical", {"status_code": 503, "dns_ms": 3.0}),
            1,
        ),
    ]
    got = samples(exposition(watches).decode())
    cert = '{kind="cert",target="example.test:443",watch="tls"}'
    dns = '{kind="dns",target="example.test",watch="zone"}'
    http = '{kind="http",target="https://example.test/",watch="site"}'
    assert got[f"probe_success{cert}"] == 1.0  # a warning still passed
    assert got[f"probe_ssl_earliest_cert_expiry{cert}"] == AT + 4.0 * 86400  # the chain's first to expire
    assert got[f"probe_dns_lookup_time_seconds{dns}"] == 0.012
    assert got[f"probe_success{http}"] == 0.0 and got[f"probe_http_status_code{http}"] == 503.0
    assert got[f"probe_dns_lookup_time_seconds{http}"] == 0.003
    assert got[f"probe_duration_seconds{http}"] == 0.25
    assert got[f"monitor_incidents_open{http}"] == 1.0
    assert got[f"monitor_watch_last_run_timestamp_seconds{dns}"] == AT
    states = {k: v for k, v in got.items() if k.startswith("monitor_watch_state") and 'watch="tls"' in k}
    assert sorted(states.values()) == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert (
        states['monitor_watch_state{kind="cert",state="degraded",target="example.test:443",watch="tls"}']
        == 1.0
    )
    assert not any(k.startswith("probe_http_status_code") and "cert" in k for k in got)


def test_a_run_that_could_not_look_at_the_target_blames_nothing() -> None:
    held = record("http", "https://example.test/", "unknown", {}, codes=("rate_limited",))
    got = samples(
        exposition([status("http", "site", "unknown", held), status("http", "new", "unknown", None)]).decode()
    )
    assert not any(k.startswith("probe_") for k in got)
    assert (
        got['monitor_watch_state{kind="http",state="unknown",target="https://example.test/",watch="site"}']
        == 1.0
    )
    assert (
        got[
            'monitor_watch_last_run_timestamp_seconds{kind="http",target="https://example.test/",watch="site"}'
        ]
        == AT
    )
    # A watch never run yet has its state and incidents, no last run.
    assert not any("last_run" in k and 'watch="new"' in k for k in got)


def test_label_values_and_odd_figures_are_written_as_prometheus_reads_them() -> None:
    odd = record(
        "http",
        'https://example.test/"q"\\',
        "ok",
        {"status_code": float("nan"), "days_left": float("inf"), "dns_ms": 2.5},
    )
    body = exposition([status("http", 'two\nlines "quoted"', "up", odd)]).decode()
    labels = '{kind="http",target="https://example.test/\\"q\\"\\\\",watch="two\\nlines \\"quoted\\""}'
    got = samples(body)
    assert got[f"probe_ssl_earliest_cert_expiry{labels}"] == float("inf")
    assert got[f"probe_http_status_code{labels}"] != got[f"probe_http_status_code{labels}"]  # NaN
    assert got[f"probe_dns_lookup_time_seconds{labels}"] == 0.0025
    assert f"probe_ssl_earliest_cert_expiry{labels} +Inf\n" in body
    assert f"probe_http_status_code{labels} NaN\n" in body
    # Every family is declared once, before its samples, also when it has none.
    assert body.count("# TYPE ") == 8 and "# TYPE probe_success gauge\n" in body


def test_promtool_checks_the_exposition() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: prometheus)")
    odd = record("http", 'https://example.test/"q"\\', "ok", {"status_code": 200, "days_left": float("inf")})
    body = exposition(
        [
            status("http", "site", "up", odd),
            status("http", 'two\nlines "quoted"', "down", odd, 2),
            status("dns", "zone", "up", record("dns", "example.test", "ok", {"latency_ms": 12.0})),
            status("cert", "new", "unknown", None),
        ]
    )
    done = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
