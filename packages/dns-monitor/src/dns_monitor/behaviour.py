"""How each nameserver of a zone behaves: EDNS, case, referrals, AXFR, CHAOS (Zonemaster's
NAMESERVER02-05 and 07-15), one check of `dns_monitor.delegation.CHECKS`.

Every address that answered the apex SOA authoritatively (`Survey.answering()`) gets one set of
probes, one UDP question at a time (the per-host rate limit is shared with the other checks)
beside the one TCP question (AXFR), every address at the same time; after one unanswered question
an address is asked nothing more over UDP. An address whose UDP answer was not authoritative is asked again without EDNS, to tell a
server that breaks on EDNS from a lame one.
What each probe sends is what Zonemaster's Nameserver.pm (engine 4.6) and its specifications
send, so the two tools judge the same answers:

    probe                                   finding when the answer is wrong
    SOA, EDNS(0) DO, 512 bytes, UDP only    `edns_unsupported` (FORMERR, no OPT, OPT version not 0;
                                            NAMESERVER02), `edns_truncated_without_opt` (TC
                                            without OPT; NAMESERVER13)
    SOA, EDNS version 1 + unknown option    `edns_version_mishandled`: not BADVERS with an OPT of
                                            version 0 and no answer (NAMESERVER10, 14)
    SOA, unknown option 137 + Z flags 3     `edns_option_mishandled` (the option echoed, or the
                                            answer spoilt; NAMESERVER11), `edns_flags_mishandled`
                                            (Z flags echoed, or the answer spoilt; NAMESERVER12)
    apex AAAA                               `aaaa_mishandled`: dropped, an error rcode, or bad
                                            rdata where the SOA was answered (NAMESERVER05)
    `. NS`                                  `upward_referral`: NS records for the root or any
                                            name above the zone in the authority section
                                            (NAMESERVER07)
    apex SOA spelt in mixed case            `qname_case_not_preserved`: the question comes back
                                            in other case (NAMESERVER08);
                                            `qname_case_answers_differ`: another rcode or other
                                            records than the lower-case question (NAMESERVER09)
    AXFR over TCP (first message only)      `axfr_open`: the transfer starts with the SOA
                                            (NAMESERVER03)
    CHAOS TXT version.bind (version.server  `version_banner` (a notice, severity ok): the text
    where it is refused; then id.server)    each server gives (NAMESERVER15)
    SOA without EDNS (lame addresses only)  `edns_unsupported`: answers without EDNS but not
                                            with it (NAMESERVER02 BREAKS_ON_EDNS, NO_EDNS_SUPPORT)
    SOA over UDP, taking an answer from     `answer_from_other_address` (NAMESERVER04), for an
    any source (TCP-only addresses only)    address that answered over TCP but never over UDP

A fault several addresses share is one finding that lists them. A probe that was not sent (rate
limit) or ran into the call's deadline says nothing; "no answer" counts only for a probe that had
its whole time. Only the first message of a transfer is read, and the connection is closed: the
check never pulls a zone. NAMESERVER01 (`open_recursion`) and 06 (`ns_unreachable`) are in
`delegation.py`. A server whose UDP answers come from another address looks silent over UDP to
the survey (dnspython drops such datagrams, as resolvers do), so only an address that answered
over TCP but not over UDP is asked the NAMESERVER04 question, with a socket of its own.

Severities follow Zonemaster's default levels (ERROR: critical, WARNING: warning, NOTICE and
INFO: ok) except `axfr_open`, a warning where Zonemaster says NOTICE: anyone can then copy the
whole zone (every name, every address) and the transfer is an amplifier.
"""

from __future__ import annotations

import functools
import random
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import anyio
from monitor_common.findings import VERSION_BANNER
from monitor_common.ratelimit import RateLimited, acquire
from monitor_common.results import Finding, Verdict

from dns_monitor.query import Exchange, exchange

if TYPE_CHECKING:
    import dns.edns
    import dns.message

    from dns_monitor.survey import Survey
    from dns_monitor.walk import Walker

__all__ = ["nameserver_behaviour"]

