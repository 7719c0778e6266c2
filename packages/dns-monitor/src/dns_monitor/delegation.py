"""`dns_delegation`: the delegation of a zone, walked from the root hints, parent against child.

The walk records the NS set and glue the parent gives; then every nameserver (named by the parent
or by the child) is asked over UDP and over TCP for the zone's SOA and NS set, without recursion.

Findings: `not_delegated`, `delegation_unreachable`, `lame_delegation`, `ns_mismatch_parent_child`,
`glue_missing`, `glue_mismatch`, `soa_serial_mismatch`, `ns_unreachable`, `ns_no_tcp`,
`ns_no_udp` (critical: TCP answers, UDP does not), `single_nameserver`, `nameservers_same_network`, `open_recursion`, `cname_at_apex` (critical: a
CNAME beside the apex's SOA and NS, or instead of them; RFC 1034 3.6.2, RFC 2181 10.1),
`nameserver_not_asked` (policy); `glue_mismatch` (warning) also when the zone answers a glued
name with a CNAME (the glue gives an address to a name the zone calls an alias); `monitor_network_unavailable` alone (unknown) when no server, the
root's included, answered and every query failed on this machine (no route out): the monitor's
outage, not the zone's.

A fault several nameservers share is one finding that lists them, not one per nameserver.

The checks of `CHECKS` then run concurrently on what the walk and the probes saw (`survey.Survey`),
each in its own module, each adding its own findings.
`referral.check` is one of them (shared addresses, referral size, NS names that are CNAMEs,
special-purpose addresses, reverse DNS, prefixes); `referral.with_www_detail` then tells a
`lame_delegation` or `ns_unreachable` finding whether www.<zone> still answers (BASIC03).
`behaviour.nameserver_behaviour` asks each answering nameserver address how it handles EDNS,
case, names outside its zones, AXFR and CHAOS questions (Zonemaster NAMESERVER02-05, 07-15).
"""

from __future__ import annotations

import ipaddress
import time
from typing import TYPE_CHECKING

import anyio
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_hostname

from dns_monitor import referral
from dns_monitor.anchors import RootHints
from dns_monitor.asn import asn_diversity
from dns_monitor.behaviour import nameserver_behaviour
from dns_monitor.models import DelegationNameserver, DelegationResult
from dns_monitor.survey import Check, Survey
from dns_monitor.walk import Iteration, Walker, ZoneStep
from dns_monitor.zone_content import zone_content

if TYPE_CHECKING:
    import dns.message
    from monitor_common.context import CheckContext

__all__ = ["CHECKS", "dns_delegation"]

# Run after the delegation itself is judged, concurrently, each on the whole survey.
CHECKS: tuple[Check, ...] = (
    referral.check,
    zone_content,  # SOA, NS sets and the names in them (zone_content.py)
    nameserver_behaviour,  # EDNS, case, referrals, AXFR, CHAOS of each nameserver (behaviour.py)
    asn_diversity,  # the origin AS of each nameserver address (asn.py)
)


def _network(address: str) -> str:
    ip = ipaddress.ip_address(address)
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _alias_of(walk: Iteration, name: str) -> str | None:
    """The target of the CNAME that owns `name` in the walk's authoritative answer, else None."""
    import dns.name
    import dns.rdatatype

    if walk.response is None:
        return None
    owner = dns.name.from_text(name)
    for rrset in walk.response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME and rrset.name == owner and len(rrset):
            return str(rrset[0].target)  # pyright: ignore[reportAttributeAccessIssue,reportUnknownArgumentType,reportUnknownMemberType]
    return None


def _apex_cname(response: dns.message.Message | None, zone: str) -> str | None:
    """The target of a CNAME owned by the apex in an authoritative answer, else None."""
    import dns.flags
    import dns.name
    import dns.rdatatype

    if response is None or not response.flags & dns.flags.AA:
        return None
    apex = dns.name.from_text(zone)
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME and rrset.name == apex and len(rrset):
            return str(rrset[0].target)  # pyright: ignore[reportAttributeAccessIssue,reportUnknownArgumentType,reportUnknownMemberType]
    return None


