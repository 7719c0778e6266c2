"""`dns_propagation`: the same question to many resolvers and to each authoritative nameserver.

Everything is asked in parallel under one deadline, so a resolver that never answers costs the
timeout once, not once per resolver. The reference answer is the expected one when the caller
gives it, else what the authoritative nameservers say, else the largest group.

Findings: `propagation_incomplete`, `resolver_disagrees`, `resolver_unreachable`,
`resolver_bad_response`, `rate_limited`, `authoritative_disagree`, `answer_unexpected`, `no_answer`, and `servfail`, `refused` or
`rcode_error` for servers whose answer says nothing about the record; `monitor_network_unavailable`
alone (unknown) when every server asked failed on this machine (no route out) and none answered:
the monitor's outage says nothing about the record or the resolvers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import anyio
from monitor_common.errors import PolicyError
from monitor_common.netpolicy import NetworkPolicy
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_hostname

from dns_monitor.lookup import matches_expected, parse_record_types
from dns_monitor.models import AnswerGroup, PropagationResult, ResolverAnswer
from dns_monitor.query import Exchange, Reach, ServerSpec, exchange, host_port, make_query, parse_server

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["PUBLIC_RESOLVERS", "dns_propagation", "find_authoritative"]

PUBLIC_RESOLVERS: tuple[str, ...] = (
    "1.1.1.1",  # Cloudflare
    "8.8.8.8",  # Google
    "9.9.9.9",  # Quad9
    "208.67.222.222",  # OpenDNS
    "94.140.14.14",  # AdGuard
    "185.228.168.9",  # CleanBrowsing
    "77.88.8.8",  # Yandex
    "64.6.64.6",  # UltraDNS
)


def _answer(
    server: str, kind: Literal["resolver", "authoritative"], record_type: str, done: Exchange
) -> ResolverAnswer:
    import dns.rcode
    import dns.rdatatype

    if done.response is None:
        return ResolverAnswer(server=server, kind=kind, error=done.detail or done.error, failure=done.error)
    rtype = dns.rdatatype.from_text(record_type)
    rrsets = [r for r in done.response.answer if r.rdtype == rtype]
    values = sorted({str(rdata).lower() for rrset in rrsets for rdata in rrset})  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
    ttl = min((r.ttl for r in rrsets), default=None)
    return ResolverAnswer(
        server=server,
        kind=kind,
        rcode=dns.rcode.to_text(done.response.rcode()),
        values=values,
        ttl=ttl,
        latency_ms=done.latency_ms,
    )


async def find_authoritative(
    name: str,
    resolver: ServerSpec,
    ctx: CheckContext,
    *,
    port: int,
    deadline: float,
    reach: Reach | None = None,
) -> tuple[list[ServerSpec], list[str]]:
    """The authoritative nameservers of the zone holding `name`, asked through `resolver`.

    Returns the servers (addresses permitted by the context's policy) and notes about those
    left out. The context's resolver looks up the host name of a DoH `resolver` (None: the
    system's resolver); `reach` counts the queries (see `query.Reach`).
    """
    import dns.name
    import dns.rdatatype

    def left() -> float:
        return max(deadline - time.monotonic(), 0.001)

    notes: list[str] = []
    zone = dns.name.from_text(name)
    ns_names: list[str] = []
    while True:
        done = await exchange(make_query(zone.to_text(), "NS"), resolver, ctx, timeout=left(), reach=reach)
        if done.response is None:
            return [], [f"could not find the nameservers of {name}: {done.detail}"]
        found = [
            str(rdata.target)  # pyright: ignore[reportUnknownMemberType,reportAttributeAccessIssue,reportUnknownArgumentType]
            for rrset in done.response.answer
            if rrset.rdtype == dns.rdatatype.NS
            for rdata in rrset  # pyright: ignore[reportUnknownVariableType]
        ]
        if found:
            ns_names = sorted(set(found))
            break
        if zone == dns.name.root:
            return [], [f"no NS records found for {name} or its parents"]
        zone = zone.parent()
    servers: list[ServerSpec] = []
    for ns in ns_names:
        for rdtype in ("A", "AAAA"):
            done = await exchange(make_query(ns, rdtype), resolver, ctx, timeout=left(), reach=reach)
            if done.response is None:
                notes.append(f"address of {ns} unknown: {done.detail}")
                continue
            for rrset in done.response.answer:
                if rrset.rdtype != dns.rdatatype.from_text(rdtype):
                    continue
                for rdata in rrset:  # pyright: ignore[reportUnknownVariableType]
                    address = str(rdata)  # pyright: ignore[reportUnknownArgumentType]
                    try:
                        servers.append(parse_server(host_port(address, port), ctx))
                    except PolicyError as exc:
                        notes.append(f"nameserver {ns} ({address}) not asked: {exc}")
    return servers, notes


async def dns_propagation(
    name: str,
    ctx: CheckContext,
    *,
    record_type: str = "A",
    resolvers: Sequence[str] | None = None,
    default_resolvers: Sequence[str] = PUBLIC_RESOLVERS,
    include_authoritative: bool = True,
    expected: Sequence[str] | None = None,
    timeout_s: float = 5.0,
    authoritative_port: int = 53,
) -> PropagationResult:
    """Ask every resolver, and the zone's authoritative nameservers, for `name`/`record_type`.

    Args:
        ctx: the check context: its policy, its rate limiter, its resolver (which looks up the
            names of DoH resolvers; None: the system's) and `max_targets`, the most resolvers
            a call may name.
        resolvers: the resolvers to compare (IP, IP:port, tls://, https://), each checked
            against the policy; None for `default_resolvers` (the operator's list, not checked).
        include_authoritative: also ask each authoritative nameserver (found through the first
            resolver; its addresses pass the policy), without recursion.
        expected: the values (or CIDRs) the answer should be; else the authoritative answer.
        timeout_s: the whole check finishes within this.
        authoritative_port: the port the nameservers are asked on (53; tests change it).
    """
    started = Stopwatch()
    deadline = time.monotonic() + timeout_s
    qname = parse_hostname(name) + "."
    (rtype,) = parse_record_types([record_type])
    if resolvers is not None:
        ctx.check_targets(
            resolvers, name="resolvers", example='["9.9.9.9", "https://dns.quad9.net/dns-query"]'
        )
        specs = [parse_server(r, ctx) for r in resolvers]
    else:
        # The operator's list is configuration, not a caller's target: its addresses are not
        # checked (a DoH server's connections still are, with `ctx` below).
        infrastructure = ctx.replace(policy=NetworkPolicy.open())
        specs = [parse_server(r, infrastructure) for r in default_resolvers]
    answers: dict[int, ResolverAnswer] = {}
    auth_answers: list[ResolverAnswer] = []
    notes: list[str] = []
    reach = Reach()

    def left() -> float:
        return max(deadline - time.monotonic(), 0.001)

    async def ask_resolver(index: int, spec: ServerSpec) -> None:
        done = await exchange(make_query(qname, rtype), spec, ctx, timeout=left(), reach=reach)
        answers[index] = _answer(spec.shown, "resolver", rtype, done)

    async def ask_authoritative() -> None:
        if not specs:
            return
        servers, found_notes = await find_authoritative(
            qname, specs[0], ctx, port=authoritative_port, deadline=deadline, reach=reach
        )
        notes.extend(found_notes)

        async def ask(spec: ServerSpec) -> None:
            done = await exchange(
                make_query(qname, rtype, recursion=False), spec, ctx, timeout=left(), reach=reach
            )
            auth_answers.append(_answer(spec.shown, "authoritative", rtype, done))

        async with anyio.create_task_group() as inner:
            for spec in dict.fromkeys(servers):
                inner.start_soon(ask, spec)

    with anyio.move_on_after(timeout_s * 1.05):
        async with anyio.create_task_group() as group:
            for index, spec in enumerate(specs):
                group.start_soon(ask_resolver, index, spec)
            if include_authoritative:
                group.start_soon(ask_authoritative)
    every = [
        answers.get(
            i, ResolverAnswer(server=s.shown, kind="resolver", error=f"no answer within {timeout_s:g} s")
        )
        for i, s in enumerate(specs)
    ] + sorted(auth_answers, key=lambda a: a.server)
    # A resolver still waiting at the deadline was not refused by this machine: only a run in
    # which every question ended, each failing here, is the monitor's outage.
    if reach.offline and len(answers) == len(specs):
        return PropagationResult.build(
            summary=f"unknown: {qname} {rtype} not checked: the monitor has no working network",
            findings=[reach.finding(f"the propagation of {qname} {rtype}")],
            started=started,
            name=qname,
            record_type=rtype,
            answers=every,
            groups=[],
            agreement_percent=0.0,
            outliers=[],
        )
    return _judge(qname, rtype, every, expected, notes, started)


_USABLE_RCODES = frozenset({"NOERROR", "NXDOMAIN"})
_RCODE_CODES = {"SERVFAIL": "servfail", "REFUSED": "refused"}


# Servers without a usable reply, by why: finding code -> (what they did, hint).
_FAILURES: dict[str, tuple[str, str]] = {
    "resolver_unreachable": (
        "did not answer",
        "a resolver that stays unreachable cannot tell whether the change has reached it",
    ),
    "resolver_bad_response": (
        "sent replies that do not answer the question (wrong message ID, another name, malformed)",
        "such a server is broken or something on the path rewrites DNS; its answers cannot be trusted",
    ),
    "rate_limited": (
        "were not asked within the deadline (the per-host rate limit)",
        "ask again later, or raise MCP_MONITOR_RATE_LIMIT_PER_HOST",
    ),
}


def _by_failure(answers: list[ResolverAnswer]) -> dict[str, list[ResolverAnswer]]:
    grouped: dict[str, list[ResolverAnswer]] = {}
    for a in answers:
        code = {"bad_response": "resolver_bad_response", "rate_limited": "rate_limited"}.get(
            a.failure or "", "resolver_unreachable"
        )
        grouped.setdefault(code, []).append(a)
    return grouped


def _judge(
    qname: str,
    rtype: str,
    every: list[ResolverAnswer],
    expected: Sequence[str] | None,
    notes: list[str],
    started: Stopwatch,
) -> PropagationResult:
    # SERVFAIL, REFUSED and the like say nothing about the record: such a server is reported, not
    # counted as agreeing or disagreeing.
    answered = [a for a in every if a.rcode in _USABLE_RCODES]
    groups_by_key: dict[tuple[str, tuple[str, ...]], list[ResolverAnswer]] = {}
    for a in answered:
        groups_by_key.setdefault((a.rcode or "", tuple(a.values)), []).append(a)
    groups = sorted(
        (
            AnswerGroup(
                values=list(values),
                rcode=rcode,
                servers=[m.server for m in members],
                share_percent=round(100 * len(members) / len(answered), 1),
                max_ttl=max((m.ttl for m in members if m.ttl is not None), default=None),
            )
            for (rcode, values), members in groups_by_key.items()
        ),
        key=lambda g: -len(g.servers),
    )
    findings: list[Finding] = []
    unreachable = [a for a in every if a.rcode is None]
    for code, members in _by_failure(unreachable).items():
        what, hint = _FAILURES[code]
        findings.append(
            Finding(
                severity=Verdict.UNKNOWN if code == "rate_limited" else Verdict.WARNING,
                code=code,
                message=f"{len(members)} of {len(every)} servers {what}: "
                + ", ".join(f"{a.server} ({a.error})" for a in members),
                hint=hint,
            )
        )
    failing: dict[str, list[ResolverAnswer]] = {}
    for a in every:
        if a.rcode is not None and a.rcode not in _USABLE_RCODES:
            failing.setdefault(a.rcode, []).append(a)
    for rcode, members in failing.items():
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code=_RCODE_CODES.get(rcode, "rcode_error"),
                message=f"{len(members)} of {len(every)} servers answered {rcode}: "
                + ", ".join(a.server for a in members),
                hint="a server that fails to answer cannot tell whether the change has reached it",
            )
        )
    if not answered:
        findings.append(
            Finding(
                severity=Verdict.UNKNOWN,
                code="no_answer",
                message=f"no server gave a usable answer for {qname} {rtype}",
            )
        )
        return PropagationResult.build(
            summary=f"unknown: no server gave a usable answer for {qname} {rtype}",
            findings=findings,
            started=started,
            name=qname,
            record_type=rtype,
            answers=every,
            groups=groups,
            agreement_percent=0.0,
            outliers=[],
        )
    authoritative = [a for a in answered if a.kind == "authoritative"]
    auth_keys = {(a.rcode, tuple(a.values)) for a in authoritative}
    if len(auth_keys) > 1:
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="authoritative_disagree",
                message=f"the authoritative nameservers give {len(auth_keys)} different answers",
                hint="a secondary has not transferred the latest zone: compare SOA serials with dns_delegation",
            )
        )

    def in_reference(a: ResolverAnswer) -> bool:
        if expected is not None:
            unexpected, missing = matches_expected(a.values, expected)
            return a.rcode == "NOERROR" and not unexpected and not missing
        return (a.rcode, tuple(a.values)) == reference_key

    if authoritative:
        counts: dict[tuple[str | None, tuple[str, ...]], int] = {}
        for a in authoritative:
            key = (a.rcode, tuple(a.values))
            counts[key] = counts.get(key, 0) + 1
        reference_key = max(counts, key=lambda k: counts[k])
    else:
        reference_key = (groups[0].rcode, tuple(groups[0].values))
    if expected is not None and authoritative and not any(in_reference(a) for a in authoritative):
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="answer_unexpected",
                message=f"the authoritative nameservers do not answer {', '.join(expected)} for {qname} {rtype}",
                hint="the zone itself does not have the expected records: fix it at the DNS provider",
            )
        )
    agreeing = [a for a in answered if in_reference(a)]
    outliers = [a for a in answered if not in_reference(a)]
    agreement = round(100 * len(agreeing) / len(answered), 1)
    stale = max((a.ttl for a in outliers if a.ttl is not None), default=None)
    resolver_outliers = [a for a in outliers if a.kind == "resolver"]
    if resolver_outliers:
        shown = "; ".join(
            f"{a.server}: {a.rcode} {', '.join(a.values) or '(empty)'}" for a in resolver_outliers
        )
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="resolver_disagrees",
                message=f"{len(resolver_outliers)} resolver(s) answer differently: {shown}",
                hint="cached answers expire after their TTL; a resolver that keeps disagreeing may be filtering",
            )
        )
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="propagation_incomplete",
                message=f"{agreement:g}% of the servers give the {'expected' if expected is not None else 'authoritative'} answer"
                + (f"; the last stale caches expire within {stale} s" if stale is not None else ""),
                hint="wait for the TTL to pass; lower the TTL before the next change",
            )
        )
    verdict = Verdict.worst([f.severity for f in findings])
    summary = (
        f"{verdict.value}: {qname} {rtype}: {agreement:g}% agree on "
        f"{', '.join(groups[0].values) if not expected else ', '.join(expected)} across {len(answered)} servers"
        + (f", {len(unreachable)} unreachable" if unreachable else "")
    )
    for note in notes:
        findings.append(Finding(severity=Verdict.OK, code="authoritative_note", message=note))
    return PropagationResult.build(
        summary=summary,
        findings=findings,
        started=started,
        name=qname,
        record_type=rtype,
        answers=every,
        groups=groups,
        agreement_percent=agreement,
        outliers=[a.server for a in outliers],
        stale_within_s=stale,
    )
