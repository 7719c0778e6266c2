"""The questions `dns_monitor.behaviour` asks one nameserver address, and how each answer is read.

Each probe is an async function `probe(prober, seen)` that asks through `Prober.send` (the walker's
deadline, policy and rate limit; the exchange and whether a missing answer is the server's) and
writes what it found into `seen.faults` (finding code -> what this address did) or `seen.chaos`.
`source` alone sends its question itself: it must take an answer from any address, which
`query.exchange` (dnspython) drops, as resolvers do.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from monitor_common.ratelimit import DNS_QUERY_COST, RateLimited, acquire

from dns_monitor.query import Exchange, exchange

if TYPE_CHECKING:
    import dns.edns
    import dns.message

    from dns_monitor.survey import Survey
    from dns_monitor.walk import Walker

__all__ = [
    "Prober",
    "Seen",
    "aaaa",
    "axfr",
    "case",
    "chaos",
    "edns0",
    "edns_version",
    "lame",
    "opcode",
    "option_flags",
    "source",
    "upward",
]

UNKNOWN_OPCODE = 15  # unassigned in the IANA DNS OpCodes registry (7-15 are)
UNKNOWN_OPTION = 137  # unassigned (15-26945), the code Zonemaster sends
UNKNOWN_Z = 0x0003  # two of the EDNS header's unassigned Z bits, as Zonemaster sets them
RATE_ALLOWANCE_S = 1.0  # the longest wait for the per-host rate limit, beside the server's time


@dataclass
class Seen:
    """What one address did with the probes: fault label -> detail, and CHAOS texts."""

    faults: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    chaos: dict[str, str] = field(default_factory=lambda: dict[str, str]())


def _query(
    name: str,
    rdtype: str,
    *,
    edns: int = 0,
    payload: int = 1232,
    ednsflags: int = 0,
    option: bool = False,
    rdclass: str = "IN",
) -> dns.message.Message:
    """A non-recursive query; `edns` -1 for none, else the EDNS version to send."""
    import dns.edns
    import dns.flags
    import dns.message

    options: list[dns.edns.Option] | None = None
    if option:
        options = [dns.edns.GenericOption(dns.edns.OptionType.make(UNKNOWN_OPTION), b"")]
    query = dns.message.make_query(
        name, rdtype, rdclass, use_edns=edns, payload=payload, ednsflags=ednsflags, options=options
    )
    query.flags &= ~dns.flags.RD
    return query


class Prober:
    """The probes of one address, under the walker's deadline, policy and rate limit."""

    def __init__(self, walker: Walker, address: str, zone: str) -> None:
        self.walker = walker
        self.address = address
        self.zone = zone
        self.timed_out = False  # one UDP question went unanswered: the rest are not asked

    async def send(self, query: dns.message.Message, *, tcp: bool = False) -> tuple[Exchange, bool]:
        """The exchange, and whether a missing answer is the server's (it had its whole time)."""
        budget = self.walker.try_timeout + RATE_ALLOWANCE_S
        full = self.walker.deadline - time.monotonic() >= budget
        done = await exchange(
            query,
            self.walker.spec(self.address),
            self.walker.ctx,
            transport="tcp" if tcp else "udp",
            timeout=min(budget, self.walker.left()),
            reach=self.walker.reach,
        )
        self.timed_out = self.timed_out or (done.error == "timeout" and not tcp)
        return done, full and done.error in ("timeout", "bad_response")


def _rcode(response: dns.message.Message) -> str:
    import dns.rcode

    return dns.rcode.to_text(response.rcode())


def _has_soa(response: dns.message.Message, zone: str) -> bool:
    import dns.name
    import dns.rdatatype

    apex = dns.name.from_text(zone)
    return any(r.rdtype == dns.rdatatype.SOA and r.name == apex for r in response.answer)


def _echoes_option(response: dns.message.Message) -> bool:
    return any(int(o.otype) == UNKNOWN_OPTION for o in response.options)  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType,reportUnknownArgumentType]


def _z_bits(response: dns.message.Message) -> int:
    import dns.flags

    return int(response.ednsflags) & 0xFFFF & ~int(dns.flags.DO)


def _scrambled(zone: str, rng: random.Random) -> str:
    """`zone` with letters in mixed case, never all lower case."""
    letters = [i for i, c in enumerate(zone) if c.isalpha()]
    chars = list(zone.lower())
    upper = {i for i in letters if rng.random() < 0.5} or set(letters[:1])
    return "".join(c.upper() if i in upper else c for i, c in enumerate(chars))


