"""DNSSEC keys, digests, signature windows and CDS/CDNSKEY: Zonemaster's DNSSEC01, 04, 05, 07, 14-18.

`dnssec.py` walks the chain of trust; this module judges what the chain carries beyond "it
validates". Two entry points:

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
- `cds_cdnskey_incomplete` (ok: a notice): a nameserver serves CDS without CDNSKEY or the reverse.
- `cds_cdnskey_mismatch` (critical): CDS and CDNSKEY name different keys.
- `cds_inconsistent` (critical): the nameservers serve different CDS or CDNSKEY sets.
- `cds_delete` (ok: a notice): the delete form (`CDS 0 0 0 00`, `CDNSKEY 0 3 0 AA==`, RFC 8078)
  asks the parent to remove the DS.
- `cds_delete_mixed` (critical): the delete form beside other records.
- `cds_matches_no_dnskey`: a CDS or CDNSKEY that matches no DNSKEY of the zone (warning), matches
  a key without the zone flag, or is served where no DNSKEY set is (critical).
- `cds_key_not_signing` (warning): the key a CDS/CDNSKEY points to signs no DNSKEY set: a parent
  that followed it would make the zone bogus.
- `cds_signature_invalid` (critical): a CDS/CDNSKEY set with no RRSIG, or one that does not validate
  with the zone's keys: parents ignore it (RFC 7344 4.1).
- `cds_not_signed_by_ds_key` (critical): a CDS/CDNSKEY set that no key named by the current DS set
  signs (RFC 7344 4.1, RFC 8078 3).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import anyio
from monitor_common.results import Finding, Verdict

if TYPE_CHECKING:
    import dns.message
    import dns.rrset
    from dns.rdtypes.ANY.DNSKEY import DNSKEY
    from dns.rdtypes.ANY.RRSIG import RRSIG

    from dns_monitor.dnssec import SignedZone
    from dns_monitor.walk import Walker

__all__ = [
    "DEPRECATED_ALGORITHMS",
    "LONG_WINDOW_S",
    "Served",
    "algorithm_findings",
    "cds_findings",
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


def _keys(rrset: dns.rrset.RRset) -> list[DNSKEY]:
    return cast("list[DNSKEY]", list(rrset))  # pyright: ignore[reportUnknownArgumentType]


def _sigs(rrset: dns.rrset.RRset | None) -> list[RRSIG]:
    if rrset is None:
        return []
    return cast("list[RRSIG]", list(rrset))  # pyright: ignore[reportUnknownArgumentType]


def _tag(key: DNSKEY) -> int:
    import dns.dnssec

    return dns.dnssec.key_id(key)


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
    for key in _keys(keys):
        algorithm = int(key.algorithm)
        tag = _tag(key)
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


@dataclass
class Served:
    """What one nameserver address answered (None: no usable authoritative answer)."""

    label: str  # "ns1.example. (192.0.2.1)"
    cds: dns.message.Message | None = None
    cdnskey: dns.message.Message | None = None
    dnskey: dns.message.Message | None = None


def _usable(done_response: dns.message.Message | None) -> dns.message.Message | None:
    import dns.flags
    import dns.rcode

    if done_response is None or done_response.rcode() != dns.rcode.NOERROR:
        return None
    return done_response if done_response.flags & dns.flags.AA else None


def _answer(
    response: dns.message.Message | None, zone: str, rdtype: str
) -> tuple[dns.rrset.RRset | None, dns.rrset.RRset | None]:
    """(the rrset, its RRSIGs) at the apex in the answer section."""
    import dns.name
    import dns.rdatatype

    if response is None:
        return None, None
    name = dns.name.from_text(zone)
    wanted = dns.rdatatype.from_text(rdtype)
    rrset = next((r for r in response.answer if r.name == name and r.rdtype == wanted), None)
    sigs = next(
        (
            r
            for r in response.answer
            if r.name == name and r.rdtype == dns.rdatatype.RRSIG and r.covers == wanted
        ),
        None,
    )
    return rrset, sigs


class _Faults:
    """Faults seen per nameserver, grouped into one finding per code."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, Verdict, str], list[str]] = {}

    def add(self, code: str, severity: Verdict, detail: str, server: str) -> None:
        servers = self.seen.setdefault((code, severity, detail), [])
        if server not in servers:
            servers.append(server)

    def findings(self, intros: dict[str, tuple[str, str]]) -> list[Finding]:
        by_code: dict[str, list[tuple[Verdict, str, list[str]]]] = {}
        for (code, severity, detail), servers in self.seen.items():
            by_code.setdefault(code, []).append((severity, detail, servers))
        out: list[Finding] = []
        for code, entries in by_code.items():
            intro, hint = intros[code]
            parts = [f"{detail} (on {', '.join(sorted(servers))})" for _, detail, servers in entries]
            out.append(
                Finding(
                    severity=Verdict.worst([severity for severity, _, _ in entries]),
                    code=code,
                    message=f"{intro}: {'; '.join(parts)}",
                    hint=hint,
                )
            )
        return out


