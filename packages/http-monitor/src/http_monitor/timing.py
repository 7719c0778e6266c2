"""Latency profile of one URL: several requests, each on a fresh connection, per-phase statistics.

Each sample resolves the name, connects, handshakes and requests anew (a fresh `Session`), so the
figures are what a new visitor sees, not a warm keep-alive connection. Samples run one after the
other; redirects are not followed, so the phases belong to the URL given.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from typing import TYPE_CHECKING

import anyio
from monitor_common.errors import InputError
from monitor_common.findings import NOT_CHECKED_CODES
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_url

from http_monitor.exchange import Walk, timeout_finding
from http_monitor.models import HttpTimingResult, HttpTimings, PhaseStats, TimingSample
from http_monitor.session import Session
from http_monitor.tls import check_trust

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["PHASES", "http_timing", "percentile"]

PHASES = ("dns", "connect", "tls", "ttfb", "transfer", "total")
MAX_SAMPLES = 20
_MIN_SAMPLE_S = 0.05  # less time than this left: a sample could not even connect


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of `values` (non-empty), e.g. fraction=0.95 for p95."""
    ordered = sorted(values)
    rank = max(math.ceil(fraction * len(ordered)), 1)
    return ordered[rank - 1]


async def _sample(
    url: str,
    ctx: CheckContext,
    *,
    timeout_s: float,
    verify_tls: bool,
    ca_bundle_pem: str | None,
) -> tuple[TimingSample, Finding | None]:
    session = Session.fresh(ctx, verify_tls=verify_tls, ca_bundle_pem=ca_bundle_pem)
    walk = Walk(session, follow=False, body_cap=ctx.body_cap, timeout=timeout_s)
    try:
        with anyio.move_on_after(timeout_s) as deadline:
            await walk.run(url)
    finally:
        with anyio.CancelScope(shield=True):
            await session.aclose()
    # The requests' own time: neither this server's set-up nor its pacing (rate-limit waits).
    total = walk.request_ms
    failure = walk.failure
    if deadline.cancelled_caught:
        failure = timeout_finding(walk.phase, timeout_s, walk.current_url)
    if failure is not None or not walk.hops:
        code = failure.code if failure is not None else "http_protocol_error"
        return TimingSample(error=code), failure
    hop = walk.hops[0]
    timings = HttpTimings(
        dns=hop.dns_ms,
        connect=hop.connect_ms,
        tls=hop.tls_ms,
        ttfb=hop.ttfb_ms,
        transfer=hop.transfer_ms,
        total=total,
    )
    return TimingSample(status_code=hop.status_code, remote_ip=hop.remote_ip, timings_ms=timings), None


async def http_timing(
    url: str,
    ctx: CheckContext,
    *,
    samples: int = 5,
    timeout_s: float = 10.0,
    verify_tls: bool = True,
    ca_bundle_pem: str | None = None,
) -> HttpTimingResult:
    """Request `url` `samples` times on fresh connections, one after the other, within `timeout_s`.

    `timeout_s` bounds the whole profile: each sample gets what is left of it, and samples that
    no longer fit are not taken (the summary says so). PolicyError propagates (the target is
    forbidden); failed samples are findings.
    """
    started = Stopwatch()
    target = parse_url(url)
    if not 1 <= samples <= MAX_SAMPLES:
        raise InputError(f"samples must be 1 to {MAX_SAMPLES}, got {samples}")
    check_trust(verify_tls, ca_bundle_pem)
    taken: list[TimingSample] = []
    failures: list[Finding] = []
    deadline = time.monotonic() + timeout_s
    for _ in range(samples):
        left = deadline - time.monotonic()
        if left <= _MIN_SAMPLE_S and taken:
            break
        sample, failure = await _sample(
            target.geturl(),
            ctx,
            timeout_s=max(left, _MIN_SAMPLE_S),
            verify_tls=verify_tls,
            ca_bundle_pem=ca_bundle_pem,
        )
        taken.append(sample)
        if failure is not None:
            failures.append(failure)
    good = [s.timings_ms for s in taken if s.timings_ms is not None]
    phases: dict[str, PhaseStats] = {}
    for phase in PHASES:
        values = [v for t in good if (v := getattr(t, phase)) is not None]
        if values:
            phases[phase] = PhaseStats(
                min=min(values),
                median=round(statistics.median(values), 2),
                p95=percentile(values, 0.95),
                max=max(values),
            )
    slowest = max((p for p in phases if p != "total"), key=lambda p: phases[p].median, default=None)
    totals = [t.total for t in good]
    jitter = (
        round(statistics.fmean(abs(a - b) for a, b in itertools.pairwise(totals)), 2)
        if len(totals) > 1
        else None
    )
    findings: list[Finding] = []
    if failures:
        first = failures[0]
        severity = Verdict.CRITICAL if not good else Verdict.WARNING
        if all(f.code in NOT_CHECKED_CODES for f in failures):
            severity = Verdict.UNKNOWN  # not sent, or the monitor's outage: nothing was learnt
        codes = sorted({f.code for f in failures})
        findings.append(
            first.model_copy(
                update={
                    "severity": severity,
                    "message": f"{len(failures)} of {len(taken)} samples failed ({', '.join(codes)}): {first.message}",
                }
            )
        )
    if good:
        median_total = phases["total"].median
        summary = (
            f"{Verdict.worst([f.severity for f in findings]).value}: {target.redacted} median {median_total:.0f} ms "
            f"over {len(good)} fresh connections; slowest phase {slowest} ({phases[slowest].median:.0f} ms)"
            if slowest is not None
            else f"{target.redacted} median {median_total:.0f} ms"
        )
        if jitter is not None:
            summary += f", jitter {jitter:.0f} ms"
    else:
        summary = (
            f"{findings[0].severity.value}: {target.redacted}: every sample failed: {failures[0].message}"
        )
    if len(taken) < samples:
        summary += (
            f"; {samples - len(taken)} of {samples} samples not taken: the {timeout_s:g} s deadline passed"
        )
    return HttpTimingResult.build(
        summary=summary,
        findings=findings,
        started=started,
        url=target.redacted,
        samples=taken,
        phases_ms=phases,
        slowest_phase=slowest,
        jitter_ms=jitter,
    )