async def _probe(
    walker: Walker,
    ns: DelegationNameserver,
    zone: str,
    apex_cnames: dict[str, tuple[str, bool]],
    survey: Survey,
) -> list[str]:
    """Ask one nameserver's addresses for SOA (UDP, TCP), NS and CNAME at the apex; fill `ns`
    (and `apex_cnames`: name -> (CNAME target, whether SOA is served beside it), and the
    survey's authoritative SOA and NS answers); return its NS set."""
    import dns.flags
    import dns.rcode
    import dns.rdatatype

    child_ns: set[str] = set()
    udp_ok = tcp_ok = False
    authoritative = False
    for address in ns.addresses:
        udp = await walker.ask(address, zone, "SOA")
        tcp = await walker.ask(address, zone, "SOA", tcp=True)
        if udp.response is not None:
            udp_ok = True
            ns.latency_ms = udp.latency_ms if ns.latency_ms is None else ns.latency_ms
            if udp.response.rcode() == dns.rcode.NOERROR and udp.response.flags & dns.flags.AA:
                authoritative = True
                survey.soa.setdefault(ns.name, {})[address] = udp.response
                for rrset in udp.response.answer:
                    if rrset.rdtype == dns.rdatatype.SOA:
                        ns.soa_serial = int(rrset[0].serial)  # pyright: ignore[reportAttributeAccessIssue,reportUnknownArgumentType,reportUnknownMemberType]
        if tcp.response is not None:
            tcp_ok = True
        elif udp.response is None:
            continue  # nothing answers here: its CNAME and NS questions would only wait again
        # A CNAME at the apex: instead of the SOA (the SOA question is answered by the CNAME), or
        # beside it (only a question for the CNAME itself shows it).
        target = _apex_cname(udp.response, zone)
        if target is not None:
            apex_cnames[ns.name] = (target, False)
        else:
            target = _apex_cname((await walker.ask(address, zone, "CNAME")).response, zone)
            if target is not None:
                apex_cnames[ns.name] = (target, True)
        answer = await walker.ask(address, zone, "NS")
        if answer.response is not None and answer.response.flags & dns.flags.AA:
            survey.ns.setdefault(ns.name, {})[address] = answer.response
            for rrset in answer.response.answer:
                if rrset.rdtype == dns.rdatatype.NS:
                    child_ns.update(str(r.target).lower() for r in rrset)  # pyright: ignore[reportUnknownMemberType,reportAttributeAccessIssue,reportUnknownArgumentType,reportUnknownVariableType]
    if ns.addresses:
        ns.udp_ok, ns.tcp_ok, ns.authoritative = udp_ok, tcp_ok, authoritative if udp_ok else None
    ns.child_ns = sorted(child_ns)
    return ns.child_ns


async def _open_recursion(walker: Walker, address: str) -> bool:
    """Whether `address` recurses for us: asked with RD for the root's SOA it answers with RA."""
    import dns.flags
    import dns.rcode

    done = await walker.ask(address, ".", "SOA", rd=True)
    r = done.response
    return bool(r is not None and r.flags & dns.flags.RA and r.rcode() == dns.rcode.NOERROR and r.answer)


