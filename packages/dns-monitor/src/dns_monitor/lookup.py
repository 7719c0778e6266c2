"""`dns_lookup`: one name, one or more record types, one server, with every detail of the answers.

Findings: `nxdomain`, `nodata`, `servfail`, `refused`, `rcode_error`, `timeout`,
`server_unreachable`, `bad_response`, `rate_limited` (unknown: the query was not sent, held back
by the per-host rate limit), `monitor_network_unavailable` (unknown: the operator's resolver could
not be reached, or timed out and then did not answer a question about the root either, or this
machine has no route to the server), `answer_unexpected`,
`truncated_retried_tcp` (ok), `cname_loop` (critical: the CNAME chain from the name comes back to
a name already on it; said instead of `nodata` or `servfail`, with the chain), `cname_at_apex` /
`cname_and_other_data` (critical: a name answered with a CNAME and other records too).
"""

from __future__ import annotations

import functools
import ipaddress
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio
from monitor_common.errors import InputError, LimitError
from monitor_common.findings import MONITOR_NETWORK_UNAVAILABLE, RATE_LIMITED, TIMEOUT
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_hostname

from dns_monitor.models import DnsLookupResult, DnsRecord, TypeLookup
from dns_monitor.query import (
    Exchange,
    ServerSpec,
    Transport,
    exchange,
    extended_errors,
    flags_of,
    make_query,
    parse_server,
    records_of,
    system_server,
)

if TYPE_CHECKING:
    import dns.rrset
    from monitor_common.context import CheckContext

__all__ = ["dns_lookup", "lookup_one", "matches_expected", "parse_record_types"]

MAX_TYPES = 16


def parse_record_types(record_types: Sequence[str]) -> list[str]:
    """Normalized type names (A, MX, ...); InputError for an unknown one."""
    return list(_parse_record_types(tuple(record_types)))


@functools.lru_cache(maxsize=256)
def _parse_record_types(record_types: tuple[str, ...]) -> tuple[str, ...]:
    import dns.rdatatype

    if not record_types:
        raise InputError("record_types is empty: name at least one, e.g. record_types=['A']")
    if len(record_types) > MAX_TYPES:
        raise LimitError(f"at most {MAX_TYPES} record types per lookup, got {len(record_types)}")
    names: list[str] = []
    for text in record_types:
        try:
            rdtype = dns.rdatatype.from_text(text.strip().upper())
        except dns.rdatatype.UnknownRdatatype:
            raise InputError(
                f"record type {text!r} is not a DNS record type: use e.g. A, AAAA, MX, TXT"
            ) from None
        if dns.rdatatype.is_metatype(rdtype) and rdtype != dns.rdatatype.ANY:
            raise InputError(f"record type {text!r} cannot be asked for with dns_lookup")
        names.append(dns.rdatatype.to_text(rdtype))
    return tuple(dict.fromkeys(names))


def _norm(value: str) -> str:
    return value.strip().lower().rstrip(".")


def matches_expected(values: Sequence[str], expected: Sequence[str]) -> tuple[list[str], list[str]]:
    """(unexpected values, expected values missing). An expected CIDR covers addresses inside
    it and need not be matched itself; other expected values must each be present."""
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    literal: set[str] = set()
    for item in expected:
        if "/" in item:
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
                continue
            except ValueError:
                pass
        literal.add(_norm(item))
    unexpected: list[str] = []
    for value in values:
        if _norm(value) in literal:
            continue
        try:
            address = ipaddress.ip_address(value.strip())
        except ValueError:
            unexpected.append(value)
            continue
        if not any(address in net for net in networks) and address.compressed not in literal:
            unexpected.append(value)
    seen = {_norm(v) for v in values}
    missing = sorted(v for v in literal if v not in seen)
    return unexpected, missing


_UNANSWERED_HINT = "the server is down, overloaded, or a firewall drops DNS; check the address and port"
MAX_CHAIN = 16  # CNAME hops followed to find a loop (resolvers give up after 8 to 16)


def cname_chain(qname: str, targets: dict[str, str]) -> tuple[list[str], bool]:
    """The CNAME chain from `qname` through `targets` (owner -> target, lower-case, absolute)
    and whether it loops back to a name already on it."""
    chain = [qname.lower()]
    while chain[-1] in targets and len(chain) <= MAX_CHAIN:
        following = targets[chain[-1]]
        chain.append(following)
        if following in chain[:-1]:
            return chain, True
    return chain, False