UNKNOWN_OPTION = 137  # unassigned (15-26945), the code Zonemaster sends
UNKNOWN_Z = 0x0003  # two of the EDNS header's unassigned Z bits, as Zonemaster sets them
RATE_ALLOWANCE_S = 1.0  # the longest wait for the per-host rate limit, beside the server's time


@dataclass
class _Seen:
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


class _Prober:
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


async def _probe_edns0(p: _Prober, seen: _Seen) -> None:
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


async def _probe_version(p: _Prober, seen: _Seen) -> None:
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


async def _probe_option_flags(p: _Prober, seen: _Seen) -> None:
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


async def _probe_aaaa(p: _Prober, seen: _Seen) -> None:
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


async def _probe_upward(p: _Prober, seen: _Seen) -> None:
    """NAMESERVER07: `. NS` asked of a server not authoritative for the root: no referral up."""
    import dns.rdatatype

    done, _ = await p.send(_query(".", "NS"))
    r = done.response
    if r is None:
        return
    owners = sorted({str(rrset.name) for rrset in r.authority if rrset.rdtype == dns.rdatatype.NS})
    if owners:
        seen.faults["upward_referral"] = f"NS records for {', '.join(owners)} in the authority section"


async def _probe_case(p: _Prober, seen: _Seen, *, survey: Survey, names: list[str]) -> None:
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


async def _probe_axfr(p: _Prober, seen: _Seen) -> None:
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


async def _probe_chaos(p: _Prober, seen: _Seen) -> None:
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


async def _probe_lame(p: _Prober, seen: _Seen) -> None:
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


async def _probe_source(p: _Prober, seen: _Seen) -> None:
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
        await acquire(p.walker.ctx.limiter, p.address, timeout)
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


_FAULTS: dict[str, tuple[Verdict, str, str]] = {
    # code: (severity, what the servers do, how to fix it)
    "edns_unsupported": (
        Verdict.CRITICAL,
        "nameservers that do not handle EDNS(0)",
        "upgrade the nameserver software or fix the firewall or load balancer in front of it: "
        "resolvers since DNS Flag Day 2019 no longer retry without EDNS (RFC 6891)",
    ),
    "edns_version_mishandled": (
        Verdict.WARNING,
        "nameservers that do not answer an unknown EDNS version with BADVERS",
        "answer EDNS versions above 0 with BADVERS, an OPT record of version 0 and no records "
        "(RFC 6891 6.1.3); upgrade the nameserver software or its middlebox",
    ),
    "edns_option_mishandled": (
        Verdict.WARNING,
        "nameservers that do not ignore an unknown EDNS option",
        "ignore unknown EDNS options and never echo them (RFC 6891 6.1.2); upgrade the software",
    ),
    "edns_flags_mishandled": (
        Verdict.WARNING,
        "nameservers that do not ignore unknown EDNS flags",
        "ignore the unassigned EDNS Z flags and answer them cleared (RFC 6891 6.1.4); upgrade the software",
    ),
    "edns_truncated_without_opt": (
        Verdict.WARNING,
        "nameservers whose truncated answers drop the OPT record",
        "keep the OPT record in truncated answers (RFC 6891 7), so resolvers keep EDNS for the TCP retry",
    ),
    "aaaa_mishandled": (
        Verdict.CRITICAL,
        "nameservers that answer the zone's SOA but not its AAAA question",
        "answer AAAA questions like any other (NOERROR, with or without records, RFC 4074); "
        "a firewall or old software that drops them delays every IPv6 lookup",
    ),
    "upward_referral": (
        Verdict.WARNING,
        "nameservers that refer a question outside their zones upwards (to the root)",
        "answer REFUSED for names outside the zones served (e.g. BIND: recursion no, "
        "minimal-any; no root hints in an authoritative view)",
    ),
    "qname_case_not_preserved": (
        Verdict.WARNING,
        "nameservers that change the case of the question",
        "copy the question as asked (RFC 1034 3.1, RFC 4343): resolvers using 0x20 case "
        "randomisation discard such answers",
    ),
    "qname_case_answers_differ": (
        Verdict.CRITICAL,
        "nameservers whose answers depend on the case of the question",
        "names compare case-insensitively (RFC 4343): fix the nameserver software or the "
        "load balancer or cache in front of it",
    ),
    "answer_from_other_address": (
        Verdict.WARNING,
        "nameservers whose UDP answers come from another address than the one asked (resolvers drop them)",
        "make the server answer from the address it is asked on (BIND: listen-on that address, "
        "not a wildcard behind NAT; or fix the NAT or load balancer in front of it)",
    ),
    "axfr_open": (
        Verdict.WARNING,
        "nameservers that transfer the whole zone (AXFR) to anyone",
        "restrict zone transfers to the secondaries (BIND allow-transfer, Knot acl, NSD "
        "provide-xfr), ideally with TSIG",
    ),
}


