"""Denial of existence and signing completeness of a signed zone, on every nameserver.

`check_denial` runs in `dnssec_check` on the final zone (`dnssec.ZONE_CHECKS`) once its chain is
judged secure or insecure. It asks every nameserver address of the zone that has not already
been silent in this call, concurrently and under the walker's deadline (so a dead server costs
one timeout, not one per question), for the apex DNSKEY, SOA and NS sets and for a name that
does not exist, all with the DO bit, and judges what each served:

- DNSSEC06 (every nameserver serves the signed zone): a server that answers without the DNSKEY
  set or without RRSIGs over the DNSKEY or SOA set serves an unsigned copy. Validators that ask
  it get answers they must reject: `dnssec_unsigned_nameserver`, critical when the zone has a DS
  (warning while it has none), one finding naming every such server. The other checks leave
  those servers out.
- DNSSEC10 (denial of existence): each server must answer the missing name authoritatively
  (`denial_failed`), with NSEC or NSEC3 records (`denial_missing` for the servers that send
  neither, when others do; the first server's answer is `dnssec_check`'s own `denial_missing`),
  one kind per answer and per zone (`denial_inconsistent`), that prove the name absent: an NSEC
  whose owner and next name enclose it, or an NSEC3 matching the closest encloser (the apex) and
  one whose hash range covers the name's hash (`denial_not_covering`), each signed by the zone's
  keys (`dnssec_bogus`, `rrsig_expired`, `rrsig_not_yet_valid`, naming the servers).
- DNSSEC03 (NSEC3 parameters, RFC 9276): more than 0 extra iterations (`nsec3_iterations`), more
  than 100, which RFC 9276 3.2 lets validators treat as insecure and BIND, Unbound and Knot
  Resolver do above their limits (150 or less: `nsec3_iterations_insecure`), a salt
  (`nsec3_salt`); all warnings, as Zonemaster's TOO_MANY_ITERATIONS. The opt-out flag is a
  notice (`nsec3_opt_out`, ok). The parameters are read from the NSEC3 records the servers send
  (what validators use), not from NSEC3PARAM.
- DNSSEC13 (RFC 4035 2.2, RFC 6840 5.11): every algorithm of the DNSKEY set signs the DNSKEY, SOA
  and NS sets on every server (`dnssec_algorithm_not_signing`, warning: validators accept one
  algorithm's signatures, but a zone signed so is half-way through an algorithm rollover).

Each fault is one finding listing the servers (address and name) or keys it concerns.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import anyio
from monitor_common.results import Finding, Verdict

if TYPE_CHECKING:
    import dns.message
    import dns.name
    import dns.rrset
    from dns.rdtypes.ANY.DNSKEY import DNSKEY
    from dns.rdtypes.ANY.NSEC import NSEC
    from dns.rdtypes.ANY.NSEC3 import NSEC3
    from dns.rdtypes.ANY.RRSIG import RRSIG

    from dns_monitor.query import Exchange
    from dns_monitor.survey import SignedZone

__all__ = ["check_denial"]

APEX_TYPES = ("DNSKEY", "SOA", "NS")
ITERATIONS_INSECURE = 100  # RFC 9276 3.2: above this, validators may treat the zone as insecure


@dataclass
class _Served:
    """What one nameserver address answered."""

    address: str
    shown: str  # "127.0.1.1 (ns1.dns.test.)"
    answers: dict[str, dns.message.Message] = field(
        default_factory=lambda: dict[str, "dns.message.Message"]()
    )


def _rrset(response: dns.message.Message, owner: dns.name.Name, rdtype: str) -> dns.rrset.RRset | None:
    import dns.rdatatype

    wanted = dns.rdatatype.from_text(rdtype)
    return next((r for r in response.answer if r.name == owner and r.rdtype == wanted), None)


def _sigs_over(section: list[dns.rrset.RRset], owner: dns.name.Name, rdtype: int) -> dns.rrset.RRset | None:
    import dns.rdatatype

    return next(
        (r for r in section if r.name == owner and r.rdtype == dns.rdatatype.RRSIG and r.covers == rdtype),
        None,
    )


def _listed(servers: list[str]) -> str:
    return ", ".join(servers)


async def _names(signed: SignedZone) -> dict[str, str]:
    """address -> nameserver name, from the parent's glue or the addresses the walk resolved
    (cached by the walker: no question is sent again)."""
    names: dict[str, str] = {}
    for ns in signed.step.ns:
        addresses = signed.step.glue.get(ns) or await signed.walker.addresses_of(ns, 0)
        for address in addresses:
            names.setdefault(address, ns)
    return names


async def _survey(signed: SignedZone, probe: str) -> list[_Served]:
    """Every nameserver address's answers to the apex DNSKEY, SOA, NS and to `probe`, asked all at
    once; the addresses that answered nothing are left out."""
    walker = signed.walker
    names = await _names(signed)
    questions = [(signed.zone, rdtype) for rdtype in APEX_TYPES] + [(probe, "A")]
    served = [
        _Served(a, f"{a} ({names[a]})" if a in names else a)
        for a in signed.step.servers
        if a not in walker.silent
    ]

    async def ask(server: _Served, name: str, rdtype: str) -> None:
        if time.monotonic() >= walker.deadline:
            return
        done: Exchange = await walker.ask(server.address, name, rdtype)
        if done.response is not None:
            server.answers["probe" if name == probe else rdtype] = done.response

    async with anyio.create_task_group() as group:
        for server in served:
            for name, rdtype in questions:
                group.start_soon(ask, server, name, rdtype)
    return [server for server in served if server.answers]


def _authoritative(response: dns.message.Message | None) -> bool:
    import dns.flags
    import dns.rcode

    return (
        response is not None
        and response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN)
        and bool(response.flags & dns.flags.AA)
    )


def _unsigned(signed: SignedZone, servers: list[_Served]) -> tuple[list[Finding], list[_Served]]:
    """DNSSEC06: the servers that serve the zone without its DNSSEC data; the others."""
    import dns.name
    import dns.rdatatype

    zone = dns.name.from_text(signed.zone)
    bad: list[str] = []
    good: list[_Served] = []
    for server in servers:
        lacks: list[str] = []
        keys = server.answers.get("DNSKEY")
        if _authoritative(keys):
            assert keys is not None
            if _rrset(keys, zone, "DNSKEY") is None:
                lacks.append("no DNSKEY set")
            elif _sigs_over(keys.answer, zone, dns.rdatatype.DNSKEY) is None:
                lacks.append("no RRSIG over the DNSKEY set")
        soa = server.answers.get("SOA")
        if (
            _authoritative(soa)
            and soa is not None
            and _rrset(soa, zone, "SOA") is not None
            and _sigs_over(soa.answer, zone, dns.rdatatype.SOA) is None
        ):
            lacks.append("no RRSIG over the SOA")
        if lacks:
            bad.append(f"{server.shown}: {', '.join(lacks)}")
        elif _authoritative(keys):
            good.append(server)
    if not bad:
        return [], good
    secure = signed.status == "secure"
    effect = (
        "validators that ask it get answers they must reject (SERVFAIL for their users)"
        if secure
        else "the zone has no DS yet, but publishing one would make these servers' answers bogus"
    )
    finding = Finding(
        severity=Verdict.CRITICAL if secure else Verdict.WARNING,
        code="dnssec_unsigned_nameserver",
        message=f"{len(bad)} of {len(servers)} nameserver address(es) of {signed.zone} serve it without "
        f"its DNSSEC data ({'; '.join(bad)}): {effect}",
        hint="give every nameserver the signed zone (a secondary still serving an old unsigned copy, "
        "or a provider that does not sign: fix its transfer, or remove it from the NS set)",
    )
    return [finding], good


def _algorithms(signed: SignedZone, servers: list[_Served]) -> list[Finding]:
    """DNSSEC13: each algorithm of the DNSKEY set signs the DNSKEY, SOA and NS sets."""
    import dns.dnssec
    import dns.name
    import dns.rdatatype

    zone = dns.name.from_text(signed.zone)
    missing: dict[int, dict[str, set[str]]] = {}  # algorithm -> RRset -> servers
    tags: dict[int, set[int]] = {}
    for server in servers:
        keys_answer = server.answers["DNSKEY"]
        keys = _rrset(keys_answer, zone, "DNSKEY")
        if keys is None:
            continue
        algorithms: set[int] = set()
        for key in cast("list[DNSKEY]", list(keys)):  # pyright: ignore[reportUnknownArgumentType]
            algorithms.add(int(key.algorithm))
            tags.setdefault(int(key.algorithm), set()).add(dns.dnssec.key_id(key))
        for rdtype in APEX_TYPES:
            answer = server.answers.get(rdtype)
            if answer is None or not _authoritative(answer) or _rrset(answer, zone, rdtype) is None:
                continue
            sigs = _sigs_over(answer.answer, zone, dns.rdatatype.from_text(rdtype))
            if sigs is None:
                continue  # an unsigned answer is DNSSEC06's
            signing = {int(s.algorithm) for s in cast("list[RRSIG]", list(sigs))}  # pyright: ignore[reportUnknownArgumentType]
            for algorithm in algorithms - signing:
                missing.setdefault(algorithm, {}).setdefault(rdtype, set()).add(server.shown)
    if not missing:
        return []
    parts: list[str] = []
    for algorithm, by_type in sorted(missing.items()):
        name = dns.dnssec.algorithm_to_text(algorithm)
        where = "; ".join(f"the {t} set on {_listed(sorted(s))}" for t, s in by_type.items())
        key_tags = ", ".join(str(t) for t in sorted(tags.get(algorithm, set())))
        parts.append(f"{name} ({algorithm}, key tag(s) {key_tags}) does not sign {where}")
    return [
        Finding(
            severity=Verdict.WARNING,
            code="dnssec_algorithm_not_signing",
            message=f"the DNSKEY set of {signed.zone} has an algorithm that does not sign the zone: "
            + "; ".join(parts)
            + " (RFC 4035 2.2: every algorithm of the DNSKEY set signs every RRset)",
            hint="sign the zone with a key of every algorithm in its DNSKEY set, or remove the keys of an "
            "algorithm that does not sign (finish or undo the algorithm rollover)",
        )
    ]


def _b32(raw: bytes) -> str:
    return base64.b32hexencode(raw).decode().upper()


def _nsec_covers(owner: dns.name.Name, following: dns.name.Name, name: dns.name.Name) -> bool:
    """Whether the NSEC `owner` -> `following` proves `name` absent (canonical order, RFC 4034 6.1;
    the last NSEC of the chain points back to the apex)."""
    if owner < following:
        return owner < name < following
    return name > owner or name < following


def _hash_covers(owner: str, following: str, hashed: str) -> bool:
    if owner < following:
        return owner < hashed < following
    return hashed > owner or hashed < following


@dataclass
class _Denial:
    """What the denial answers of the servers showed, grouped by fault."""

    failed: list[str] = field(default_factory=lambda: list[str]())
    missing: list[str] = field(default_factory=lambda: list[str]())
    mixed: list[str] = field(default_factory=lambda: list[str]())
    kinds: dict[str, list[str]] = field(
        default_factory=lambda: dict[str, list[str]]()
    )  # nsec/nsec3 -> servers
    not_covering: list[str] = field(default_factory=lambda: list[str]())
    unsigned: list[str] = field(default_factory=lambda: list[str]())
    expired: list[str] = field(default_factory=lambda: list[str]())
    future: list[str] = field(default_factory=lambda: list[str]())
    bogus: list[str] = field(default_factory=lambda: list[str]())
    nsec3: list[NSEC3] = field(default_factory=lambda: list["NSEC3"]())


def _check_signatures(
    found: _Denial,
    server: _Served,
    label: str,
    rrsets: list[dns.rrset.RRset],
    response: dns.message.Message,
    keys: dns.rrset.RRset | None,
    zone: dns.name.Name,
) -> None:
    import dns.dnssec
    import dns.exception

    now = time.time()
    for rrset in rrsets:
        sigs = _sigs_over(response.authority, rrset.name, rrset.rdtype)
        where = f"{server.shown} ({label} {rrset.name})"
        if sigs is None or len(sigs) == 0:
            found.unsigned.append(where)
            continue
        window = [(int(s.inception), int(s.expiration)) for s in cast("list[RRSIG]", list(sigs))]  # pyright: ignore[reportUnknownArgumentType]
        if all(expiration < now for _, expiration in window):
            found.expired.append(where)
            continue
        if not any(inception <= now <= expiration for inception, expiration in window):
            found.future.append(where)
            continue
        if keys is None:
            continue
        try:
            dns.dnssec.validate(rrset, sigs, {zone: keys}, now=now)  # pyright: ignore[reportUnknownMemberType]
        except (
            dns.exception.ValidationFailure,
            dns.exception.DeniedByPolicy,
            dns.exception.UnsupportedAlgorithm,
        ):
            found.bogus.append(where)


def _denial(signed: SignedZone, servers: list[_Served], probe: str) -> list[Finding]:
    """DNSSEC10 and DNSSEC03 from each server's answer to `probe`."""
    import dns.dnssec
    import dns.name
    import dns.rdatatype

    zone = dns.name.from_text(signed.zone)
    qname = dns.name.from_text(probe)
    found = _Denial()
    for server in servers:
        response = server.answers.get("probe")
        if response is None:
            continue
        if not _authoritative(response):
            found.failed.append(server.shown)
            continue
        nsecs = [r for r in response.authority if r.rdtype == dns.rdatatype.NSEC]
        nsec3s = [r for r in response.authority if r.rdtype == dns.rdatatype.NSEC3]
        if nsecs and nsec3s:
            found.mixed.append(server.shown)
            continue
        if not nsecs and not nsec3s:
            found.missing.append(server.shown)
            continue
        kind = "nsec" if nsecs else "nsec3"
        found.kinds.setdefault(kind, []).append(server.shown)
        # A wildcard or a CNAME answering the name: the proof is of another shape; only its
        # signatures are checked here.
        proves_absence = not response.answer
        if nsecs:
            if proves_absence and not any(
                _nsec_covers(r.name, cast("NSEC", r[0]).next, qname)  # pyright: ignore[reportUnknownMemberType]
                for r in nsecs
            ):
                shown = "; ".join(f"{r.name} -> {cast('NSEC', r[0]).next}" for r in nsecs)  # pyright: ignore[reportUnknownMemberType]
                found.not_covering.append(f"{server.shown} (NSEC {shown})")
            _check_signatures(found, server, "NSEC", nsecs, response, signed.keys, zone)
        else:
            records = [(r.name.labels[0].decode().upper(), cast("NSEC3", r[0])) for r in nsec3s]  # pyright: ignore[reportUnknownMemberType]
            found.nsec3.extend(rdata for _, rdata in records)
            if proves_absence:
                _, first = records[0]
                salt, iterations, algorithm = first.salt, int(first.iterations), int(first.algorithm)
                problems: list[str] = []
                try:
                    hashed = dns.dnssec.nsec3_hash(qname, salt, iterations, algorithm)
                    encloser = dns.dnssec.nsec3_hash(zone, salt, iterations, algorithm)
                except ValueError as exc:
                    problems.append(f"its NSEC3 parameters cannot be used ({exc})")
                else:
                    if not any(owner == encloser for owner, _ in records):
                        problems.append(f"no NSEC3 matches the apex (hash {encloser})")
                    if not any(_hash_covers(owner, _b32(r.next), hashed) for owner, r in records):
                        ranges = ", ".join(f"{owner} -> {_b32(r.next)}" for owner, r in records)
                        problems.append(f"no NSEC3 covers the name's hash {hashed} (ranges {ranges})")
                if problems:
                    found.not_covering.append(f"{server.shown} ({'; '.join(problems)})")
            _check_signatures(found, server, "NSEC3", nsec3s, response, signed.keys, zone)
    return _denial_findings(signed, probe, found) + _nsec3_parameters(signed, found.nsec3)