def _records(rrset: dns.rrset.RRset) -> list[Any]:
    """The rdatas of `rrset` (CDS and DS share their fields; CDNSKEY and DNSKEY theirs)."""
    return list(rrset)  # pyright: ignore[reportUnknownArgumentType,reportUnknownVariableType]


def _rdata_texts(rrset: dns.rrset.RRset | None) -> list[str]:
    if rrset is None:
        return []
    return sorted(str(r) for r in rrset)  # pyright: ignore[reportUnknownArgumentType,reportUnknownVariableType]


async def _labels(zone: SignedZone) -> dict[str, str]:
    """address -> "name (address)": the parent's glue, else the addresses the walk already
    resolved for the nameserver names (cached by the walker: no new question)."""
    named: dict[str, str] = {}
    for name in zone.step.ns:
        addresses = zone.step.glue.get(name) or await zone.walker.addresses_of(name, 0)
        for address in addresses:
            named.setdefault(address, f"{name} ({address})")
    return named


async def _ask_all(zone: SignedZone) -> list[Served]:
    """CDS, CDNSKEY and DNSKEY from every nameserver address of the zone, concurrently."""
    walker: Walker = zone.walker
    labels = await _labels(zone)
    servers = [address for address in zone.step.servers if address not in walker.silent]
    served = [Served(labels.get(address, address)) for address in servers]

    async def one(address: str, into: Served) -> None:
        async def ask(rdtype: str) -> None:
            done = await walker.ask(address, zone.zone, rdtype)
            setattr(into, rdtype.lower(), _usable(done.response))

        async with anyio.create_task_group() as group:
            for rdtype in ("CDS", "CDNSKEY", "DNSKEY"):
                group.start_soon(ask, rdtype)

    async with anyio.create_task_group() as group:
        for address, into in zip(servers, served, strict=True):
            group.start_soon(one, address, into)
    return served


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


def _cds_matches(zone: str, record: Any, rdtype: str, keys: list[DNSKEY]) -> DNSKEY | None:
    """The DNSKEY a CDS (by key tag, algorithm and digest) or CDNSKEY (by key) points to."""
    import dns.dnssec
    import dns.dnssectypes
    import dns.exception

    for key in keys:
        if rdtype == "CDNSKEY":
            if (
                int(key.algorithm) == int(record.algorithm)
                and key.key == record.key  # pyright: ignore[reportAttributeAccessIssue,reportUnknownMemberType]
                and int(key.protocol) == int(record.protocol)  # pyright: ignore[reportAttributeAccessIssue,reportUnknownArgumentType]
            ):
                return key
            continue
        if _tag(key) != int(record.key_tag) or int(key.algorithm) != int(record.algorithm):  # pyright: ignore[reportAttributeAccessIssue,reportUnknownArgumentType]
            continue
        try:
            made = dns.dnssec.make_ds(
                zone, key, dns.dnssectypes.DSDigest(int(record.digest_type)), validating=True
            )  # pyright: ignore[reportAttributeAccessIssue,reportUnknownArgumentType]
        except (dns.exception.UnsupportedAlgorithm, dns.exception.DeniedByPolicy, ValueError):
            continue
        if made.digest == record.digest:  # pyright: ignore[reportAttributeAccessIssue,reportUnknownMemberType]
            return key
    return None