def _shown(names: dict[str, list[str]], address: str) -> str:
    return f"{', '.join(sorted(names[address]))} ({address})"


async def nameserver_behaviour(survey: Survey) -> list[Finding]:
    """Probe every answering nameserver address (and every address whose answer was not
    authoritative, without EDNS) and report each misbehaviour once, listing the servers."""
    names: dict[str, list[str]] = {}
    for name, address in survey.answering():
        names.setdefault(address, []).append(name)
    lame: dict[str, list[str]] = {}
    for server in survey.servers.values():
        if server.udp_ok and server.authoritative is False:
            for address in server.addresses:
                if address not in names:
                    lame.setdefault(address, []).append(server.name)
    tcp_only: dict[str, list[str]] = {}
    for server in survey.servers.values():
        if server.udp_ok is False and server.tcp_ok:
            for address in server.addresses:
                tcp_only.setdefault(address, []).append(server.name)
    seen: dict[str, _Seen] = {address: _Seen() for address in [*names, *lame, *tcp_only]}
    walker = survey.walker

    async def probe(address: str) -> None:
        # One question at a time per address: the per-host rate limit is shared with the other
        # checks of CHECKS, and nine questions queued at once would take the slots their own
        # questions to this server wait for. After one unanswered question the rest are not
        # asked, so a server that drops some questions costs one timeout, not one per probe.
        p = _Prober(walker, address, survey.zone)
        found = seen[address]
        if address in lame:
            await _probe_lame(p, found)
            return
        if address in tcp_only:
            await _probe_source(p, found)
            return
        case = functools.partial(_probe_case, survey=survey, names=names[address])

        async def over_udp() -> None:
            for run in (
                _probe_edns0,
                _probe_version,
                _probe_option_flags,
                _probe_aaaa,
                case,
                _probe_upward,
                _probe_chaos,
            ):
                await run(p, found)
                if p.timed_out:
                    return

        async with anyio.create_task_group() as group:
            group.start_soon(over_udp)
            # Beside them, over TCP: a server that drops transfers silently costs one timeout
            # at the same time as a UDP one, and a UDP timeout says nothing about it.
            group.start_soon(_probe_axfr, p, found)

    with anyio.move_on_after(walker.left()):
        async with anyio.create_task_group() as group:
            for address in seen:
                group.start_soon(probe, address)
    every = {**tcp_only, **lame, **names}
    findings: list[Finding] = []
    for code, (severity, what, hint) in _FAULTS.items():
        shown = [
            f"{_shown(every, address)}: {seen[address].faults[code]}"
            for address in sorted(seen)
            if code in seen[address].faults
        ]
        if shown:
            findings.append(
                Finding(severity=severity, code=code, message=f"{what}: {'; '.join(shown)}", hint=hint)
            )
    disclosed = [
        f"{_shown(every, address)} "
        + ", ".join(f'{key} "{text}"' for key, text in sorted(found.chaos.items()))
        for address, found in sorted(seen.items())
        if found.chaos
    ]
    if disclosed:
        findings.append(
            VERSION_BANNER.finding(
                f"nameservers that tell anyone their software or identity (CHAOS TXT): {'; '.join(disclosed)}",
                hint="hide them (BIND: version none; hostname none; server-id none; Knot: version and "
                "identity empty; NSD: hide-version and hide-identity yes); they tell attackers which "
                "exploits to try",
            )
        )
    return findings