def _denial_findings(signed: SignedZone, probe: str, found: _Denial) -> list[Finding]:
    zone = signed.zone
    out: list[Finding] = []
    # A zone with no DS: a validator does not check its denial, and the zone may be mid-signing.
    severe = Verdict.CRITICAL if signed.status == "secure" else Verdict.WARNING

    def add(severity: Verdict, code: str, message: str, hint: str) -> None:
        out.append(Finding(severity=severity, code=code, message=message, hint=hint))

    if found.failed:
        add(
            severe,
            "denial_failed",
            f"asked for {probe}, a name that does not exist, {_listed(found.failed)} gave no authoritative "
            "NXDOMAIN or NODATA answer (an error code or a non-authoritative answer)",
            "check these servers' logs: a signed zone must answer a name that does not exist with a signed "
            "NXDOMAIN",
        )
    # The first server's lack of NSEC/NSEC3 is dnssec_check's own denial_missing.
    if found.missing and signed.denial is not None:
        add(
            Verdict.CRITICAL,
            "denial_missing",
            f"{_listed(found.missing)} answer a name that does not exist in {zone} without NSEC or NSEC3 "
            "records, while the zone's other nameservers send them: validating resolvers that ask them "
            "answer SERVFAIL for such names",
            "give every nameserver the same signed zone (re-transfer it to these servers)",
        )
    if found.mixed or len(found.kinds) > 1:
        detail = [f"{_listed(found.mixed)} send NSEC and NSEC3 in one answer"] if found.mixed else []
        if len(found.kinds) > 1:
            detail.append(
                f"{_listed(found.kinds['nsec'])} use NSEC, {_listed(found.kinds['nsec3'])} use NSEC3"
            )
        add(
            severe,
            "denial_inconsistent",
            f"the nameservers of {zone} disagree on how they deny a name: {'; '.join(detail)}",
            "sign the zone once, with either NSEC or NSEC3, and give every nameserver that copy",
        )
    if found.not_covering:
        add(
            severe,
            "denial_not_covering",
            f"the NSEC/NSEC3 records do not prove that {probe} does not exist: {'; '.join(found.not_covering)}; "
            "validators reject such NXDOMAIN answers (SERVFAIL)",
            "the NSEC/NSEC3 chain is broken (records deleted or edited after signing): re-sign the whole "
            "zone so that the signer rebuilds the chain",
        )
    if found.unsigned or found.bogus:
        detail: list[str] = []
        if found.unsigned:
            detail.append(f"without RRSIG: {_listed(found.unsigned)}")
        if found.bogus:
            detail.append(f"with RRSIGs that do not validate with the zone's DNSKEYs: {_listed(found.bogus)}")
        add(
            severe,
            "dnssec_bogus",
            f"the denial of existence of {zone} is served {'; '.join(detail)}; validators reject it",
            "re-sign the zone with the published keys (the NSEC/NSEC3 records too)",
        )
    if found.expired:
        add(
            severe,
            "rrsig_expired",
            f"the RRSIGs over the NSEC/NSEC3 records of {zone} expired: {_listed(found.expired)}",
            "re-sign the zone and make sure automatic re-signing runs (e.g. dnssec-policy in BIND)",
        )
    if found.future:
        add(
            severe,
            "rrsig_not_yet_valid",
            f"the RRSIGs over the NSEC/NSEC3 records of {zone} are not valid yet (inception in the future): "
            f"{_listed(found.future)}",
            "the signer's clock is ahead (clock skew): fix its time (NTP) and re-sign",
        )
    return out