async def edns0(p: Prober, seen: Seen) -> None:
    """NAMESERVER02 and 13: SOA with DO and a 512-byte payload, over UDP only."""
    import dns.flags
    import dns.rcode

    done, silent = await p.send(_query(p.zone, "SOA", payload=512, ednsflags=int(dns.flags.DO)))
    r = done.response
    if r is None:
        if silent:
            seen.faults["edns_unsupported"] = f"no answer to an EDNS(0) query ({done.detail})"
        return
    if r.flags & dns.flags.TC and r.edns < 0:
        seen.faults["edns_truncated_without_opt"] = "a truncated answer (TC) without OPT record"
    elif r.rcode() == dns.rcode.FORMERR and r.edns < 0:
        seen.faults["edns_unsupported"] = "FORMERR without OPT to an EDNS(0) query"
    elif r.edns < 0:
        seen.faults["edns_unsupported"] = f"{_rcode(r)} without OPT record to an EDNS(0) query"
    elif r.edns != 0:
        seen.faults["edns_unsupported"] = f"an OPT record of EDNS version {r.edns} to an EDNS(0) query"


async def edns_version(p: Prober, seen: Seen) -> None:
    """NAMESERVER10 and 14: EDNS version 1 (with an unknown option) must get BADVERS, an OPT
    record of version 0, no answer and the option not echoed."""
    import dns.rcode

    async def judge(option: bool) -> str | None:
        done, silent = await p.send(_query(p.zone, "SOA", edns=1, payload=512, option=option))
        r = done.response
        if r is None:
            return f"no answer ({done.detail})" if silent else None
        if r.rcode() != dns.rcode.BADVERS:
            return f"{_rcode(r)} instead of BADVERS" + (" with the SOA" if _has_soa(r, p.zone) else "")
        if r.edns != 0:
            return "BADVERS without an OPT record of version 0"
        if r.answer:
            return "BADVERS with records in the answer section"
        if option and _echoes_option(r):
            return f"BADVERS echoing the unknown option {UNKNOWN_OPTION}"
        return None

    combined = await judge(option=True)
    if combined is None:
        return
    if p.timed_out:  # asking again would only wait again
        seen.faults["edns_version_mishandled"] = f"EDNS version 1 with an unknown option: {combined}"
        return
    alone = await judge(option=False)
    if alone is not None:
        seen.faults["edns_version_mishandled"] = f"EDNS version 1: {alone}"
    else:
        seen.faults["edns_version_mishandled"] = f"EDNS version 1 with an unknown option: {combined}"


async def option_flags(p: Prober, seen: Seen) -> None:
    """NAMESERVER11 and 12: an unknown option and unknown Z flags are ignored, not echoed."""
    import dns.flags
    import dns.rcode

    async def ask(*, option: bool, z: int) -> tuple[dns.message.Message | None, str | None]:
        done, silent = await p.send(_query(p.zone, "SOA", payload=512, ednsflags=z, option=option))
        r = done.response
        if r is None:
            return None, (f"no answer ({done.detail})" if silent else None)
        if r.rcode() != dns.rcode.NOERROR:
            return r, _rcode(r)
        if r.edns < 0:
            return r, "no OPT record in the answer"
        if not _has_soa(r, p.zone):
            return r, "no SOA in the answer"
        if not r.flags & dns.flags.AA:
            return r, "the answer is not authoritative"
        return r, None

    r, spoilt = await ask(option=True, z=UNKNOWN_Z)
    if r is not None and spoilt is None:
        if _echoes_option(r):
            seen.faults["edns_option_mishandled"] = f"the unknown option {UNKNOWN_OPTION} is echoed"
        if _z_bits(r):
            seen.faults["edns_flags_mishandled"] = f"the unknown Z flags come back set ({_z_bits(r):#06x})"
        return
    if r is None and spoilt is None:
        return  # not sent or cut by the deadline: nothing learnt
    if p.timed_out:  # asking again would only wait again: both are named
        seen.faults["edns_option_mishandled"] = f"with an unknown option and unknown Z flags: {spoilt}"
        seen.faults["edns_flags_mishandled"] = f"with an unknown option and unknown Z flags: {spoilt}"
        return
    # Something spoilt the answer: ask with each on its own to say which.
    _, option_alone = await ask(option=True, z=0)
    _, flags_alone = await ask(option=False, z=UNKNOWN_Z)
    if option_alone:
        seen.faults["edns_option_mishandled"] = f"with an unknown option: {option_alone}"
    if flags_alone:
        seen.faults["edns_flags_mishandled"] = f"with unknown Z flags: {flags_alone}"