_INTROS = {
    "cds_cdnskey_incomplete": (
        "nameservers publish only one of CDS and CDNSKEY (RFC 7344 recommends both)",
        "publish CDS and CDNSKEY together (BIND: dnssec-policy, or dnssec-signzone with sync timing on the KSK)",
    ),
    "cds_cdnskey_mismatch": (
        "CDS and CDNSKEY name different keys, so the parent cannot tell which DS to publish",
        "publish CDS and CDNSKEY for the same keys",
    ),
    "cds_inconsistent": (
        "the nameservers serve different CDS/CDNSKEY sets, so the parent's view depends on the server it asks",
        "load the same signed zone on every nameserver (check zone transfers and serials)",
    ),
    "cds_delete": (
        "the zone asks its parent to remove its DS (the delete form of RFC 8078): DNSSEC will be turned off",
        "keep the delete records only while you mean to go unsigned; remove them once the DS is gone",
    ),
    "cds_delete_mixed": (
        "the delete form stands beside other CDS/CDNSKEY records, which RFC 8078 forbids: the parent ignores the set",
        "publish either the delete record alone or the records of the keys, not both",
    ),
    "cds_matches_no_dnskey": (
        "CDS/CDNSKEY records point to no usable DNSKEY of the zone: a parent that followed them would break the chain",
        "publish CDS/CDNSKEY generated from the current KSK (dnssec-dsfromkey -C), or remove them",
    ),
    "cds_key_not_signing": (
        "CDS/CDNSKEY records point to a key that signs no DNSKEY set: a parent that followed them would make the zone bogus",
        "sign the DNSKEY set with that key before publishing its CDS/CDNSKEY",
    ),
    "cds_signature_invalid": (
        "CDS/CDNSKEY sets are not validly signed by the zone's keys, so the parent ignores them (RFC 7344 4.1)",
        "re-sign the zone so the CDS and CDNSKEY sets carry valid RRSIGs",
    ),
    "cds_not_signed_by_ds_key": (
        "CDS/CDNSKEY sets are signed by no key the DS set points to (RFC 7344 4.1, RFC 8078 3)",
        "sign the CDS and CDNSKEY sets with the key the current DS names (the KSK)",
    ),
}


