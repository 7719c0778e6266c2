"""Iterative resolution from the root hints, as a resolver does it, keeping every step.

`Walker.iterate(name, type)` starts at the root servers and follows referrals down to the
servers authoritative for `name`, recording for each zone on the way its NS names, the glue the
parent gave and the addresses it asked. Every nameserver address found on the way must pass the
check context's network policy before it is asked; a refused one is left out and noted. The
root hints are the operator's configuration and are not checked.

Nothing here raises for a broken tree: a zone whose servers all fail, a lame answer or a missing
address is recorded in `Iteration.problem` and `Walker.notes`, and the engines turn that into findings.
`Walker.reach` counts every query, so that an engine can tell a tree it could not reach because
this machine has no route out (`reach.offline`) from a broken one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from monitor_common.errors import PolicyError
from monitor_common.targets import parse_ip

from dns_monitor.anchors import RootHints
from dns_monitor.query import Exchange, Reach, ServerSpec, exchange, make_query

if TYPE_CHECKING:
    import dns.message
    from monitor_common.context import CheckContext

__all__ = ["Iteration", "Walker", "ZoneStep"]

MAX_STEPS = 24
MAX_DEPTH = 3  # nameserver names resolved within nameserver-name resolution


@dataclass
class ZoneStep:
    """One zone on the way down: its nameservers as the parent described them."""

    zone: str
    ns: list[str]
    glue: dict[str, list[str]]
    servers: list[str]  # addresses permitted by the policy, in the order they are tried
    parent: str | None = None
    parent_servers: list[str] = field(default_factory=lambda: list[str]())


@dataclass
class Iteration:
    """Where the walk for one name went, and the final answer if there is one."""

    steps: list[ZoneStep]
    response: dns.message.Message | None = None
    answered_by: str | None = None
    problem: str | None = None  # why the walk stopped before an authoritative answer


class Walker:
    """Iterative resolution under one deadline; `port` is 53 except in tests.

    `ctx` is the check context: its policy decides which nameserver addresses are asked, its
    rate limiter paces the queries.
    """

    def __init__(
        self,
        hints: RootHints,
        ctx: CheckContext,
        *,
        deadline: float,
        port: int = 53,
        try_timeout: float = 1.5,
    ) -> None:
        self.hints = hints
        self.ctx = ctx
        self.deadline = deadline
        self.port = port
        self.try_timeout = try_timeout
        self.notes: list[str] = []
        self.reach = Reach()
        self._addresses: dict[str, list[str]] = {}
        # Addresses that gave no answer at all in this walk: asked last by ask_first, so one
        # dead nameserver costs one timeout per check rather than one per question.
        self.silent: set[str] = set()
        # Answers received in this walk, by exact question: the chain, its ZONE_CHECKS and the
        # delegation's CHECKS ask the same servers the same apex questions (SOA, DNSKEY, NS), and
        # each repeat would take a token of the server's per-host rate limit; past its burst every
        # query waits 100 ms (dnssec_check good.test: 430 ms -> 130 ms). Failures are not kept.
        self._answers: dict[tuple[str, str, str, bool, bool], Exchange] = {}

    def left(self) -> float:
        return max(self.deadline - time.monotonic(), 0.001)

    def spec(self, address: str) -> ServerSpec:
        return ServerSpec("dns", address, self.port)

    def permitted(self, addresses: list[str], ns: str) -> list[str]:
        allowed: list[str] = []
        for address in addresses:
            ip = parse_ip(address)
            if ip is None:
                continue
            try:
                self.ctx.policy.check(ip, host=ns.rstrip("."))
            except PolicyError as exc:
                note = f"nameserver {ns} ({address}) not asked: {exc}"
                if note not in self.notes:
                    self.notes.append(note)
                continue
            allowed.append(ip.compressed)
        return allowed

    async def ask(
        self, address: str, name: str, rdtype: str, *, tcp: bool = False, rd: bool = False
    ) -> Exchange:
        key = (address, name, rdtype, tcp, rd)  # the name as given: case variants are other questions
        if key in self._answers:
            return self._answers[key]
        query = make_query(name, rdtype, recursion=rd, dnssec=True)
        done = await exchange(
            query,
            self.spec(address),
            self.ctx,
            transport="tcp" if tcp else "auto",
            timeout=min(self.try_timeout, self.left()),
            reach=self.reach,
        )
        if done.response is None and not tcp:
            self.silent.add(address)
        if done.response is not None:
            self._answers[key] = done
        return done

    async def ask_first(
        self, addresses: list[str], name: str, rdtype: str
    ) -> tuple[str | None, Exchange | None]:
        """The first usable answer (not REFUSED/SERVFAIL, not lame) among `addresses`."""
        import dns.rcode

        last: tuple[str | None, Exchange | None] = (None, None)
        for address in sorted(addresses, key=lambda a: a in self.silent):
            if time.monotonic() >= self.deadline:
                break
            done = await self.ask(address, name, rdtype)
            last = (address, done)
            if done.response is not None and done.response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                return address, done
        return last

    async def addresses_of(self, ns: str, depth: int) -> list[str]:
        """The A and AAAA addresses of a nameserver name, resolved iteratively."""
        import dns.rdatatype

        if ns in self._addresses:
            return self._addresses[ns]
        found: list[str] = []
        if depth < MAX_DEPTH:
            for rdtype in ("A", "AAAA"):
                walk = await self.iterate(ns, rdtype, depth=depth + 1)
                if walk.response is not None:
                    wanted = dns.rdatatype.from_text(rdtype)
                    found += [
                        str(rdata)  # pyright: ignore[reportUnknownArgumentType]
                        for rrset in walk.response.answer
                        if rrset.rdtype == wanted
                        for rdata in rrset  # pyright: ignore[reportUnknownVariableType]
                    ]
        self._addresses[ns] = found
        return found

    async def iterate(self, name: str, rdtype: str, *, depth: int = 0) -> Iteration:
        """Follow referrals from the root to the servers authoritative for `name`."""
        import dns.flags
        import dns.name
        import dns.rcode
        import dns.rdatatype

        qname = dns.name.from_text(name)
        root_ns = list(dict.fromkeys(n for n, _ in self.hints.servers))
        root = ZoneStep(".", root_ns, {}, [a for _, a in self.hints.servers])
        steps = [root]
        current = root
        for _ in range(MAX_STEPS):
            address, done = await self.ask_first(current.servers, name, rdtype)
            if done is None or done.response is None:
                why = done.detail if done is not None else "no server permitted to ask"
                return Iteration(steps, problem=f"no server of {current.zone} answered ({why})")
            response = done.response
            if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                return Iteration(
                    steps,
                    problem=f"the servers of {current.zone} answered {dns.rcode.to_text(response.rcode())}",
                )
            zone = dns.name.from_text(current.zone)
            referral = next(
                (
                    rrset
                    for rrset in response.authority
                    if rrset.rdtype == dns.rdatatype.NS
                    and rrset.name != zone
                    and rrset.name.is_subdomain(zone)
                    and qname.is_subdomain(rrset.name)
                ),
                None,
            )
            if response.flags & dns.flags.AA or referral is None:
                if not response.flags & dns.flags.AA:
                    return Iteration(
                        steps, response, address, problem=f"{address} gave neither an answer nor a referral"
                    )
                return Iteration(steps, response, address)
            ns = sorted({str(r.target).lower() for r in referral})  # pyright: ignore[reportUnknownMemberType,reportAttributeAccessIssue,reportUnknownArgumentType,reportUnknownVariableType]
            glue: dict[str, list[str]] = {}
            for rrset in response.additional:
                owner = rrset.name.to_text().lower()
                if owner in ns and rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    glue.setdefault(owner, []).extend(str(r) for r in rrset)  # pyright: ignore[reportUnknownArgumentType,reportUnknownVariableType]
            servers: list[str] = []
            for ns_name in ns:
                found = glue.get(ns_name)
                if not found:
                    found = await self.addresses_of(ns_name, depth)
                servers += self.permitted(found, ns_name)
            step = ZoneStep(
                referral.name.to_text().lower(),
                ns,
                glue,
                list(dict.fromkeys(servers)),
                parent=current.zone,
                parent_servers=list(current.servers),
            )
            steps.append(step)
            current = step
        return Iteration(steps, problem="too many referrals")