async def aaaa(p: Prober, seen: Seen) -> None:
    """NAMESERVER05: the apex AAAA question answered NOERROR (records or none), over UDP."""
    import dns.rcode

    done, silent = await p.send(_query(p.zone, "AAAA"))
    r = done.response
    if r is None:
        if silent:
            what = "unusable" if done.error == "bad_response" else "no answer"
            seen.faults["aaaa_mishandled"] = f"{what} ({done.detail})"
    elif r.rcode() != dns.rcode.NOERROR:
        seen.faults["aaaa_mishandled"] = _rcode(r)


async def opcode(p: Prober, seen: Seen) -> None:
    """The issue's unknown-opcode question: the apex SOA asked with an unassigned opcode must get
    NOTIMP (RFC 1035 4.1.1, RFC 6895 2.2: a server answers opcodes it does not know with
    NOTIMP), not an answer as if it were a query, nor silence that leaves the client waiting."""
    import dns.rcode

    query = _query(p.zone, "SOA")
    query.flags = (query.flags & ~0x7800) | (UNKNOWN_OPCODE << 11)
    done, silent = await p.send(query)
    r = done.response
    if r is None:
        if silent:
            seen.faults["opcode_mishandled"] = f"no answer to opcode {UNKNOWN_OPCODE} ({done.detail})"
    elif r.rcode() == dns.rcode.NOERROR:
        records = " with the records of a query" if r.answer else ""
        seen.faults["opcode_mishandled"] = f"NOERROR{records} to opcode {UNKNOWN_OPCODE}"
    elif r.rcode() != dns.rcode.NOTIMP and r.rcode() not in (dns.rcode.FORMERR, dns.rcode.REFUSED):
        seen.faults["opcode_mishandled"] = f"{_rcode(r)} to opcode {UNKNOWN_OPCODE}"


async def upward(p: Prober, seen: Seen) -> None:
    """NAMESERVER07: `. NS` asked of a server not authoritative for the root: no referral up."""
    import dns.rdatatype

    done, _ = await p.send(_query(".", "NS"))
    r = done.response
    if r is None:
        return
    owners = sorted({str(rrset.name) for rrset in r.authority if rrset.rdtype == dns.rdatatype.NS})
    if owners:
        seen.faults["upward_referral"] = f"NS records for {', '.join(owners)} in the authority section"


async def case(p: Prober, seen: Seen, *, survey: Survey, names: list[str]) -> None:
    """NAMESERVER08 and 09: the apex SOA question spelt in mixed case, against the survey's
    lower-case one (Zonemaster compares two mixed-case spellings with each other, which misses
    a server that answers every capitalised name wrongly)."""
    import dns.rdatatype

    spelling = _scrambled(p.zone, random.Random())  # noqa: S311 - the spelling needs variety, not secrecy
    baseline = next((survey.soa[n][p.address] for n in names if p.address in survey.soa.get(n, {})), None)
    done, silent = await p.send(_query(spelling, "SOA"))
    r = done.response
    if r is None:
        if silent:
            seen.faults["qname_case_answers_differ"] = f"no answer to {spelling} SOA ({done.detail})"
        return
    if r.question and r.question[0].name.to_text() != spelling:
        seen.faults["qname_case_not_preserved"] = (
            f"asked {spelling}, the answer's question is {r.question[0].name}"
        )

    def shown(message: dns.message.Message) -> tuple[str, list[str]]:
        # The survey's SOA was asked with DO: its signatures are left out of the comparison.
        records = sorted(
            str(rrset).lower() for rrset in message.answer if rrset.rdtype != dns.rdatatype.RRSIG
        )
        return _rcode(message), records

    if baseline is not None and shown(r) != shown(baseline):
        (rcode, _), (other, _) = shown(baseline), shown(r)
        what = f"{rcode} vs {other}" if rcode != other else "other records"
        seen.faults["qname_case_answers_differ"] = f"{p.zone} SOA and {spelling} SOA get {what}"