def _cname_targets(rrsets: Sequence[dns.rrset.RRset]) -> dict[str, str]:
    import dns.rdatatype

    return {
        rrset.name.to_text().lower(): str(rrset[0].target).lower()  # pyright: ignore[reportAttributeAccessIssue,reportUnknownArgumentType,reportUnknownMemberType]
        for rrset in rrsets
        if rrset.rdtype == dns.rdatatype.CNAME and len(rrset)
    }


def _loop_finding(chain: list[str], record_type: str, server: str) -> Finding:
    return Finding(
        severity=Verdict.CRITICAL,
        code="cname_loop",
        message=f"CNAME loop: {' -> '.join(chain)} (asking {server} for {record_type})",
        hint=f"break the loop: point one of the CNAMEs at a name with records ({chain[-1]} is already on the chain); "
        "no record can be added beside a CNAME",
    )


def lookup_one(
    record_type: str,
    done: Exchange,
    *,
    resolver: bool = False,
    loop: list[str] | None = None,
    resolver_silent: bool = False,
) -> tuple[TypeLookup, list[Finding]]:
    """The per-type result and findings of one exchange. `resolver`: the server asked is the
    operator's resolver, whose being unreachable is the monitor's outage, not the name's;
    `resolver_silent`: that resolver did not answer a question about the root either, so its
    silence on this name is the monitor's outage too, not the name's timeout.
    `loop`: a CNAME loop from the name found by asking further (a resolver's SERVFAIL shows no
    chain); a loop in the answer itself is found here."""
    import dns.rcode
    import dns.rdatatype

    server = done.server.shown
    findings: list[Finding] = []
    if done.truncated_retried:
        findings.append(
            Finding(
                severity=Verdict.OK,
                code="truncated_retried_tcp",
                message=f"the UDP answer for {record_type} was truncated; asked again over TCP",
            )
        )
    response = done.response
    if response is None:
        message = f"{server}: {done.detail} ({record_type})"
        if done.error == "rate_limited":
            findings.append(
                RATE_LIMITED.finding(
                    message,
                    hint="space the calls to this server out, or pass a longer timeout to wait for a slot",
                )
            )
        elif done.error == "unreachable" and (done.monitor_side or resolver):
            findings.append(
                MONITOR_NETWORK_UNAVAILABLE.finding(
                    f"the monitor's resolver {message}" if resolver else message
                )
            )
        elif done.error == "timeout" and resolver and resolver_silent:
            findings.append(
                MONITOR_NETWORK_UNAVAILABLE.finding(
                    f"the monitor's resolver {message}, and it did not answer a question about the "
                    "root zone either: the resolver is down or cut off, which says nothing about the name",
                    hint="check the resolver this monitor uses (MCP_MONITOR_RESOLVER, or the system's), "
                    "or pass server=IP to ask another",
                )
            )
        elif done.error == "timeout":
            findings.append(TIMEOUT.finding(message, hint=_UNANSWERED_HINT))
        else:
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code="server_unreachable" if done.error == "unreachable" else "bad_response",
                    message=message,
                    hint=_UNANSWERED_HINT,
                )
            )
        return TypeLookup(record_type=record_type, transport=done.transport, error=done.detail), findings

    rcode = response.rcode()
    answers = records_of(response.answer)
    wanted = [a for a in answers if a.type == record_type or record_type == "ANY"]
    soa: DnsRecord | None = None
    if not wanted:
        soas = records_of([s for s in response.authority if s.rdtype == dns.rdatatype.SOA])
        soa = soas[0] if soas else None
    problem = rcode != dns.rcode.NOERROR or not wanted
    name = response.question[0].name.to_text() if problem and response.question else ""
    if problem and loop is None and name and record_type not in ("CNAME", "ANY"):
        chain, looped = cname_chain(name, _cname_targets(response.answer))
        loop = chain if looped else None
    if problem and loop is not None:
        findings.append(_loop_finding(loop, record_type, server))
    elif rcode == dns.rcode.NXDOMAIN:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="nxdomain",
                message=f"{name} does not exist (NXDOMAIN from {server})",
                hint="check the spelling and that the zone has this name and is delegated",
            )
        )
    elif rcode == dns.rcode.SERVFAIL:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="servfail",
                message=f"{server} answered SERVFAIL for {name} {record_type}",
                hint="the server could not resolve the name: DNSSEC failure, lame delegation or unreachable nameservers",
            )
        )
    elif rcode == dns.rcode.REFUSED:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="refused",
                message=f"{server} refused the query for {name} {record_type}",
                hint="the server does not serve this zone or does not recurse for this client",
            )
        )
    elif rcode != dns.rcode.NOERROR:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="rcode_error",
                message=f"{server} answered {dns.rcode.to_text(rcode)} for {name} {record_type}",
            )
        )
    elif not wanted:
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="nodata",
                message=f"{name} exists but has no {record_type} record",
                hint=f"publish a {record_type} record if one is expected",
            )
        )
    lookup = TypeLookup.model_construct(  # typed data from `query`, see the note there
        record_type=record_type,
        rcode=dns.rcode.to_text(rcode),
        flags=flags_of(response),
        answers=answers,
        soa=soa,
        extended_errors=extended_errors(response),
        transport=done.transport,
        latency_ms=done.latency_ms,
    )
    return lookup, findings