def cds_findings(name: str, served: list[Served], ds_tags: set[int] | None) -> list[Finding]:
    """DNSSEC15-18 over what each nameserver of the zone `name` served; `ds_tags` are the key
    tags of the DS set at the parent (None: no DS)."""
    import dns.dnssec
    import dns.exception
    import dns.name

    faults = _Faults()
    now = time.time()
    sets: dict[str, dict[str, list[str]]] = {"CDS": {}, "CDNSKEY": {}}  # type -> server -> rdata texts
    for server in served:
        dnskey, dnskey_sigs = _answer(server.dnskey, name, "DNSKEY")
        keys = _keys(dnskey) if dnskey is not None else []
        signing = {int(s.key_tag) for s in _sigs(dnskey_sigs)}
        present: dict[str, dns.rrset.RRset | None] = {}
        for rdtype, response in (("CDS", server.cds), ("CDNSKEY", server.cdnskey)):
            if response is None:
                continue
            rrset, sigs = _answer(response, name, rdtype)
            present[rdtype] = rrset
            sets[rdtype][server.label] = _rdata_texts(rrset)
            if rrset is None:
                continue
            records = _records(rrset)
            deletes = [r for r in records if int(r.algorithm) == 0]  # pyright: ignore[reportUnknownArgumentType,reportUnknownMemberType]
            if deletes and len(deletes) < len(records):
                faults.add(
                    "cds_delete_mixed",
                    Verdict.CRITICAL,
                    f"{rdtype} {', '.join(_rdata_texts(rrset))}",
                    server.label,
                )
            elif deletes:
                faults.add("cds_delete", Verdict.OK, f"{rdtype} {_rdata_texts(rrset)[0]}", server.label)
            if not keys and len(deletes) == len(records):
                continue  # a leftover delete request of a zone already unsigned: nothing to match
            if not keys:
                faults.add(
                    "cds_matches_no_dnskey",
                    Verdict.CRITICAL,
                    f"{rdtype} served but no DNSKEY set",
                    server.label,
                )
                continue
            for record in records:  # pyright: ignore[reportUnknownVariableType]
                if int(record.algorithm) == 0:  # pyright: ignore[reportUnknownArgumentType,reportUnknownMemberType]
                    continue
                key = _cds_matches(name, record, rdtype, keys)
                text = f"{rdtype} {record}"
                if key is None:
                    faults.add(
                        "cds_matches_no_dnskey", Verdict.WARNING, f"{text} matches no DNSKEY", server.label
                    )
                elif not int(key.flags) & 0x100:
                    faults.add(
                        "cds_matches_no_dnskey",
                        Verdict.CRITICAL,
                        f"{text} matches key tag {_tag(key)}, not a zone key",
                        server.label,
                    )
                elif _tag(key) not in signing:
                    faults.add(
                        "cds_key_not_signing", Verdict.WARNING, f"{text}: key tag {_tag(key)}", server.label
                    )
            signers = {int(s.key_tag) for s in _sigs(sigs)}
            if ds_tags is not None and not signers & ds_tags & {_tag(k) for k in keys}:
                by = f"key tag(s) {', '.join(map(str, sorted(signers)))}" if signers else "no key"
                faults.add(
                    "cds_not_signed_by_ds_key",
                    Verdict.CRITICAL,
                    f"the {rdtype} set is signed by {by}, the DS names {', '.join(map(str, sorted(ds_tags)))}",
                    server.label,
                )
            if sigs is None or len(sigs) == 0:
                faults.add(
                    "cds_signature_invalid", Verdict.CRITICAL, f"the {rdtype} set has no RRSIG", server.label
                )
                continue
            try:
                dns.dnssec.validate(rrset, sigs, {dns.name.from_text(name): dnskey}, now=now)  # pyright: ignore[reportUnknownMemberType,reportArgumentType]
            except (
                dns.exception.ValidationFailure,
                dns.exception.DeniedByPolicy,
                dns.exception.UnsupportedAlgorithm,
            ) as exc:
                faults.add(
                    "cds_signature_invalid", Verdict.CRITICAL, f"the {rdtype} set: {exc}", server.label
                )
        if "CDS" in present and "CDNSKEY" in present:
            cds, cdnskey = present["CDS"], present["CDNSKEY"]
            if (cds is None) != (cdnskey is None):
                missing = "CDNSKEY" if cdnskey is None else "CDS"
                faults.add(
                    "cds_cdnskey_incomplete",
                    Verdict.OK,
                    f"{'CDS' if missing == 'CDNSKEY' else 'CDNSKEY'} without {missing}",
                    server.label,
                )
            elif cds is not None and cdnskey is not None:
                cds_tags = {0 if int(r.algorithm) == 0 else int(r.key_tag) for r in cds}  # pyright: ignore[reportUnknownMemberType,reportUnknownArgumentType,reportUnknownVariableType]
                cdnskey_tags = {0 if int(r.algorithm) == 0 else _tag(r) for r in _keys(cdnskey)}
                if cds_tags != cdnskey_tags:
                    faults.add(
                        "cds_cdnskey_mismatch",
                        Verdict.CRITICAL,
                        f"CDS for key tag(s) {', '.join(map(str, sorted(cds_tags)))}, CDNSKEY for "
                        f"{', '.join(map(str, sorted(cdnskey_tags)))}",
                        server.label,
                    )
    for rdtype, by_server in sets.items():
        distinct: dict[tuple[str, ...], list[str]] = {}
        for server, texts in by_server.items():
            distinct.setdefault(tuple(texts), []).append(server)
        if len(distinct) > 1:
            for texts, servers in distinct.items():
                shown = f"{rdtype} " + (" + ".join(texts) if texts else "none")
                for server in servers:
                    faults.add("cds_inconsistent", Verdict.CRITICAL, shown, server)
    return faults.findings(_INTROS)


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
        soa[0] = None if done is None else _usable(done.response)

    async def ask_ds() -> None:
        has_ds[0] = await _parent_ds(zone)

    served: list[Served] = []

    async def ask_servers() -> None:
        served.extend(await _ask_all(zone))

    async with anyio.create_task_group() as group:
        group.start_soon(ask_servers)
        group.start_soon(ask_soa)
        if zone.status == "insecure":
            group.start_soon(ask_ds)
    findings: list[Finding] = []
    keys = next(
        (k for s in served for k in [_answer(s.dnskey, zone.zone, "DNSKEY")[0]] if k is not None), None
    )
    sigs = [sig for s in served for sig in _sigs(_answer(s.dnskey, zone.zone, "DNSKEY")[1])]
    sigs += _sigs(_answer(soa[0], zone.zone, "SOA")[1])
    findings += _window_findings(zone.zone, sigs, time.time())
    if zone.status == "insecure" and keys is not None:
        # The chain stopped at the missing DS and never judged these keys.
        findings += algorithm_findings(zone.zone, keys)
        if has_ds[0] is False:
            tags = ", ".join(str(_tag(k)) for k in _keys(keys))
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
    ds_tags = {int(r.key_tag) for r in _records(zone.ds)} if zone.ds is not None else None
    findings += cds_findings(zone.zone, served, ds_tags)
    return findings
