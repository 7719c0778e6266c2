"""`reverse_dns`: the PTR names of an address (or of every address of a host name) and whether
each name resolves forward to the same address (forward-confirmed reverse DNS, FCrDNS).

Findings: `ptr_missing`, `fcrdns_mismatch`, `nxdomain`, `no_addresses`, `timeout`,
`server_unreachable`, `monitor_network_unavailable` (the operator's resolver unreachable),
`rate_limited`, `bad_response`, `servfail`, `refused`, `rcode_error`.
"""

from __future__ import annotations

import ipaddress
import time
from typing import TYPE_CHECKING

import anyio
from monitor_common.findings import MONITOR_NETWORK_UNAVAILABLE
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_hostname, parse_ip

from dns_monitor.models import ReverseDnsResult, ReverseEntry
from dns_monitor.query import Exchange, ServerSpec, exchange, make_query, parse_server, system_server

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["reverse_dns"]

MAX_ADDRESSES = 32


def _values(done: Exchange, rdtype: str) -> list[str]:
    import dns.rdatatype

    if done.response is None:
        return []
    wanted = dns.rdatatype.from_text(rdtype)
    return [
        str(rdata)  # pyright: ignore[reportUnknownArgumentType]
        for rrset in done.response.answer
        if rrset.rdtype == wanted
        for rdata in rrset  # pyright: ignore[reportUnknownVariableType]
    ]


def _rcode(done: Exchange) -> str | None:
    import dns.rcode

    return None if done.response is None else dns.rcode.to_text(done.response.rcode())


def _failure_code(done: Exchange, *, resolver: bool) -> str:
    """The finding code of an exchange without a response; `resolver`: the operator's was asked,
    and its being unreachable is the monitor's outage."""
    if done.error in ("timeout", "rate_limited", "bad_response"):
        return done.error
    if done.monitor_side or resolver:
        return MONITOR_NETWORK_UNAVAILABLE.code
    return "server_unreachable"


async def _forward(
    name: str,
    spec: ServerSpec,
    timeout: float,  # noqa: ASYNC109
    ctx: CheckContext,
) -> tuple[set[str], list[Exchange]]:
    found: set[str] = set()
    outcomes: list[Exchange] = []

    async def ask(rdtype: str) -> None:
        done = await exchange(make_query(name, rdtype), spec, ctx, timeout=timeout)
        outcomes.append(done)
        found.update(ipaddress.ip_address(v).compressed for v in _values(done, rdtype))

    async with anyio.create_task_group() as group:
        group.start_soon(ask, "A")
        group.start_soon(ask, "AAAA")
    return found, outcomes


_RCODE_CODES = {"SERVFAIL": "servfail", "REFUSED": "refused"}