async def dns_lookup(
    name: str,
    ctx: CheckContext,
    *,
    record_types: Sequence[str] = ("A",),
    server: str | None = None,
    transport: Transport = "auto",
    dnssec: bool = False,
    recursion: bool = True,
    expect: Sequence[str] | None = None,
    timeout_s: float = 5.0,
    verify: ssl.SSLContext | bool = True,
) -> DnsLookupResult:
    """Ask `server` for each of `record_types` of `name`, concurrently, within `timeout_s`.

    Args:
        name: the domain name (IDNA allowed); an IP address is looked up as is (use reverse_dns
            for PTR).
        ctx: the check context: its policy says which addresses may be asked (not applied to
            the system resolver), its rate limiter paces the queries, its resolver looks up the
            name of a DoH server (None: the system's) and `resolver_address` is the operator's
            resolver, asked when `server` is None.
        record_types: A, AAAA, MX, TXT, NS, CNAME, SOA, CAA, ... (default A).
        server: None for the operator's resolver (`ctx.resolver_address`) or else the system's,
            "IP", "IP:port", "tls://IP[:port]" or "https://host/dns-query".
        transport: auto (UDP, TCP on truncation), udp or tcp; DoT and DoH use their own.
        dnssec: set the DO bit (RRSIGs come back, and a validating resolver sets AD).
        recursion: set the RD bit (False to ask an authoritative server what it holds itself).
        expect: values (or CIDRs for addresses) the answer set must match exactly.
        timeout_s: limit for the whole lookup.
        verify: how DoT/DoH certificates are checked (see `query.exchange`).
    """
    started = Stopwatch()
    qname = parse_hostname(name) + "."
    types = parse_record_types(record_types)
    spec: ServerSpec = system_server(ctx.resolver_address) if server is None else parse_server(server, ctx)
    outcomes: dict[str, Exchange] = {}

    async def ask(record_type: str) -> None:
        query = make_query(qname, record_type, dnssec=dnssec, recursion=recursion)
        outcomes[record_type] = await exchange(
            query, spec, ctx, transport=transport, timeout=timeout_s, verify=verify
        )

    silent: list[bool] = []  # [True] once the monitor's resolver has failed the liveness probe

    async def probe_resolver() -> None:
        # Half way through the limit with no answer yet: whether the resolver answers at all (its
        # root NS set is primed at start and always cached). Only a silent resolver turns a
        # timeout into the monitor's outage; a live one that is slow on this name is the name's.
        await anyio.sleep(timeout_s / 2)
        query = make_query(".", "NS", recursion=True)
        live = await exchange(query, spec, ctx, transport="udp", timeout=timeout_s / 2)
        silent.append(live.response is None and live.error in ("timeout", "unreachable"))

    async with anyio.create_task_group() as outer:
        if server is None:
            outer.start_soon(probe_resolver)
        async with anyio.create_task_group() as group:
            for record_type in types:
                group.start_soon(ask, record_type)
        if not any(o.error == "timeout" for o in outcomes.values()):
            outer.cancel_scope.cancel()  # answered (or failed otherwise): the probe says nothing

    lookups: list[TypeLookup] = []
    findings: list[Finding] = []
    chased: list[str] | None = None  # one chase answers for every type that got a SERVFAIL
    for record_type in types:
        loop = chased
        if loop is None:
            # the chase has what is left of the lookup's limit, never a limit of its own
            left = timeout_s - started.elapsed_ms() / 1000
            loop = chased = await _chase_loop(
                qname, record_type, outcomes[record_type], spec, ctx, transport, recursion, left, verify
            )
        lookup, found = lookup_one(
            record_type,
            outcomes[record_type],
            resolver=server is None,
            loop=loop,
            resolver_silent=silent == [True],
        )
        lookups.append(lookup)
        findings.extend(found)
    findings.extend(_cname_beside_data(lookups))
    answers = [a for lookup in lookups for a in lookup.answers]
    wanted = [
        a
        for lookup in lookups
        for a in lookup.answers
        if a.type == lookup.record_type or lookup.record_type == "ANY"
    ]
    if expect is not None and all(lookup.rcode is not None for lookup in lookups):
        unexpected, missing = matches_expected([a.value for a in wanted], expect)
        if unexpected or missing:
            parts: list[str] = []
            if unexpected:
                parts.append(f"unexpected {', '.join(unexpected)}")
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code="answer_unexpected",
                    message=f"{qname} {'/'.join(types)} from {spec.shown}: {'; '.join(parts)}",
                    hint=f"expected {', '.join(expect) or 'no records'}; fix the zone or wait for caches to expire",
                )
            )
    verdict = Verdict.worst([f.severity for f in findings])
    if wanted:
        shown = ", ".join(f"{a.type} {a.value}" if len(types) > 1 else a.value for a in wanted[:8])
        more = f" (+{len(wanted) - 8} more)" if len(wanted) > 8 else ""
        summary = f"{verdict.value}: {qname} {'/'.join(types)} -> {shown}{more}"
    else:
        states = ", ".join(f"{lk.record_type} {lk.rcode or lk.error}" for lk in lookups)
        summary = f"{verdict.value}: {qname} from {spec.shown}: {states}, no answer"
    return DnsLookupResult.build(
        summary=summary,
        findings=findings,
        started=started,
        name=qname,
        server=spec.shown,
        lookups=lookups,
        answers=answers,
    )


