"""Many certificate checks at once: `host[:port]` targets through `fanout`, sorted by days left.

    cert_check_many(targets, ...)   CertCheckManyResult, one row per target, soonest expiry first

A target is a `host[:port]` string or a `CertTarget` (host, port, starttls, sni, connect_ip), so a
mail inventory (MX on 25 with STARTTLS, IMAP on 143, submission on 587) is one call; an object is
validated by `certs.check_target`, the rule `cert_check` applies to its own arguments.

The list follows the bulk rules of `monitor_common.bulk`: a target that does not parse or that
the network policy refuses is a row with verdict unknown ("not checked: ..."), as is one whose
check runs out of time ("no result: ..."); a target that is down is a row with verdict critical.
None of these is an error of the call.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor_common.bulk import Unchecked, held_back_note
from monitor_common.errors import InputError, PolicyError
from monitor_common.fanout import HeldBack, ProgressCallback, TimeoutReason, fanout
from monitor_common.ratelimit import wait_meter
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import HostPort, parse_host_port, redact_url

from ssl_monitor.certs import cert_check, check_target, resolve_port, thresholds
from ssl_monitor.models import CertCheckManyResult, CertCheckResult, CertCheckRow, CertTarget

if TYPE_CHECKING:
    from collections.abc import Sequence

    from monitor_common.context import CheckContext

__all__ = ["cert_check_many"]


@dataclass(frozen=True)
class _Target:
    """A target ready to check: `cert_check`'s arguments."""

    hp: HostPort
    starttls: str | None = None
    sni: str | None = None
    connect_ip: str | None = None


def _parse(given: str | CertTarget, ctx: CheckContext) -> _Target | Unchecked:
    """The target, or why it is not checked: it does not parse, or it is an address the policy
    refuses (a name that resolves to one is found out when dialling, see `cert_check_many`)."""
    try:
        if isinstance(given, str):
            target = _Target(parse_host_port(given, default_port=443))
        else:
            host, port, ip = check_target(
                given.host, port=given.port, starttls=given.starttls, connect_ip=given.connect_ip
            )
            target = _Target(HostPort(host, port), given.starttls, given.sni, given.connect_ip)
            if ip is not None:
                ctx.policy.check(ip, host=host.name)
        if target.hp.host.ip is not None:
            ctx.policy.check(target.hp.host.ip, host=target.hp.host.name)
    except (InputError, PolicyError) as exc:
        return Unchecked.refused(exc)
    return target


def _label(given: str | CertTarget) -> str:
    """How a row names its target: as given, or `host:port (starttls smtp, sni x, via ip)`."""
    if isinstance(given, str):
        return redact_url(given)  # a target written as a URL may carry a password
    try:
        port = str(resolve_port(given.port, given.starttls))
    except InputError:
        port = str(given.port)  # the row says why it is not checked
    extras = [
        f"starttls {given.starttls}" if given.starttls else "",
        f"sni {given.sni}" if given.sni else "",
        f"via {given.connect_ip}" if given.connect_ip else "",
    ]
    shown = ", ".join(extra for extra in extras if extra)
    return redact_url(f"{given.host}:{port}" + (f" ({shown})" if shown else ""))


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


def _counting_unchecked(progress: ProgressCallback | None, unchecked: int) -> ProgressCallback | None:
    """`progress` counting the targets that were not checked as done from the start."""
    if progress is None or unchecked == 0:
        return progress

    async def report(done: int, total: int, message: str | None) -> None:
        await progress(done + unchecked, total + unchecked, message)

    return report


def _unchecked_row(target: str, unchecked: Unchecked) -> CertCheckRow:
    return CertCheckRow(
        target=target,
        verdict=unchecked.verdict.value,
        summary=unchecked.summary,
        findings=[unchecked.finding()],
    )


async def cert_check_many(
    targets: Sequence[str | CertTarget],
    ctx: CheckContext,
    *,
    warn_days: float | None = None,
    critical_days: float | None = None,
    concurrency: int | None = None,
    timeout_s: float = 10.0,
    ca_bundle_pem: str | None = None,
    deadline_s: float | None = None,
    progress: ProgressCallback | None = None,
) -> CertCheckManyResult:
    """`cert_check` every target through `ctx`, `concurrency` at once.

    `concurrency` defaults to the context's and may not exceed it; the context also sets how many
    checks run against one host at once (`per_host_concurrency`), the most targets per call
    (`max_targets`) and the default `warn_days` / `critical_days`. Rows come sorted by days left
    (failed checks first, then soonest expiry); `counts` has the targets per verdict.
    `timeout_s` bounds each check, `deadline_s` (default: none) the whole call; a target not
    checked by then is a row with verdict unknown.

    Raises:
        InputError: no targets or bad thresholds (a malformed target is a row: `monitor_common.bulk`).
        LimitError: more targets than `ctx.max_targets`, or `concurrency` above `ctx.concurrency`.
    """
    from ssl_monitor.validate import TrustAnchors

    started = Stopwatch()
    warn, critical = thresholds(ctx, warn_days, critical_days)
    concurrency = ctx.check_concurrency(concurrency)
    ctx.check_targets(targets, example="['example.com', 'mail.example.com:465']")
    parsed = [_parse(given, ctx) for given in targets]
    labels = [_label(given) for given in targets]
    checkable = [index for index, target in enumerate(parsed) if isinstance(target, _Target)]
    # Loaded once, not once per target.
    anchors = TrustAnchors.from_pem(ca_bundle_pem) if ca_bundle_pem else TrustAnchors.system()

    def target_of(index: int) -> _Target:
        target = parsed[index]
        assert isinstance(target, _Target)
        return target

    per_host, rate_limit = HeldBack(), HeldBack()  # what the limits cost (bulk rule 5)

    async def one(index: int) -> CertCheckRow:
        target = target_of(index)
        with wait_meter() as meter:
            result = await cert_check(
                target.hp.host.name,
                ctx,
                port=target.hp.port,
                sni=target.sni,
                connect_ip=target.connect_ip,
                starttls=target.starttls,
                warn_days=warn,
                critical_days=critical,
                timeout_s=timeout_s,
                anchors=anchors,
            )
        rate_limit.add(meter.waited_s)
        return _row(labels[index], result)

    def timed_out(index: int, why: TimeoutReason) -> CertCheckRow:
        return _unchecked_row(labels[index], Unchecked.timed_out(why, timeout_s))

    def refused(index: int, exc: Exception) -> CertCheckRow:
        # A name that resolves to a refused address is found out only when dialling (bulk rule 2).
        if not isinstance(exc, PolicyError):
            raise exc
        return _unchecked_row(labels[index], Unchecked.refused(exc))

    checked = await fanout(
        checkable,
        one,
        on_timeout=timed_out,
        on_error=refused,
        key=lambda index: target_of(index).hp.host.name,
        concurrency=concurrency,
        per_host=ctx.per_host_concurrency,
        # cert_check bounds itself; this is the backstop should a step ignore its own limit.
        item_timeout=timeout_s + 5,
        deadline=deadline_s,
        progress=_counting_unchecked(progress, len(targets) - len(checkable)),
        held=per_host,
    )
    rows = [
        _unchecked_row(labels[index], target)
        for index, target in enumerate(parsed)
        if isinstance(target, Unchecked)
    ]
    rows.extend(checked)
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
    summary += held_back_note(ctx, per_host=per_host, rate_limit=rate_limit)
    return CertCheckManyResult.build(
        summary=summary,
        findings=findings,
        started=started,
        total=len(rows),
        counts={v.value: counts[v.value] for v in Verdict},
        rows=rows,
    )
