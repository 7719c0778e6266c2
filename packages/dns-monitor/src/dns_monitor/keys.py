"""DNSSEC keys, DS digests and signature windows (Zonemaster's DNSSEC01, 04, 05, 07, 14), and the
entry point of the CDS/CDNSKEY checks (DNSSEC15-18, judged by `dns_monitor.cds`).

`dnssec.py` walks the chain of trust; this module judges what the chain carries beyond "it
validates"; `dns_monitor.cds` judges CDS and CDNSKEY. Two entry points:

1. `digest_findings` and `algorithm_findings` judge one zone's DS set and DNSKEY set; the chain
   (`dnssec._Chain.link`) calls them at every link, so the root and TLD are judged too.
2. `check` is a `dnssec.ZONE_CHECKS` entry, run on the final zone. It asks every nameserver
   address of the zone (concurrently, each at most one timeout: its three questions go out at
   once) for CDS, CDNSKEY and DNSKEY, and one of them for the SOA; for an insecure zone it also
   asks the parent for the DS, to tell "unsigned" from "signed but not secured".

Tables follow RFC 8624 (algorithm and digest requirements) and the IANA registries as
Zonemaster 4.6 reads them (`Zonemaster::Engine::Test::DNSSEC`, `%algo_properties`,
`%digest_algorithms`, `%rsa_key_size_details`); the 180-day window is its `DURATION_LONG` /
`REMAINING_LONG` default. The checks are written here rather than taken from a library because
no maintained Python library judges DNSSEC deployments (dnspython validates, it does not grade);
dnspython does the parsing, key-tag, DS and signature work.

Findings (one per fault, listing the keys and nameservers):

- `deprecated_algorithm`: a DNSKEY algorithm that RFC 8624 says MUST NOT sign (RSAMD5, DSA,
  DSA-NSEC3-SHA1, ECC-GOST: critical, validators treat the zone as unsigned) or is NOT
  RECOMMENDED (RSASHA1, RSASHA1-NSEC3-SHA1, RSASHA512: warning); a DS set whose only digests for a
  key are SHA-1 or GOST (warning); a SHA-1 DS beside a SHA-256 one for the same key (ok: a
  notice, validators use the stronger digest).
- `ds_digest_invalid` (warning): a DS with digest type 0 (not a digest) or an unassigned type;
  validators ignore it.
- `dnskey_algorithm_invalid` (critical): a DNSKEY whose algorithm is reserved, unassigned,
  private (253, 254) or not for zone signing (0, 2, 252).
- `dnskey_too_small`: an RSA key under 2048 bits (warning), or under the algorithm's minimum
  (512 bits, 1024 for RSASHA512: critical).
- `dnskey_too_large` (critical): an RSA key over 4096 bits (RFC 3110 and RFC 5702 stop there).
- `rrsig_validity_too_long` (warning): an RRSIG over the DNSKEY or SOA set valid for more than
  180 days, or with more than 180 days left.
- `dnskey_without_ds` (warning): the zone publishes keys but its parent has no DS: signed, but
  validators treat it as insecure.
- the CDS/CDNSKEY codes: see `dns_monitor.cds`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import anyio
from monitor_common.results import Finding, Verdict

from dns_monitor.cds import Served, ask_all, cds_findings, key_tag, keys_of, records, sigs_of, usable
from dns_monitor.query import answer

if TYPE_CHECKING:
    import dns.message
    import dns.rrset
    from dns.rdtypes.ANY.DNSKEY import DNSKEY
    from dns.rdtypes.ANY.RRSIG import RRSIG

    from dns_monitor.survey import SignedZone

__all__ = [
    "DEPRECATED_ALGORITHMS",
    "LONG_WINDOW_S",
    "algorithm_findings",
    "check",
    "digest_findings",
]

# RFC 8624 section 3.1: MUST NOT sign (validators may not validate them either).
MUST_NOT_ALGORITHMS = {1: "RSAMD5", 3: "DSA", 6: "DSA-NSEC3-SHA1", 12: "ECC-GOST"}
# RFC 8624 section 3.1: NOT RECOMMENDED for signing.
NOT_RECOMMENDED_ALGORITHMS = {5: "RSASHA1", 7: "RSASHA1-NSEC3-SHA1", 10: "RSASHA512"}
DEPRECATED_ALGORITHMS = {**MUST_NOT_ALGORITHMS, **NOT_RECOMMENDED_ALGORITHMS}
# RSA algorithms: (smallest modulus the RFC allows, recommended), bits; 4096 is the RFCs' largest.
RSA_SIZES = {5: (512, 2048), 7: (512, 2048), 8: (512, 2048), 10: (1024, 2048)}
RSA_MAX_BITS = 4096
DIGEST_NAMES = {0: "reserved (0)", 1: "SHA-1", 2: "SHA-256", 3: "GOST R 34.11-94", 4: "SHA-384"}
STRONG_DIGESTS = {2, 4}
WEAK_DIGESTS = {1, 3}  # RFC 8624 section 3.3: MUST NOT be published
LONG_WINDOW_S = 180 * 86400  # Zonemaster's DURATION_LONG and REMAINING_LONG


def _invalid_algorithm(algorithm: int) -> str | None:
    """Why a DNSKEY algorithm number cannot sign a zone, None when it can."""
    if algorithm in (0, 2, 252):
        name = {0: "DELETE", 2: "Diffie-Hellman", 252: "INDIRECT"}[algorithm]
        return f"{algorithm} ({name}) is not for zone signing"
    if algorithm in (253, 254):
        return f"{algorithm} is a private algorithm no public validator implements"
    if 17 <= algorithm <= 122:
        return f"{algorithm} is unassigned"
    if algorithm in (4, 9, 11, 255) or 123 <= algorithm <= 251:
        return f"{algorithm} is reserved"
    return None


def _rsa_bits(key: DNSKEY) -> int | None:
    """The modulus size of an RSA DNSKEY, None when the key material does not parse."""
    import dns.dnssecalgs
    import dns.exception

    try:
        public_cls = dns.dnssecalgs.get_algorithm_cls(int(key.algorithm)).public_cls
        public = public_cls.from_dnskey(key)
    except (ValueError, dns.exception.AlgorithmKeyMismatch, dns.exception.UnsupportedAlgorithm):
        return None
    return int(public.key.key_size)  # pyright: ignore[reportUnknownMemberType,reportUnknownArgumentType,reportAttributeAccessIssue]


def digest_findings(zone: str, ds: list[tuple[int, int, int]]) -> list[Finding]:
    """DNSSEC01: the digest types of a DS set, given as (key tag, algorithm, digest type)."""
    by_key: dict[int, set[int]] = {}
    for tag, _, digest_type in ds:
        by_key.setdefault(tag, set()).add(digest_type)
    findings: list[Finding] = []
    weak_only = sorted(
        tag for tag, types in by_key.items() if types & WEAK_DIGESTS and not types & STRONG_DIGESTS
    )
    beside = sorted(tag for tag, types in by_key.items() if types & WEAK_DIGESTS and types & STRONG_DIGESTS)
    invalid = sorted({(tag, t) for tag, types in by_key.items() for t in types if t == 0 or t > 4})
    if weak_only:
        names = sorted({DIGEST_NAMES[t] for tag in weak_only for t in by_key[tag] & WEAK_DIGESTS})
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="deprecated_algorithm",
                message=f"the DS set for {zone} has only {' and '.join(names)} digests (RFC 8624: must "
                f"not be published) and no SHA-256 one for key tag(s) {', '.join(map(str, weak_only))}",
                hint="publish a DS with SHA-256 (digest type 2, dnssec-dsfromkey -2) at the registrar, "
                "then remove the SHA-1 one",
            )
        )
    if beside:
        findings.append(
            Finding(
                severity=Verdict.OK,
                code="deprecated_algorithm",
                message=f"the DS set for {zone} also holds SHA-1 or GOST digests beside SHA-256 ones for key "
                f"tag(s) {', '.join(map(str, beside))}; validators use the stronger digest",
                hint="remove the SHA-1 DS at the registrar: RFC 8624 says it must not be published",
            )
        )
    if invalid:
        listed = ", ".join(f"key tag {tag} digest type {t}" for tag, t in invalid)
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="ds_digest_invalid",
                message=f"the DS set for {zone} has DS records whose digest type is not an assigned digest "
                f"({listed}): validators ignore them",
                hint="remove them at the registrar and publish a DS with SHA-256 (digest type 2)",
            )
        )
    return findings


def algorithm_findings(zone: str, keys: dns.rrset.RRset) -> list[Finding]:
    """DNSSEC05 and DNSSEC14: the algorithms and the RSA key sizes of a DNSKEY set."""
    findings: list[Finding] = []
    deprecated: dict[int, list[str]] = {}
    invalid: list[str] = []
    small: list[tuple[str, int, int]] = []  # (key text, bits, minimum)
    large: list[str] = []
    for key in keys_of(keys):
        algorithm = int(key.algorithm)
        tag = key_tag(key)
        if algorithm in DEPRECATED_ALGORITHMS:
            deprecated.setdefault(algorithm, []).append(str(tag))
        why = _invalid_algorithm(algorithm)
        if why is not None:
            invalid.append(f"key tag {tag}: algorithm {why}")
        if algorithm in RSA_SIZES:
            bits = _rsa_bits(key)
            minimum, recommended = RSA_SIZES[algorithm]
            if bits is not None and bits < recommended:
                small.append(
                    (
                        f"key tag {tag} ({DEPRECATED_ALGORITHMS.get(algorithm, 'RSASHA256')}, {bits} bits)",
                        bits,
                        minimum,
                    )
                )
            if bits is not None and bits > RSA_MAX_BITS:
                large.append(f"key tag {tag} ({bits} bits)")
    for algorithm, tags in sorted(deprecated.items()):
        must_not = algorithm in MUST_NOT_ALGORITHMS
        findings.append(
            Finding(
                severity=Verdict.CRITICAL if must_not else Verdict.WARNING,
                code="deprecated_algorithm",
                message=f"{zone} has {len(tags)} key(s) with the deprecated algorithm "
                f"{DEPRECATED_ALGORITHMS[algorithm]} ({algorithm}): key tag(s) {', '.join(tags)}"
                + (
                    " (RFC 8624: must not sign; validators may treat the zone as unsigned)"
                    if must_not
                    else ""
                ),
                hint="roll to ECDSAP256SHA256 (13) or ED25519 (15)",
            )
        )
    if invalid:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="dnskey_algorithm_invalid",
                message=f"{zone} publishes DNSKEYs with algorithms no validator can use: {'; '.join(invalid)}",
                hint="remove these keys and sign with ECDSAP256SHA256 (13) or ED25519 (15)",
            )
        )
    if small:
        below_minimum = any(bits < minimum for _, bits, minimum in small)
        findings.append(
            Finding(
                severity=Verdict.CRITICAL if below_minimum else Verdict.WARNING,
                code="dnskey_too_small",
                message=f"{zone} has RSA keys smaller than the recommended 2048 bits: "
                + ", ".join(text for text, _, _ in small),
                hint="roll to 2048-bit RSA keys, or better to ECDSAP256SHA256 (13) or ED25519 (15)",
            )
        )
    if large:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="dnskey_too_large",
                message=f"{zone} has RSA keys larger than 4096 bits, the most RFC 3110 and RFC 5702 allow: "
                + ", ".join(large),
                hint="roll to keys of 2048 to 4096 bits, or to ECDSAP256SHA256 (13)",
            )
        )
    return findings


def _window_findings(zone: str, sigs: list[RRSIG], now: float) -> list[Finding]:
    """DNSSEC04: signatures valid for, or still valid for, more than 180 days."""
    long: dict[tuple[str, int, int], None] = {}
    import dns.rdatatype

    for sig in sigs:
        inception, expiration = int(sig.inception), int(sig.expiration)
        if expiration - inception > LONG_WINDOW_S or expiration - now > LONG_WINDOW_S:
            long[(dns.rdatatype.to_text(sig.type_covered), inception, expiration)] = None
    if not long:
        return []

    def day(ts: int) -> str:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")

    parts = sorted(
        f"{covered} set: {round((expiration - inception) / 86400)} days ({day(inception)} to {day(expiration)}, "
        f"{round((expiration - now) / 86400)} days left)"
        for covered, inception, expiration in long
    )
    return [
        Finding(
            severity=Verdict.WARNING,
            code="rrsig_validity_too_long",
            message=f"RRSIGs of {zone} are valid for more than 180 days: {'; '.join(parts)}; a replayed "
            "old answer (a withdrawn key or record) stays valid that long",
            hint="sign with a validity of a few weeks and re-sign automatically (dnssec-signzone -e +30d, "
            "or dnssec-policy's signatures-validity in BIND)",
        )
    ]


async def _parent_ds(zone: SignedZone) -> bool | None:
    """Whether the parent serves a DS for the zone (None: it did not say)."""
    import dns.name
    import dns.rdatatype

    if zone.ds is not None:
        return True
    if zone.step.parent is None:
        return None
    _, done = await zone.walker.ask_first(zone.step.parent_servers, zone.zone, "DS")
    if done is None or done.response is None:
        return None
    name = dns.name.from_text(zone.zone)
    return any(r.name == name and r.rdtype == dns.rdatatype.DS for r in done.response.answer)


async def check(zone: SignedZone) -> list[Finding]:
    """The `dnssec.ZONE_CHECKS` entry: signature windows, keys of an insecure zone, DNSKEY
    without DS, and CDS/CDNSKEY on every nameserver."""
    walker = zone.walker
    if time.monotonic() >= walker.deadline:
        return []
    soa: list[dns.message.Message | None] = [None]
    has_ds: list[bool | None] = [zone.ds is not None]

    async def ask_soa() -> None:
        # The chain asked the first servers most: the last one's per-host rate limit has room.
        _, done = await walker.ask_first(zone.step.servers[::-1], zone.zone, "SOA")
        soa[0] = None if done is None else usable(done.response)

    async def ask_ds() -> None:
        has_ds[0] = await _parent_ds(zone)

    served: list[Served] = []

    async def ask_servers() -> None:
        served.extend(await ask_all(zone))

    async with anyio.create_task_group() as group:
        group.start_soon(ask_servers)
        group.start_soon(ask_soa)
        if zone.status == "insecure":
            group.start_soon(ask_ds)
    findings: list[Finding] = []
    keys = next(
        (k for s in served for k in [answer(s.dnskey, zone.zone, "DNSKEY")[0]] if k is not None), None
    )
    sigs = [sig for s in served for sig in sigs_of(answer(s.dnskey, zone.zone, "DNSKEY")[1])]
    sigs += sigs_of(answer(soa[0], zone.zone, "SOA")[1])
    findings += _window_findings(zone.zone, sigs, time.time())
    if zone.status == "insecure" and keys is not None:
        # The chain stopped at the missing DS and never judged these keys.
        findings += algorithm_findings(zone.zone, keys)
        if has_ds[0] is False:
            tags = ", ".join(str(key_tag(k)) for k in keys_of(keys))
            findings.append(
                Finding(
                    severity=Verdict.WARNING,
                    code="dnskey_without_ds",
                    message=f"{zone.zone} publishes a DNSKEY set (key tag(s) {tags}) but {zone.step.parent} "
                    "has no DS for it: the zone is signed, yet validators treat it as insecure",
                    hint="publish the DS of the zone's KSK at the registrar (dnssec-dsfromkey -2), or stop "
                    "signing if DNSSEC is not wanted",
                )
            )
    ds_tags = {int(r.key_tag) for r in records(zone.ds)} if zone.ds is not None else None
    findings += cds_findings(zone.zone, served, ds_tags)
    return findings