async def dns_delegation(
    domain: str,
    ctx: CheckContext,
    *,
    hints: RootHints,
    timeout_s: float = 10.0,
    port: int = 53,
) -> DelegationResult:
    """Walk from `hints` to `domain`'s delegation and check every nameserver of it.

    Every nameserver address found on the way passes the context's policy, and every query
    its rate limit. `port` is 53 except in tests.
    """
    started = Stopwatch()
    zone = parse_hostname(domain).rstrip(".") + "."
    deadline = time.monotonic() + timeout_s
    walker = Walker(hints, ctx, deadline=deadline, port=port)
    findings: list[Finding] = []

    def done(summary: str, **fields: object) -> DelegationResult:
        for note in walker.notes:
            findings.append(
                Finding(
                    severity=Verdict.WARNING,
                    code="nameserver_not_asked",
                    message=note,
                    hint="the network policy refuses this address; the operator can allow it",
                )
            )
        verdict = Verdict.worst([f.severity for f in findings])
        return DelegationResult.build(
            summary=f"{verdict.value}: {summary}", findings=findings, started=started, domain=zone, **fields
        )

    walk = await walker.iterate(zone, "NS")  # every exchange in it ends by the deadline
    if walker.reach.offline:
        findings.append(walker.reach.finding(f"the delegation of {zone}"))
        return DelegationResult.build(
            summary=f"unknown: {zone} not checked: the monitor has no working network",
            findings=findings,
            started=started,
            domain=zone,
        )
    step: ZoneStep | None = next((s for s in walk.steps if s.zone == zone), None)
    if step is None or step.parent is None:
        import dns.rcode

        if walk.response is not None and walk.response.rcode() == dns.rcode.NXDOMAIN:
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code="not_delegated",
                    message=f"{zone} does not exist: the servers of {walk.steps[-1].zone} answer NXDOMAIN",
                    hint="register the domain or fix its spelling",
                )
            )
        elif walk.response is not None:
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code="not_delegated",
                    message=f"{zone} is not a delegated zone: it is part of {walk.steps[-1].zone}",
                    hint="ask for the zone apex (e.g. example.com, not www.example.com)",
                )
            )
        else:
            findings.append(
                Finding(
                    severity=Verdict.UNKNOWN,
                    code="delegation_unreachable",
                    message=f"could not follow the delegation to {zone}: {walk.problem or 'no answer in time'}",
                    hint="a parent zone's servers do not answer: try again, or check dns_lookup on them",
                )
            )
        return done(f"{zone} delegation could not be followed", parent_zone=walk.steps[-1].zone)

    parent_ns = step.ns
    names = list(parent_ns)
    servers: dict[str, DelegationNameserver] = {}
    apex_cnames: dict[str, tuple[str, bool]] = {}
    survey = Survey(zone=zone, walker=walker, step=step, servers=servers, child_ns=[])

    async def describe(name: str) -> None:
        glue = step.glue.get(name, [])
        addresses = glue or await walker.addresses_of(name, 0)
        servers[name] = DelegationNameserver(
            name=name,
            addresses=walker.permitted(addresses, name),
            in_parent=name in parent_ns,
            in_child=False,
            glue=glue,
        )
        await _probe(walker, servers[name], zone, apex_cnames, survey)

    with anyio.move_on_after(max(deadline - time.monotonic(), 0.001) * 1.05):
        async with anyio.create_task_group() as group:
            for name in names:
                group.start_soon(describe, name)
    child_ns = sorted({n for s in servers.values() for n in s.child_ns})
    extra = [n for n in child_ns if n not in servers]
    with anyio.move_on_after(max(deadline - time.monotonic(), 0.001)):
        async with anyio.create_task_group() as group:
            for name in extra:
                group.start_soon(describe, name)
    for name, server in servers.items():
        server.in_child = name in child_ns

    survey.child_ns = child_ns
    _apex_findings(zone, apex_cnames, findings)
    checked = await _run_checks(survey, deadline)
    # Judged after the checks (behaviour tells a server EDNS breaks from a lame one), listed first.
    _judge(zone, step, servers, child_ns, findings, explained=survey.explained)
    findings.extend(checked)
    findings[:] = await referral.with_www_detail(survey, findings)  # BASIC03: only when none answered
    # In-bailiwick glue against the addresses the child publishes for the same names. A name the
    # zone answers with a CNAME has no address of its own there: the glue gives it one, the zone
    # calls it an alias (ns_is_cname says the NS record is wrong; this says the glue disagrees).
    differing: list[str] = []
    for server in sorted(servers.values(), key=lambda s: s.name):
        if server.glue and server.authoritative:
            published = await walker.addresses_of(server.name, 0)
            alias = _alias_of(await walker.iterate(server.name, "A"), server.name)
            if alias is not None:
                differing.append(
                    f"{server.name}: glue {', '.join(server.glue)}, zone: no address, a CNAME to {alias}"
                )
            elif published and set(published) != set(server.glue):
                differing.append(
                    f"{server.name}: glue {', '.join(server.glue)}, zone {', '.join(sorted(published))}"
                )
    if differing:
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="glue_mismatch",
                message=f"the glue at the parent differs from the addresses in the zone ({'; '.join(differing)})",
                hint="update the glue at the registrar to match the nameservers' addresses",
            )
        )
    recursing: list[str] = []
    for server in sorted(servers.values(), key=lambda s: s.name):
        for address in server.addresses[:1]:
            if server.authoritative and await _open_recursion(walker, address):
                recursing.append(f"{server.name} ({address})")
    if recursing:
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="open_recursion",
                message=f"authoritative nameservers that resolve names for anyone: {', '.join(recursing)}",
                hint="disable recursion on authoritative servers (recursion no / allow-recursion)",
            )
        )
    ok_servers = sum(1 for s in servers.values() if s.authoritative)
    summary = f"{zone} delegated by {step.parent} to {len(parent_ns)} nameserver(s), {ok_servers} answering authoritatively"
    return done(
        summary,
        parent_zone=step.parent,
        parent_servers=step.parent_servers,
        parent_ns=parent_ns,
        child_ns=child_ns,
        nameservers=sorted(servers.values(), key=lambda s: s.name),
    )


