"""Many certificate checks at once: `host[:port]` targets through `fanout`, sorted by days left.

    cert_check_many(targets, ...)   CertCheckManyResult, one row per target, soonest expiry first

Every target is parsed before anything is dialled, so a typo in the 300th target fails the
call at once instead of after 299 checks. A target whose check fails or runs out of time is a
row with verdict critical, not an error of the call.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from monitor_common.errors import InputError, LimitError, PolicyError
from monitor_common.fanout import ProgressCallback, TimeoutReason, fanout
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import HostPort, parse_host_port

from ssl_monitor.certs import cert_check, thresholds
from ssl_monitor.models import CertCheckManyResult, CertCheckResult, CertCheckRow

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["cert_check_many"]


def _parse_targets(targets: list[str], max_targets: int) -> list[HostPort]:
    if not targets:
        raise InputError(
            "targets is empty: pass host names, e.g. targets=['example.com', 'mail.example.com:465']"
        )
    if len(targets) > max_targets:
        raise LimitError(
            f"{len(targets)} targets exceed the limit of {max_targets} per call: split the list "
            "(the operator can raise it with MCP_MONITOR_MAX_TARGETS)"
        )
    parsed: list[HostPort] = []
    for index, text in enumerate(targets, start=1):
        try:
            parsed.append(parse_host_port(text, default_port=443))
        except InputError as exc:
            raise InputError(f"target {index} ({text!r}): {exc}") from None
    return parsed


def _row(target: str, result: CertCheckResult) -> CertCheckRow:
    return CertCheckRow(
        target=target,
        verdict=result.verdict.value,
        summary=result.summary,
        days_left=result.days_left,
        not_after=result.not_after,
        days_left_chain_min=result.days_left_chain_min,
        trusted=result.trusted,
        hostname_match=result.hostname_match,
        issuer=result.issuer,
        remote_ip=result.remote_ip,
        tls_version=result.tls_version,
        findings=result.findings,
    )


def _failed_row(target: str, code: str, message: str) -> CertCheckRow:
    finding = Finding(severity=Verdict.CRITICAL, code=code, message=message)
    return CertCheckRow(
        target=target,
        verdict=Verdict.CRITICAL.value,
        summary=f"critical: {target}: {message}",
        findings=[finding],
    )


async def cert_check_many(
    targets: list[str],
    ctx: CheckContext,
    *,
    warn_days: float | None = None,
    critical_days: float | None = None,
    concurrency: int | None = None,
    timeout_s: float = 10.0,
    ca_bundle_pem: str | None = None,
    progress: ProgressCallback | None = None,
) -> CertCheckManyResult:
    """`cert_check` every target through `ctx`, `concurrency` at once.

    `concurrency` defaults to the context's and may not exceed it; the context also sets how many
    checks run against one host at once (`per_host_concurrency`), the most targets per call
    (`max_targets`) and the default `warn_days` / `critical_days`. Rows come sorted by days left
    (failed checks first, then soonest expiry); `counts` has the targets per verdict.
    `timeout_s` bounds each check.

    Raises:
        InputError: no targets, a malformed target or bad thresholds.
        LimitError: more targets than `ctx.max_targets`, or `concurrency` above `ctx.concurrency`.
        PolicyError: a target given as an IP address is refused by the policy.
    """
    from ssl_monitor.validate import TrustAnchors

    started = Stopwatch()
    warn, critical = thresholds(ctx, warn_days, critical_days)
    concurrency = ctx.check_concurrency(concurrency)
    parsed = _parse_targets(targets, ctx.max_targets)
    for hp in parsed:
        if hp.host.ip is not None:  # a refused address fails the call before anything is dialled
            ctx.policy.check(hp.host.ip, host=hp.host.name)
    # Loaded once, not once per target.
    anchors = TrustAnchors.from_pem(ca_bundle_pem) if ca_bundle_pem else TrustAnchors.system()

    async def one(index: int) -> CertCheckRow:
        hp = parsed[index]
        result = await cert_check(
            hp.host.name,
            ctx,
            port=hp.port,
            warn_days=warn,
            critical_days=critical,
            timeout_s=timeout_s,
            anchors=anchors,
        )
        return _row(targets[index], result)

    def timed_out(index: int, why: TimeoutReason) -> CertCheckRow:
        return _failed_row(targets[index], "timeout", f"no result within {timeout_s:g} s ({why})")

    def refused(index: int, exc: Exception) -> CertCheckRow:
        # A name that resolves to a refused address is found out only when dialling; the other
        # rows are worth keeping, so it becomes a row rather than the end of the call.
        if not isinstance(exc, PolicyError):
            raise exc
        finding = Finding(severity=Verdict.UNKNOWN, code="policy_refused", message=str(exc))
        return CertCheckRow(
            target=targets[index],
            verdict=Verdict.UNKNOWN.value,
            summary=f"unknown: {targets[index]}: {exc}",
            findings=[finding],
        )

    rows = await fanout(
        list(range(len(parsed))),
        one,
        on_timeout=timed_out,
        on_error=refused,
        key=lambda index: parsed[index].host.name,
        concurrency=concurrency,
        per_host=ctx.per_host_concurrency,
        # cert_check bounds itself; this is the backstop should a step ignore its own limit.
        item_timeout=timeout_s + 5,
        progress=progress,
    )
    rows.sort(key=lambda row: (row.days_left is not None, row.days_left or 0.0))
    counts = Counter(row.verdict for row in rows)
    findings: list[Finding] = []
    for verdict in (Verdict.UNKNOWN, Verdict.CRITICAL, Verdict.WARNING):
        if counts[verdict.value]:
            examples = ", ".join(row.target for row in rows if row.verdict == verdict.value)
            findings.append(
                Finding(
                    severity=verdict,
                    code=f"targets_{verdict.value}",
                    message=f"{counts[verdict.value]} of {len(rows)} targets are {verdict.value}: {examples[:300]}",
                )
            )
    soonest = next((row for row in rows if row.days_left is not None), None)
    verdict = Verdict.worst([f.severity for f in findings])
    tally = ", ".join(f"{counts[v.value]} {v.value}" for v in Verdict if counts[v.value])
    summary = f"{verdict.value}: {len(rows)} certificates checked ({tally})"
    if soonest is not None:
        summary += f"; soonest expiry {soonest.target} in {soonest.days_left:.1f} days"
    return CertCheckManyResult.build(
        summary=summary,
        findings=findings,
        started=started,
        total=len(rows),
        counts={v.value: counts[v.value] for v in Verdict},
        rows=rows,
    )