async def _chase_loop(
    qname: str,
    record_type: str,
    done: Exchange,
    spec: ServerSpec,
    ctx: CheckContext,
    transport: Transport,
    recursion: bool,
    timeout_s: float,
    verify: ssl.SSLContext | bool,
) -> list[str] | None:
    """The looping CNAME chain behind a SERVFAIL, asked one CNAME at a time, else None.

    A resolver that meets a loop answers SERVFAIL with no records, so the chain is followed
    here with CNAME questions, which no server chases; at most MAX_CHAIN of them, only after a
    SERVFAIL for another type.
    """
    import dns.rcode

    response = done.response
    if response is None or response.rcode() != dns.rcode.SERVFAIL or record_type in ("CNAME", "ANY"):
        return None
    if timeout_s <= 0:
        return None
    targets: dict[str, str] = {}
    name = qname.lower()
    with anyio.move_on_after(timeout_s):
        for _ in range(MAX_CHAIN):
            query = make_query(name, "CNAME", recursion=recursion)
            step = await exchange(query, spec, ctx, transport=transport, timeout=timeout_s, verify=verify)
            if step.response is None:
                return None
            found = _cname_targets(step.response.answer)
            if name not in found:
                return None
            targets[name] = found[name]
            chain, looped = cname_chain(qname, targets)
            if looped:
                return chain
            name = found[name]
    return None


def _cname_beside_data(lookups: Sequence[TypeLookup]) -> list[Finding]:
    """One finding per name the answers show with a CNAME and other records (the types asked
    for together, e.g. SOA and CNAME at a zone's apex)."""
    types: dict[str, set[str]] = {}
    for lookup in lookups:
        for answer in lookup.answers:
            types.setdefault(answer.name.lower(), set()).add(answer.type)
    findings: list[Finding] = []
    for owner, held in sorted(types.items()):
        others = sorted(held - {"CNAME", "RRSIG", "NSEC", "NSEC3"})
        if "CNAME" not in held or not others:
            continue
        apex = bool({"SOA", "NS"} & set(others))
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="cname_at_apex" if apex else "cname_and_other_data",
                message=f"{owner} has a CNAME beside {', '.join(others)} records"
                + (" at a zone apex" if apex else "")
                + ": a name with a CNAME can hold no other record (RFC 1034 3.6.2, RFC 2181 10.1)",
                hint="remove the CNAME (at an apex publish A/AAAA, or the DNS host's ALIAS flattening)"
                if apex
                else "keep either the CNAME or the other records at this name",
            )
        )
    return findings