def _nsec3_parameters(signed: SignedZone, records: list[NSEC3]) -> list[Finding]:
    """DNSSEC03: RFC 9276 asks for 0 extra iterations and no salt."""
    if not records:
        return []
    zone = signed.zone
    iterations = max(int(r.iterations) for r in records)
    salts = sorted({r.salt.hex().upper() for r in records if r.salt})
    out: list[Finding] = []
    hint = (
        "re-sign with NSEC3 iterations 0 and no salt (RFC 9276; BIND: dnssec-policy with "
        "nsec3param iterations 0 optout no salt-length 0;)"
    )
    if iterations > ITERATIONS_INSECURE:
        out.append(
            Finding(
                severity=Verdict.WARNING,
                code="nsec3_iterations_insecure",
                message=f"{zone} uses NSEC3 with {iterations} extra iterations: above 100, RFC 9276 3.2 lets "
                "validators treat the zone as insecure, and BIND, Unbound and Knot Resolver do above their "
                "limits (150 or less), so its answers lose DNSSEC protection; some answer SERVFAIL",
                hint=hint,
            )
        )
    elif iterations > 0:
        out.append(
            Finding(
                severity=Verdict.WARNING,
                code="nsec3_iterations",
                message=f"{zone} uses NSEC3 with {iterations} extra iterations: RFC 9276 asks for 0 (extra "
                "iterations cost every resolver work and protect nothing)",
                hint=hint,
            )
        )
    if salts:
        out.append(
            Finding(
                severity=Verdict.WARNING,
                code="nsec3_salt",
                message=f"{zone} uses NSEC3 with the salt {', '.join(salts)}: RFC 9276 asks for none (a salt "
                "does not stop zone walking and costs resolvers)",
                hint=hint,
            )
        )
    if any(int(r.flags) & 1 for r in records):
        out.append(
            Finding(
                severity=Verdict.OK,
                code="nsec3_opt_out",
                message=f"{zone} uses NSEC3 opt-out: unsigned delegations in it can be added or removed "
                "without proof (fine for a zone of many unsigned delegations, pointless otherwise)",
                hint="sign without opt-out unless the zone holds many unsigned delegations (RFC 9276 3.1)",
            )
        )
    return out


async def check_denial(signed: SignedZone) -> list[Finding]:
    """DNSSEC03, 06, 10 and 13 on every nameserver of `signed` (see the module docstring)."""
    if signed.keys is None:
        return []  # an unsigned zone: nothing to deny or sign
    probe = f"_denial-{secrets.token_hex(4)}.{signed.zone}"
    servers = await _survey(signed, probe)
    findings, good = _unsigned(signed, servers)
    findings += _algorithms(signed, good)
    findings += _denial(signed, good, probe)
    return findings