async def _run_checks(survey: Survey, deadline: float) -> list[Finding]:
    """The findings of every check of `CHECKS`, in the order of `CHECKS`; a check still running at
    the deadline adds nothing (its questions are cut by the walker's deadline first)."""
    results: list[list[Finding]] = [[] for _ in CHECKS]

    async def run(index: int, check: Check) -> None:
        results[index] = await check(survey)

    with anyio.move_on_after(max(deadline - time.monotonic(), 0.001) * 1.05):
        async with anyio.create_task_group() as group:
            for index, check in enumerate(CHECKS):
                group.start_soon(run, index, check)
    return [finding for found in results for finding in found]


def _judge(
    zone: str,
    step: ZoneStep,
    servers: dict[str, DelegationNameserver],
    child_ns: list[str],
    findings: list[Finding],
    *,
    explained: set[str] | None = None,
) -> None:
    """The delegation's own findings; a server in `explained` (a check found why it fails:
    `edns_unsupported`, `answer_from_other_address`) is not called lame or UDP-silent as well."""
    no_glue: list[str] = []
    no_glue_no_address: list[str] = []
    unreachable: list[str] = []
    lame: list[str] = []
    no_tcp: list[str] = []
    no_udp: list[str] = []
    for server in sorted(servers.values(), key=lambda s: s.name):
        shown = f"{server.name} ({', '.join(server.addresses)})"
        in_bailiwick = server.name == zone or server.name.endswith("." + zone)
        if in_bailiwick and not server.glue and server.in_parent:
            (no_glue if server.addresses else no_glue_no_address).append(server.name)
        if server.addresses and server.udp_ok is False and server.tcp_ok is False:
            unreachable.append(shown)
        elif not server.addresses and not (in_bailiwick and not server.glue):
            unreachable.append(f"{server.name} (no address that could be asked)")
        elif server.udp_ok and server.authoritative is False and server.name not in (explained or ()):
            lame.append(shown)
        if server.udp_ok and server.tcp_ok is False:
            no_tcp.append(server.name)
        if (
            server.addresses
            and server.udp_ok is False
            and server.tcp_ok
            and server.name not in (explained or ())
        ):
            no_udp.append(shown)
    for names, severity in ((no_glue_no_address, Verdict.CRITICAL), (no_glue, Verdict.WARNING)):
        if names:
            findings.append(
                Finding(
                    severity=severity,
                    code="glue_missing",
                    message=f"inside {zone} but without a glue address at the parent {step.parent}: {', '.join(names)}",
                    hint="add the nameservers' addresses (glue) at the registrar",
                )
            )
    if unreachable:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="ns_unreachable",
                message=f"nameservers that answer neither UDP nor TCP: {', '.join(unreachable)}",
                hint="check the servers run, that port 53 is open for UDP and TCP, and that each name has an A/AAAA record",
            )
        )
    if lame:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="lame_delegation",
                message=f"listed for {zone} but not answering authoritatively for it: {', '.join(lame)}",
                hint="configure the zone on these servers, or remove them from the NS set at the parent and in the zone",
            )
        )
    if no_udp:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="ns_no_udp",
                message=f"nameservers that answer over TCP but not over UDP: {', '.join(no_udp)}",
                hint="open UDP port 53 (and check that answers leave from the address asked): "
                "resolvers ask over UDP first and treat a server silent there as down",
            )
        )
    if no_tcp:
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="ns_no_tcp",
                message=f"nameservers that answer over UDP but not over TCP: {', '.join(no_tcp)}",
                hint="open TCP port 53: large answers (DNSSEC) and some resolvers need it (RFC 7766)",
            )
        )
    if child_ns and set(child_ns) != set(step.ns):
        only_parent = sorted(set(step.ns) - set(child_ns))
        only_child = sorted(set(child_ns) - set(step.ns))
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="ns_mismatch_parent_child",
                message=f"NS sets differ: only at the parent {only_parent or '[]'}, only in the zone {only_child or '[]'}",
                hint="make the NS records in the zone and at the registrar the same",
            )
        )
    serials = {s.soa_serial for s in servers.values() if s.soa_serial is not None}
    if len(serials) > 1:
        shown = ", ".join(f"{s.name} {s.soa_serial}" for s in servers.values() if s.soa_serial is not None)
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="soa_serial_mismatch",
                message=f"the nameservers serve different versions of {zone}: {shown}",
                hint="a secondary is not getting zone transfers: check NOTIFY/AXFR between them",
            )
        )
    names = set(step.ns) | set(child_ns)
    # Each NS set on its own: a second name only at the parent (or only in the zone) still
    # leaves resolvers that trust the other set with one server.
    single = [
        where
        for where, ns_set in (("at the parent", step.ns), ("in the zone", child_ns))
        if len(set(ns_set)) == 1
    ]
    if single:
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="single_nameserver",
                message=f"{zone} has only one nameserver"
                + ("" if len(names) == 1 else f" in its NS set {' and '.join(single)}"),
                hint="add a second nameserver on another network (RFC 2182 asks for at least two)",
            )
        )
    networks = {_network(a) for s in servers.values() for a in s.addresses}
    if len(names) > 1 and len(networks) == 1:
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="nameservers_same_network",
                message=f"every nameserver of {zone} is in {networks.pop()}",
                hint="put a nameserver on another network so one outage does not take the zone down",
            )
        )


def _apex_findings(zone: str, apex_cnames: dict[str, tuple[str, bool]], findings: list[Finding]) -> None:
    """One `cname_at_apex` finding for every nameserver that serves a CNAME at the apex."""
    if not apex_cnames:
        return
    beside = sorted(name for name, (_, with_soa) in apex_cnames.items() if with_soa)
    instead = sorted(name for name, (_, with_soa) in apex_cnames.items() if not with_soa)
    targets = sorted({target for target, _ in apex_cnames.values()})
    parts: list[str] = []
    if beside:
        parts.append(f"beside its SOA and NS at {', '.join(beside)}")
    if instead:
        parts.append(f"instead of its SOA and NS at {', '.join(instead)}")
    findings.append(
        Finding(
            severity=Verdict.CRITICAL,
            code="cname_at_apex",
            message=f"{zone} has a CNAME at its apex (to {', '.join(targets)}), {'; '.join(parts)}: "
            "a name with a CNAME can hold no other record (RFC 1034 3.6.2, RFC 2181 10.1), so "
            "resolvers may follow it for every question at the apex, NS, SOA and MX included",
            hint="remove the CNAME at the apex; publish A/AAAA records there, or your DNS host's "
            "ALIAS/ANAME flattening, instead",
        )
    )