async def axfr(p: Prober, seen: Seen) -> None:
    """NAMESERVER03: AXFR over TCP; only the first message is read, then the connection closes."""
    import dns.rcode
    import dns.rdatatype

    done, _ = await p.send(_query(p.zone, "AXFR", edns=-1), tcp=True)
    r = done.response
    if (
        r is not None
        and r.rcode() == dns.rcode.NOERROR
        and r.answer
        and r.answer[0].rdtype == dns.rdatatype.SOA
    ):
        seen.faults["axfr_open"] = "the transfer starts (SOA first)"


async def chaos(p: Prober, seen: Seen) -> None:
    """NAMESERVER15: CHAOS TXT version.bind; version.server only where version.bind is refused
    (a server that may not know the older name); id.server once a version was told. A hardened
    server that answers version.bind empty (BIND's `version none`) is asked nothing more."""
    import dns.rcode
    import dns.rdatatype

    async def one(name: str) -> tuple[bool, bool]:
        """(a text was told, the question was answered NOERROR)."""
        done, _ = await p.send(_query(name, "TXT", edns=-1, rdclass="CH"))
        r = done.response
        if r is None:
            return False, False
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.TXT and rrset.name.to_text().lower() == name:
                texts = [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in rrset]  # pyright: ignore[reportUnknownMemberType,reportAttributeAccessIssue,reportUnknownArgumentType,reportUnknownVariableType]
                text = " ".join(t for t in texts if t.strip())
                if text:
                    seen.chaos[name.rstrip(".")] = text[:80]
                    return True, True
        return False, r.rcode() == dns.rcode.NOERROR

    told, answered = await one("version.bind.")
    if not told and not answered:
        told, _ = await one("version.server.")
    if told:
        await one("id.server.")


async def lame(p: Prober, seen: Seen) -> None:
    """NAMESERVER02 for an address whose EDNS answer was not authoritative: does it answer
    without EDNS? Then EDNS breaks it, not the zone's configuration."""
    import dns.flags
    import dns.rcode

    plain, _ = await p.send(_query(p.zone, "SOA", edns=-1))
    r = plain.response
    if r is None or r.rcode() != dns.rcode.NOERROR or not r.flags & dns.flags.AA or not _has_soa(r, p.zone):
        return
    with_edns, silent = await p.send(_query(p.zone, "SOA", payload=512))
    e = with_edns.response
    if e is None:
        if silent:
            seen.faults["edns_unsupported"] = "answers without EDNS, but not at all with EDNS(0)"
    elif e.rcode() != dns.rcode.NOERROR or not e.flags & dns.flags.AA:
        opt = "with" if e.edns >= 0 else "without"
        seen.faults["edns_unsupported"] = (
            f"answers without EDNS, but {_rcode(e)} {opt} OPT record to a query with EDNS(0)"
        )


async def source(p: Prober, seen: Seen) -> None:
    """NAMESERVER04 for an address that answered over TCP but never over UDP: does its UDP answer
    come from another address? `query.exchange` cannot tell (dnspython drops a datagram from
    another source, as resolvers do), so this one question is sent from an unconnected socket
    that takes the answer from wherever it comes; the rate limit is taken as for any other."""
    import socket

    import dns.asyncbackend
    import dns.asyncquery
    import dns.exception
    import dns.inet

    timeout = min(p.walker.try_timeout, p.walker.left())
    try:
        await acquire(p.walker.ctx.limiter, p.address, timeout, cost=DNS_QUERY_COST)
    except RateLimited:
        return
    query = _query(p.zone, "SOA")
    family = dns.inet.af_for_address(p.address)
    destination = dns.inet.low_level_address_tuple((p.address, p.walker.port), family)
    backend = dns.asyncbackend.get_default_backend()
    expiration = time.time() + timeout  # dnspython's clock for expirations
    sock = cast("Any", await backend.make_socket(family, socket.SOCK_DGRAM, 0, None, None))  # pyright: ignore[reportUnknownMemberType]
    async with sock:
        await dns.asyncquery.send_udp(sock, query, destination, expiration)
        while True:
            try:
                response, _, source = await dns.asyncquery.receive_udp(
                    sock, None, expiration, ignore_unexpected=True
                )
            except dns.exception.Timeout:
                return
            except dns.exception.DNSException:
                continue  # not a DNS message: wait for one
            if query.is_response(response):
                break
    if source[0] != destination[0]:
        seen.faults["answer_from_other_address"] = f"the UDP answer comes from {source[0]}"
