"""How each nameserver of a zone behaves: EDNS, case, referrals, AXFR, CHAOS (Zonemaster's
NAMESERVER02-05 and 07-15), one check of `dns_monitor.delegation.CHECKS`.

Every address that answered the apex SOA authoritatively (`Survey.answering()`) gets one set of
probes (`_behaviour_probes`), one UDP question at a time (the per-host rate limit is shared with
the other checks) beside the one TCP question (AXFR), every address at the same time; after one
unanswered question an address is asked nothing more over UDP. An address whose UDP answer was
not authoritative is asked again without EDNS, to tell a server that breaks on EDNS from a lame
one. What each probe sends is what Zonemaster's Nameserver.pm (engine 4.6) and its specifications
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
    apex SOA with opcode 15 (unassigned)    `opcode_mishandled`: NOERROR (as if a query), another
                                            error than NOTIMP/FORMERR/REFUSED, or silence (issue
                                            14; not in Zonemaster's catalogue, DNSViz-style)
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
INFO: ok) except three, each stricter: `axfr_open` is a warning where Zonemaster says NOTICE
(anyone can copy the whole zone, every name and address, and the transfer is an amplifier);
`edns_unsupported` is critical where NO_EDNS_SUPPORT is a WARNING (resolvers since DNS Flag Day
2019 do not retry without EDNS, so the server is lost to them); `edns_flags_mishandled` is a
warning where engine 4.6 leaves Z_FLAGS_NOTCLEAR out of its profile (DEBUG).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import anyio
from monitor_common.findings import VERSION_BANNER
from monitor_common.results import Finding, Verdict

from dns_monitor import _behaviour_probes as probes

if TYPE_CHECKING:
    from dns_monitor.survey import Survey

__all__ = ["nameserver_behaviour"]

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
    "opcode_mishandled": (
        Verdict.WARNING,
        "nameservers that do not answer an unknown opcode with NOTIMP",
        "answer opcodes the server does not implement with NOTIMP (RFC 1035 4.1.1); a server that "
        "answers them as queries, or not at all, misleads or stalls clients that use new opcodes",
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
    seen: dict[str, probes.Seen] = {address: probes.Seen() for address in [*names, *lame, *tcp_only]}
    walker = survey.walker

    async def probe(address: str) -> None:
        # One question at a time per address: the per-host rate limit is shared with the other
        # checks of CHECKS, and nine questions queued at once would take the slots their own
        # questions to this server wait for. After one unanswered question the rest are not
        # asked, so a server that drops some questions costs one timeout, not one per probe.
        p = probes.Prober(walker, address, survey.zone)
        found = seen[address]
        if address in lame:
            await probes.lame(p, found)
            return
        if address in tcp_only:
            await probes.source(p, found)
            return
        case = functools.partial(probes.case, survey=survey, names=names[address])

        async def over_udp() -> None:
            for run in (
                probes.edns0,
                probes.edns_version,
                probes.option_flags,
                probes.aaaa,
                case,
                probes.upward,
                probes.opcode,
                probes.chaos,
            ):
                await run(p, found)
                if p.timed_out:
                    return

        async with anyio.create_task_group() as group:
            group.start_soon(over_udp)
            # Beside them, over TCP: a server that drops transfers silently costs one timeout
            # at the same time as a UDP one, and a UDP timeout says nothing about it.
            group.start_soon(probes.axfr, p, found)

    with anyio.move_on_after(walker.left()):
        async with anyio.create_task_group() as group:
            for address in seen:
                group.start_soon(probe, address)
    every = {**tcp_only, **lame, **names}
    for address, listed in [*lame.items(), *tcp_only.items()]:
        if {"edns_unsupported", "answer_from_other_address"} & set(seen[address].faults):
            survey.explained.update(listed)  # not lame nor UDP-silent: the finding here says why
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
