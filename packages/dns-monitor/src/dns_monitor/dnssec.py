"""`dnssec_check`: the chain of trust from the trust anchor down to a zone, link by link.

For each zone from the root down: the DS set at the parent (the trust anchor for the root)
must match a key of the zone's DNSKEY set, and that key must sign the DNSKEY set; the DS set
itself must be signed by the parent's keys. At the zone: RRSIGs over SOA, NS, DNSKEY and the
apex A/AAAA are checked now, the earliest expiry is reported, and a query for a name that does
not exist shows whether NSEC or NSEC3 denial is served. The servers are found by walking from
the root hints (`walk.Walker`), so a broken resolver does not hide where the chain breaks.

Findings: `dnssec_bogus`, `ds_mismatch`, `rrsig_expired`, `rrsig_not_yet_valid` (the inception is
in the future: the signer's clock runs ahead; says by how much), `rrsig_expiring`,
`deprecated_algorithm` (one per zone and algorithm, listing the keys; with the DS digest, key
size and algorithm-number findings judged by `dns_monitor.keys` at every link), `dnssec_unsigned`
(ok: informational; left out when `keys` reports `dnskey_without_ds`), `denial_missing`,
`dnssec_unknown` (the servers could not be asked); `monitor_network_unavailable` alone (unknown)
when no server, the root's included, answered and every query failed on this machine (no route
out): the monitor's outage, not the zone's.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, cast

from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_hostname

from dns_monitor.anchors import RootHints, TrustAnchor
from dns_monitor.denial import check_denial
from dns_monitor.keys import DEPRECATED_ALGORITHMS, algorithm_findings, digest_findings
from dns_monitor.keys import check as check_keys
from dns_monitor.models import DnssecLink, DnssecResult
from dns_monitor.query import answer
from dns_monitor.survey import SignedZone, Status
from dns_monitor.walk import Walker, ZoneStep

if TYPE_CHECKING:
    import dns.rrset
    from dns.rdtypes.ANY.DNSKEY import DNSKEY
    from dns.rdtypes.ANY.DS import DS
    from dns.rdtypes.ANY.RRSIG import RRSIG
    from monitor_common.context import CheckContext

__all__ = ["DEPRECATED_ALGORITHMS", "ZONE_CHECKS", "dnssec_check"]


# Run on the final zone of a secure or insecure chain, after its apex is checked; each returns its
# findings, reporting a fault shared by several keys or servers as one finding that lists them.
ZONE_CHECKS: tuple[Callable[[SignedZone], Awaitable[list[Finding]]], ...] = (
    check_denial,
    check_keys,  # DNSSEC04, 07, 15-18 (keys.py)
)


def _keys(rrset: dns.rrset.RRset) -> list[DNSKEY]:
    return cast("list[DNSKEY]", list(rrset))  # pyright: ignore[reportUnknownArgumentType]


def _sigs(rrset: dns.rrset.RRset) -> list[RRSIG]:
    return cast("list[RRSIG]", list(rrset))  # pyright: ignore[reportUnknownArgumentType]


def _ds(rrset: dns.rrset.RRset) -> list[DS]:
    return cast("list[DS]", list(rrset))  # pyright: ignore[reportUnknownArgumentType]


def _load_dnssec() -> None:
    """Import `dns.dnssec` without the CryptographyDeprecationWarning its import raises.

    dnspython's DSA key classes name cryptography's DSA types, which recent cryptography
    releases deprecate with a warning on first access; importing `dns.dnssec` loads them. This
    check does not need DSA (it reports the algorithm as deprecated itself), and the warning
    would reach the server's stderr on the first call, or fail it where warnings are errors.
    """
    import warnings

    from cryptography.utils import CryptographyDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        import dns.dnssec  # noqa: F401  # pyright: ignore[reportUnusedImport]


def _duration(seconds: float) -> str:
    """`seconds` as a person reads it: 45 s, 12 min, 2 h 5 min, 3 d 4 h."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        hours, minutes = divmod(seconds // 60, 60)
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(seconds // 3600, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _key_text(key: DNSKEY) -> str:
    import dns.dnssec

    return f"{dns.dnssec.key_id(key)} alg {int(key.algorithm)} flags {int(key.flags)}"


class _Chain:
    def __init__(self, walker: Walker, anchors: list[TrustAnchor], warn_days: float) -> None:
        self.walker = walker
        self.anchors = anchors
        self.warn_days = warn_days
        self.findings: list[Finding] = []
        self.links: list[DnssecLink] = []
        self.algorithms: set[str] = set()
        self.earliest: float | None = None
        self.ds_sets: dict[str, dns.rrset.RRset] = {}  # zone -> the DS set its parent serves
        self.served_keys: dict[str, dns.rrset.RRset] = {}  # zone -> the DNSKEY set it serves

    def add(self, severity: Verdict, code: str, message: str, hint: str | None = None) -> None:
        self.findings.append(Finding(severity=severity, code=code, message=message, hint=hint))

    def check_sigs(
        self,
        zone: str,
        label: str,
        rrset: dns.rrset.RRset,
        sigs: dns.rrset.RRset | None,
        keys: dns.rrset.RRset,
    ) -> bool:
        """Validate `rrset` with `keys` now; record expiry; findings for what fails."""
        import dns.dnssec
        import dns.exception
        import dns.name

        now = time.time()
        if sigs is None or len(sigs) == 0:
            self.add(Verdict.CRITICAL, "dnssec_bogus", f"{label} of {zone} has no RRSIG", "re-sign the zone")
            return False
        expirations = [int(s.expiration) for s in _sigs(sigs)]
        if max(expirations) < now:
            when = datetime.fromtimestamp(max(expirations), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.add(
                Verdict.CRITICAL,
                "rrsig_expired",
                f"the RRSIGs over {label} of {zone} expired at {when}",
                "re-sign the zone and make sure automatic re-signing runs (e.g. dnssec-policy in BIND)",
            )
            return False
        if not any(int(s.inception) <= now <= int(s.expiration) for s in _sigs(sigs)):
            inception = min(int(s.inception) for s in _sigs(sigs) if int(s.inception) > now)
            when = datetime.fromtimestamp(inception, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.add(
                Verdict.CRITICAL,
                "rrsig_not_yet_valid",
                f"the RRSIGs over {label} of {zone} are not valid yet: their inception is {when}, "
                f"{_duration(inception - now)} in the future, so validators reject them until then",
                "the signer's clock is ahead (clock skew): fix its time (NTP) and re-sign, or sign "
                "with an inception in the past (BIND signs an hour back by default)",
            )
            return False
        valid_until = max(e for e in expirations if e >= now)
        self.earliest = valid_until if self.earliest is None else min(self.earliest, valid_until)
        try:
            dns.dnssec.validate(rrset, sigs, {dns.name.from_text(zone): keys}, now=now)  # pyright: ignore[reportUnknownMemberType]
        except (
            dns.exception.ValidationFailure,
            dns.exception.DeniedByPolicy,
            dns.exception.UnsupportedAlgorithm,
        ) as exc:
            self.add(
                Verdict.CRITICAL,
                "dnssec_bogus",
                f"the RRSIGs over {label} of {zone} do not validate with its DNSKEYs ({exc})",
                "re-sign the zone with the published keys",
            )
            return False
        return True

    def _group(self, start: int) -> None:
        """Merge the findings added since `start` that share a code into one, listing them: the
        same fault over several RRsets of a zone is one finding, not one per RRset."""
        added = self.findings[start:]
        del self.findings[start:]
        by_code: dict[str, list[Finding]] = {}
        for finding in added:
            by_code.setdefault(finding.code, []).append(finding)
        for same in by_code.values():
            if len(same) == 1:
                self.findings.append(same[0])
                continue
            self.findings.append(
                Finding(
                    severity=Verdict.worst([f.severity for f in same]),
                    code=same[0].code,
                    message=f"{len(same)} RRsets: " + "; ".join(f.message for f in same),
                    hint=same[0].hint,
                )
            )

    async def link(
        self, step: ZoneStep, parent_keys: dns.rrset.RRset | None, final: bool
    ) -> tuple[Status, dns.rrset.RRset | None]:
        """Check one zone; its status and its (trusted) DNSKEY set."""
        import dns.dnssec
        import dns.dnssectypes
        import dns.exception
        import dns.rrset

        zone = step.zone
        link = DnssecLink(zone=zone, status="unknown")
        self.links.append(link)
        # The DS set: the trust anchor for the root, else asked of the parent's servers.
        ds_texts: list[tuple[int, int, int, str]] = []
        if step.parent is None:
            ds_texts = [
                (a.key_tag, a.algorithm, a.digest_type, a.digest) for a in self.anchors if a.zone == zone
            ]
        else:
            _, done = await self.walker.ask_first(step.parent_servers, zone, "DS")
            if done is None or done.response is None:
                link.detail = f"the servers of {step.parent} did not answer for the DS of {zone}"
                self.add(Verdict.UNKNOWN, "dnssec_unknown", link.detail)
                return "unknown", None
            ds, ds_sigs = answer(done.response, zone, "DS")
            if ds is None:
                link.status = "insecure"
                link.detail = f"{step.parent} has no DS for {zone}: the delegation is unsigned"
                return "insecure", None
            if parent_keys is not None and not self.check_sigs(
                step.parent, f"the DS of {zone}", ds, ds_sigs, parent_keys
            ):
                link.status = "bogus"
                return "bogus", None
            self.ds_sets[zone] = ds
            ds_texts = [(d.key_tag, int(d.algorithm), d.digest_type, d.digest.hex().upper()) for d in _ds(ds)]
        link.ds = [f"{t} alg {a} digest {d}" for t, a, d, _ in ds_texts]
        self.findings += digest_findings(zone, [(t, a, d) for t, a, d, _ in ds_texts])
        _, done = await self.walker.ask_first(step.servers, zone, "DNSKEY")
        if done is None or done.response is None:
            link.detail = f"no server of {zone} answered for its DNSKEY set"
            self.add(Verdict.UNKNOWN, "dnssec_unknown", link.detail)
            return "unknown", None
        keys, key_sigs = answer(done.response, zone, "DNSKEY")
        if keys is None:
            link.status = "bogus"
            link.detail = f"{zone} has a DS at its parent but serves no DNSKEY"
            self.add(
                Verdict.CRITICAL,
                "dnssec_bogus",
                link.detail,
                "publish the keys or remove the DS at the registrar",
            )
            return "bogus", None
        self.served_keys[zone] = keys
        link.dnskeys = [_key_text(k) for k in _keys(keys)]
        for key in _keys(keys):
            self.algorithms.add(dns.dnssec.algorithm_to_text(int(key.algorithm)))
        self.findings += algorithm_findings(zone, keys)
        matched = dns.rrset.RRset(keys.name, keys.rdclass, keys.rdtype)
        for key in _keys(keys):
            for tag, algorithm, digest_type, digest in ds_texts:
                if dns.dnssec.key_id(key) != tag or int(key.algorithm) != algorithm:
                    continue
                try:
                    # validating: a SHA-1 DS still validates (RFC 8624: MUST), though it is judged deprecated
                    made = dns.dnssec.make_ds(
                        zone, key, dns.dnssectypes.DSDigest(digest_type), validating=True
                    )
                except (dns.exception.UnsupportedAlgorithm, dns.exception.DeniedByPolicy, ValueError):
                    continue
                if made.digest.hex().upper() == digest:
                    matched.add(key)
        if len(matched) == 0:
            link.status = "bogus"
            link.detail = f"no DNSKEY of {zone} matches the DS at {step.parent or 'the trust anchor'} ({', '.join(link.ds)})"
            self.add(
                Verdict.CRITICAL,
                "ds_mismatch",
                link.detail,
                "publish the DS of the current KSK at the registrar (dnssec-dsfromkey), or put the old key back",
            )
            return "bogus", None
        if not self.check_sigs(zone, "the DNSKEY set", keys, key_sigs, matched):
            link.status = "bogus"
            return "bogus", None
        link.status = "secure"
        return "secure", keys

    async def apex(
        self, step: ZoneStep, keys: dns.rrset.RRset
    ) -> tuple[bool, Literal["nsec", "nsec3"] | None]:
        """RRSIGs over SOA, NS and the apex addresses; and the denial of existence served."""
        import dns.rdatatype

        zone = step.zone
        ok = True
        before = len(self.findings)
        for rdtype in ("SOA", "NS", "A", "AAAA"):
            _, done = await self.walker.ask_first(step.servers, zone, rdtype)
            if done is None or done.response is None:
                continue
            rrset, sigs = answer(done.response, zone, rdtype)
            if rrset is None:
                continue
            ok = self.check_sigs(zone, f"the {rdtype} set", rrset, sigs, keys) and ok
        self._group(before)
        probe = f"_dnssec-check-{secrets.token_hex(4)}.{zone}"
        _, done = await self.walker.ask_first(step.servers, probe, "A")
        denial: Literal["nsec", "nsec3"] | None = None
        if done is not None and done.response is not None:
            types = {r.rdtype for r in done.response.authority}
            denial = (
                "nsec3" if dns.rdatatype.NSEC3 in types else "nsec" if dns.rdatatype.NSEC in types else None
            )
            if denial is None:
                self.add(
                    Verdict.CRITICAL,
                    "denial_missing",
                    f"{zone} answers a name that does not exist without NSEC or NSEC3 records: "
                    "validating resolvers cannot accept that NXDOMAIN and answer SERVFAIL instead",
                    "the zone is not fully signed: re-sign it with NSEC or NSEC3",
                )
        return ok, denial


async def dnssec_check(
    domain: str,
    ctx: CheckContext,
    *,
    hints: RootHints,
    anchors: list[TrustAnchor],
    warn_days: float = 7,
    timeout_s: float = 10.0,
    port: int = 53,
) -> DnssecResult:
    """The chain of trust from `anchors` to the zone holding `domain`, walked from `hints`.

    Every nameserver address found on the way passes the context's policy, and every query
    its rate limit. `port` is 53 except in tests.
    """
    started = Stopwatch()
    _load_dnssec()
    name = parse_hostname(domain).rstrip(".") + "."
    walker = Walker(hints, ctx, deadline=time.monotonic() + timeout_s, port=port)
    walk = await walker.iterate(name, "SOA")
    if walker.reach.offline:
        return DnssecResult.build(
            summary=f"unknown: DNSSEC for {name} not checked: the monitor has no working network",
            findings=[walker.reach.finding(f"the chain of trust of {name}")],
            started=started,
            domain=name,
            status="unknown",
        )
    chain = _Chain(walker, anchors, warn_days)
    status: Status = "unknown"
    broken: str | None = None
    denial: Literal["nsec", "nsec3"] | None = None
    if walk.response is None:
        chain.add(Verdict.UNKNOWN, "dnssec_unknown", f"could not reach the servers of {name}: {walk.problem}")
    else:
        keys: dns.rrset.RRset | None = None
        for index, step in enumerate(walk.steps):
            status, keys = await chain.link(step, keys, final=index == len(walk.steps) - 1)
            if status != "secure":
                broken = step.zone if status in ("bogus", "unknown") else None
                break
        if status == "secure" and keys is not None:
            ok, denial = await chain.apex(walk.steps[-1], keys)
            if not ok:
                status, broken = "bogus", walk.steps[-1].zone
        final = walk.steps[-1] if walk.steps else None
        if final is not None and status in ("secure", "insecure"):
            signed = SignedZone(
                zone=final.zone,
                status=status,
                step=final,
                walker=walker,
                keys=keys if status == "secure" else chain.served_keys.get(final.zone),
                ds=chain.ds_sets.get(final.zone),
                denial=denial,
                warn_days=warn_days,
            )
            for check in ZONE_CHECKS:
                chain.findings.extend(await check(signed))
        if status == "insecure" and not any(f.code == "dnskey_without_ds" for f in chain.findings):
            chain.add(
                Verdict.OK,
                "dnssec_unsigned",
                f"{walk.steps[-1].zone} is not signed (no DS at its parent)",
                "sign the zone and publish its DS at the registrar to protect it against spoofing",
            )
    for note in walker.notes:
        chain.add(Verdict.WARNING, "nameserver_not_asked", note)
    earliest = None
    days = None
    if chain.earliest is not None:
        earliest = datetime.fromtimestamp(chain.earliest, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        days = round((chain.earliest - time.time()) / 86400, 2)
        if status == "secure" and days < warn_days:
            chain.add(
                Verdict.WARNING,
                "rrsig_expiring",
                f"an RRSIG of the chain expires in {days:g} days ({earliest})",
                "check that the signer re-signs the zone automatically",
            )
    if status == "bogus" and not any(
        f.code in ("dnssec_bogus", "ds_mismatch", "rrsig_expired", "rrsig_not_yet_valid")
        for f in chain.findings
    ):
        chain.add(Verdict.CRITICAL, "dnssec_bogus", f"the chain of trust breaks at {broken}")
    zone = walk.steps[-1].zone if walk.steps else name
    summary = {
        "secure": f"{zone} is signed and the chain of trust validates",
        "insecure": f"{zone} is not signed",
        "bogus": f"DNSSEC for {zone} is broken at {broken}: validating resolvers answer SERVFAIL",
        "unknown": f"DNSSEC for {zone} could not be checked",
    }[status]
    verdict = Verdict.worst([f.severity for f in chain.findings])
    return DnssecResult.build(
        summary=f"{verdict.value}: {summary}",
        findings=chain.findings,
        started=started,
        domain=name,
        status=status,
        broken_link=broken,
        chain=chain.links,
        algorithms=sorted(chain.algorithms),
        earliest_rrsig_expiry=earliest,
        days_until_rrsig_expiry=days,
        denial=denial,
    )