async def reverse_dns(
    target: str,
    ctx: CheckContext,
    *,
    server: str | None = None,
    timeout_s: float = 5.0,
) -> ReverseDnsResult:
    """PTR names of `target` (an IP address, or every address of a host name) and FCrDNS.

    `server` is the resolver to ask (IP[:port], tls://, https://; checked against the context's
    policy), None for the operator's (`ctx.resolver_address`) or else the system's. The target's
    addresses are only looked up, never dialled. The context's resolver looks up the name of a
    DoH server (None: the system's resolver), and its rate limiter paces the queries.
    """
    import dns.reversename

    started = Stopwatch()
    spec = system_server(ctx.resolver_address) if server is None else parse_server(server, ctx)
    findings: list[Finding] = []
    deadline = time.monotonic() + timeout_s

    def left() -> float:
        # One deadline for every lookup, so that each ends (as a finding) by the check's timeout.
        return max(deadline - time.monotonic(), 0.001)

    literal = parse_ip(target)
    if literal is not None:
        addresses = [literal.compressed]
        shown_target = literal.compressed
    else:
        shown_target = parse_hostname(target)
        found, outcomes = await _forward(shown_target + ".", spec, left(), ctx)
        addresses = sorted(found, key=lambda a: (ipaddress.ip_address(a).version, ipaddress.ip_address(a)))
        if not addresses:
            failed = [o for o in outcomes if o.response is None]
            refusing = [o for o in outcomes if _rcode(o) not in (None, "NOERROR", "NXDOMAIN")]
            if failed:
                code = _failure_code(failed[0], resolver=server is None)
                findings.append(
                    Finding(severity=Verdict.UNKNOWN, code=code, message=f"{spec.shown}: {failed[0].detail}")
                )
            elif refusing:
                rcode = _rcode(refusing[0]) or ""
                findings.append(
                    Finding(
                        severity=Verdict.UNKNOWN,
                        code=_RCODE_CODES.get(rcode, "rcode_error"),
                        message=f"{spec.shown} answered {rcode} for {shown_target}",
                    )
                )
            elif any(_rcode(o) == "NXDOMAIN" for o in outcomes):
                findings.append(
                    Finding(
                        severity=Verdict.CRITICAL, code="nxdomain", message=f"{shown_target} does not exist"
                    )
                )
            else:
                findings.append(
                    Finding(
                        severity=Verdict.CRITICAL,
                        code="no_addresses",
                        message=f"{shown_target} has no A or AAAA record",
                    )
                )
            return ReverseDnsResult.build(
                summary=f"{Verdict.worst([f.severity for f in findings]).value}: {shown_target} has no address to look up",
                findings=findings,
                started=started,
                target=shown_target,
                entries=[],
            )
        addresses = addresses[:MAX_ADDRESSES]

    entries: dict[str, ReverseEntry] = {}
    error_kinds: dict[str, str] = {}

    async def check(address: str) -> None:
        ptr_name = dns.reversename.from_address(address).to_text()
        done = await exchange(make_query(ptr_name, "PTR"), spec, ctx, timeout=left())
        names = sorted({v.lower() for v in _values(done, "PTR")})
        confirmed: list[str] = []
        for name in names:
            forward, _ = await _forward(name, spec, left(), ctx)
            if address in forward:
                confirmed.append(name)
        if done.error is not None:
            error_kinds[address] = _failure_code(done, resolver=server is None)
        entries[address] = ReverseEntry(
            address=address,
            ptr_name=ptr_name,
            names=names,
            confirmed=confirmed,
            rcode=_rcode(done),
            error=done.detail if done.response is None else None,
        )

    with anyio.move_on_after(left() + timeout_s * 0.05):
        async with anyio.create_task_group() as group:
            for address in addresses:
                group.start_soon(check, address)
    ordered = [
        entries.get(
            a, ReverseEntry(address=a, ptr_name="", names=[], confirmed=[], error="no answer in time")
        )
        for a in addresses
    ]
    for entry in ordered:
        if entry.error is not None:
            findings.append(
                Finding(
                    severity=Verdict.UNKNOWN,
                    code=error_kinds.get(entry.address, "timeout"),
                    message=f"PTR of {entry.address}: {entry.error}",
                )
            )
        elif entry.rcode not in ("NOERROR", "NXDOMAIN"):
            # SERVFAIL, REFUSED...: the server could not say whether there is a PTR.
            findings.append(
                Finding(
                    severity=Verdict.UNKNOWN,
                    code=_RCODE_CODES.get(entry.rcode or "", "rcode_error"),
                    message=f"PTR of {entry.address}: {spec.shown} answered {entry.rcode}",
                    hint="ask another resolver (server=...), or check the one that failed",
                )
            )
        elif not entry.names:
            findings.append(
                Finding(
                    severity=Verdict.WARNING,
                    code="ptr_missing",
                    message=f"{entry.address} has no PTR record ({entry.rcode})",
                    hint=f"ask the owner of the address block to publish a PTR for {entry.ptr_name}",
                )
            )
        elif not entry.confirmed:
            findings.append(
                Finding(
                    severity=Verdict.WARNING,
                    code="fcrdns_mismatch",
                    message=f"{entry.address} -> {', '.join(entry.names)}, but no name resolves back to {entry.address}",
                    hint="add an A/AAAA record for the PTR name pointing at this address (mail servers check this)",
                )
            )
    verdict = Verdict.worst([f.severity for f in findings])
    parts = [
        f"{e.address} -> {', '.join(e.names) or '(none)'}{' (confirmed)' if e.confirmed else ''}"
        for e in ordered
    ]
    return ReverseDnsResult.build(
        summary=f"{verdict.value}: " + "; ".join(parts),
        findings=findings,
        started=started,
        target=shown_target,
        entries=ordered,
    )
