"""Many URLs at once: `fanout` over the HTTP check on the shared connection pool, compact rows.

Rows come back worst first (unknown, critical, warning, ok; slower first within a verdict), with
counts per verdict. The list follows the bulk rules of `monitor_common.bulk`: a URL that does not
parse or that the network policy refuses is a row of its own (verdict unknown, "not checked: ..."),
as is one that ran out of time ("no result: ..."); the number of URLs is capped.

Each URL gets the same walk and the same judgement as `http_check` (`probe.walk_url` and
`probe.judge`: redirects, the policy on every address dialled, timeouts naming their phase,
certificate findings), but the per-URL work only the full result needs is skipped: each URL is
parsed once (by its check; the hosts for the per-host limit once per site), the expectations
once per call, and no `HttpCheckResult` is built. Progress is reported for about every
hundredth URL (and every URL of a short list), not for each one.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from monitor_common.bulk import Unchecked, held_back_note
from monitor_common.errors import PolicyError, TargetError
from monitor_common.fanout import HeldBack, ProgressCallback, TimeoutReason, fanout
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_url, redact_url

from http_monitor.assertions import Expectations
from http_monitor.models import HttpCheckManyResult, ManyRow
from http_monitor.probe import judge, walk_url
from http_monitor.session import Session

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["http_check_many"]

# Slack the fan-out gives a check beyond its own deadline before cutting it off: the check
# reports its own timeout (with the phase) and only a check stuck past that is cut.
_GRACE_S = 2.0


# Progress goes out for every hundredth URL or so: a notification per URL of a long list costs
# the server more than the check of a fast URL, and tells the caller nothing more.
_PROGRESS_STEPS = 100
_PATH_START = re.compile(r"[/?#]")


def _host_keys() -> Callable[[str], str]:
    """The fan-out key of a URL: its host as `parse_url` normalizes it ("" when it does not parse).

    The host depends only on the scheme and authority, so each distinct one is parsed once: the
    keys are computed for every URL before the first request goes out, and a list of pages of a
    few sites should not wait for a thousand full parses. Each URL is parsed in full by its check.
    """
    hosts: dict[str, str] = {}

    def key(url: str) -> str:
        text = url.strip()
        start = text.find("//")
        end = _PATH_START.search(text, start + 2) if start >= 0 else None
        origin = text[: end.start()] if end is not None else text
        host = hosts.get(origin)
        if host is None:
            try:
                host = parse_url(origin).host
            except TargetError:
                host = ""
            hosts[origin] = host
        return host

    return key


def _thinned(progress: ProgressCallback | None, total: int) -> ProgressCallback | None:
    """`progress`, called only when `done` reaches a new step of `total / _PROGRESS_STEPS` or `total`."""
    if progress is None:
        return None
    step = max(total // _PROGRESS_STEPS, 1)

    async def report(done: int, total: int, message: str | None) -> None:
        if done % step == 0 or done >= total:
            await progress(done, total, message)

    return report


async def http_check_many(
    urls: Sequence[str],
    ctx: CheckContext,
    *,
    expect_status: str = "200-399",
    max_response_ms: float | None = None,
    timeout_s: float = 10.0,
    concurrency: int | None = None,
    deadline_s: float | None = None,
    progress: ProgressCallback | None = None,
) -> HttpCheckManyResult:
    """Check every URL (at most `ctx.max_targets`), `concurrency` at once (default and maximum:
    `ctx.concurrency`) and `ctx.per_host_concurrency` per host.

    `deadline_s` bounds the whole call (default: enough for every URL to time out once at the
    given concurrency, plus one timeout); URLs not checked by then are rows with verdict unknown.
    Raises LimitError for too many URLs or a concurrency above the server's, InputError for an
    empty list or a bad expect_status.
    """
    started = Stopwatch()
    concurrency = ctx.check_concurrency(concurrency)
    ctx.check_targets(urls, name="urls", example='["https://example.com/"]')
    # Parsed once for every URL, and before any request so that a bad one fails the call first.
    expectations = Expectations.parse(expect_status=expect_status, max_response_ms=max_response_ms)
    if deadline_s is None:
        deadline_s = timeout_s * (len(urls) // max(min(concurrency, len(urls)), 1) + 2)
    session = Session.shared(ctx)
    per_host, rate_limit = HeldBack(), HeldBack()

    async def check(url: str) -> ManyRow:
        begun = time.perf_counter()
        try:
            target = parse_url(url)
            walk = await walk_url(target, session, timeout_s=timeout_s, details=False)
        except (TargetError, PolicyError) as exc:
            unchecked = Unchecked.refused(exc)
            return ManyRow(url=redact_url(url), verdict=unchecked.verdict, summary=unchecked.summary)
        rate_limit.add(walk.waited_s)
        outcome = await judge(target, walk, expectations, (time.perf_counter() - begun) * 1000)
        return ManyRow(
            url=target.redacted,
            verdict=outcome.verdict,
            status_code=walk.hops[-1].status_code if walk.hops else None,
            total_ms=outcome.total_ms,
            summary=outcome.summary,
        )

    def timed_out(url: str, why: TimeoutReason) -> ManyRow:
        unchecked = Unchecked.timed_out(why, timeout_s)
        return ManyRow(url=redact_url(url), verdict=unchecked.verdict, summary=unchecked.summary)

    rows = await fanout(
        list(urls),
        check,
        on_timeout=timed_out,
        key=_host_keys(),
        concurrency=concurrency,
        per_host=ctx.per_host_concurrency,
        item_timeout=timeout_s + _GRACE_S,
        deadline=deadline_s,
        progress=_thinned(progress, len(urls)),
        held=per_host,
    )
    rows.sort(key=lambda row: (-row.verdict.rank, -(row.total_ms or 0.0)))
    counts = Counter(row.verdict.value for row in rows)
    findings: list[Finding] = []
    bad = counts[Verdict.CRITICAL.value]
    if bad:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="http_urls_failing",
                message=f"{bad} of {len(rows)} URLs failed",
                hint="see the rows at the top; run http_check on one for the details",
            )
        )
    for verdict, code, what in (
        (Verdict.WARNING, "http_urls_warning", "have warnings"),
        (Verdict.UNKNOWN, "http_urls_unchecked", "could not be checked"),
    ):
        if counts[verdict.value]:
            findings.append(
                Finding(
                    severity=verdict, code=code, message=f"{counts[verdict.value]} of {len(rows)} URLs {what}"
                )
            )
    overall = Verdict.worst([f.severity for f in findings])
    shown = ", ".join(f"{counts[v.value]} {v.value}" for v in Verdict if counts[v.value])
    return HttpCheckManyResult.build(
        summary=f"{overall.value}: {len(rows)} URLs checked: {shown}"
        + held_back_note(ctx, per_host=per_host, rate_limit=rate_limit),
        findings=findings,
        started=started,
        counts={v.value: counts[v.value] for v in Verdict},
        rows=rows,
    )
