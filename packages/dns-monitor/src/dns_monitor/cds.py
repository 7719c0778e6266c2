"""CDS and CDNSKEY (RFC 7344, RFC 8078) on every nameserver: Zonemaster's DNSSEC15-18.

A child publishes CDS/CDNSKEY to tell its parent which DS to publish (or, in the delete form, to
remove it). `ask_all` asks every nameserver address of the zone for CDS, CDNSKEY and DNSKEY,
concurrently (a silent server costs one timeout: its three questions go out at once);
`cds_findings` judges what each served, as Zonemaster's DNSSEC15-18 do, grouping a fault shared by
several nameservers into one finding that lists them. `dns_monitor.keys.check` runs both.
Written by hand for the same reason as `dns_monitor.keys`: dnspython parses, computes DS and
validates signatures, but no library grades a CDS deployment.

Findings:

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
from typing import TYPE_CHECKING, Any, cast

import anyio
from monitor_common.results import Finding, Verdict

from dns_monitor.query import answer

if TYPE_CHECKING:
    import dns.message
    import dns.rrset
    from dns.rdtypes.ANY.DNSKEY import DNSKEY
    from dns.rdtypes.ANY.RRSIG import RRSIG

    from dns_monitor.survey import SignedZone
    from dns_monitor.walk import Walker

__all__ = [
    "Served",
    "ask_all",
    "cds_findings",
    "key_tag",
    "keys_of",
    "records",
    "sigs_of",
    "usable",
]


def keys_of(rrset: dns.rrset.RRset) -> list[DNSKEY]:
    return cast("list[DNSKEY]", list(rrset))  # pyright: ignore[reportUnknownArgumentType]


def sigs_of(rrset: dns.rrset.RRset | None) -> list[RRSIG]:
    if rrset is None:
        return []
    return cast("list[RRSIG]", list(rrset))  # pyright: ignore[reportUnknownArgumentType]


def key_tag(key: DNSKEY) -> int:
    import dns.dnssec

    return dns.dnssec.key_id(key)


@dataclass
class Served:
    """What one nameserver address answered (None: no usable authoritative answer)."""

    label: str  # "ns1.example. (192.0.2.1)"
    cds: dns.message.Message | None = None
    cdnskey: dns.message.Message | None = None
    dnskey: dns.message.Message | None = None


def usable(done_response: dns.message.Message | None) -> dns.message.Message | None:
    import dns.flags
    import dns.rcode

    if done_response is None or done_response.rcode() != dns.rcode.NOERROR:
        return None
    return done_response if done_response.flags & dns.flags.AA else None


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


def records(rrset: dns.rrset.RRset) -> list[Any]:
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


async def ask_all(zone: SignedZone) -> list[Served]:
    """CDS, CDNSKEY and DNSKEY from every nameserver address of the zone, concurrently."""
    walker: Walker = zone.walker
    labels = await _labels(zone)
    servers = [address for address in zone.step.servers if address not in walker.silent]
    served = [Served(labels.get(address, address)) for address in servers]

    async def one(address: str, into: Served) -> None:
        async def ask(rdtype: str) -> None:
            done = await walker.ask(address, zone.zone, rdtype)
            setattr(into, rdtype.lower(), usable(done.response))

        async with anyio.create_task_group() as group:
            for rdtype in ("CDS", "CDNSKEY", "DNSKEY"):
                group.start_soon(ask, rdtype)

    async with anyio.create_task_group() as group:
        for address, into in zip(servers, served, strict=True):
            group.start_soon(one, address, into)
    return served


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
        if key_tag(key) != int(record.key_tag) or int(key.algorithm) != int(record.algorithm):  # pyright: ignore[reportAttributeAccessIssue,reportUnknownArgumentType]
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
        dnskey, dnskey_sigs = answer(server.dnskey, name, "DNSKEY")
        keys = keys_of(dnskey) if dnskey is not None else []
        signing = {int(s.key_tag) for s in sigs_of(dnskey_sigs)}
        present: dict[str, dns.rrset.RRset | None] = {}
        for rdtype, response in (("CDS", server.cds), ("CDNSKEY", server.cdnskey)):
            if response is None:
                continue
            rrset, sigs = answer(response, name, rdtype)
            present[rdtype] = rrset
            sets[rdtype][server.label] = _rdata_texts(rrset)
            if rrset is None:
                continue
            rdatas = records(rrset)
            deletes = [r for r in rdatas if int(r.algorithm) == 0]  # pyright: ignore[reportUnknownArgumentType,reportUnknownMemberType]
            if deletes and len(deletes) < len(rdatas):
                faults.add(
                    "cds_delete_mixed",
                    Verdict.CRITICAL,
                    f"{rdtype} {', '.join(_rdata_texts(rrset))}",
                    server.label,
                )
            elif deletes:
                faults.add("cds_delete", Verdict.OK, f"{rdtype} {_rdata_texts(rrset)[0]}", server.label)
            if not keys and len(deletes) == len(rdatas):
                continue  # a leftover delete request of a zone already unsigned: nothing to match
            if not keys:
                faults.add(
                    "cds_matches_no_dnskey",
                    Verdict.CRITICAL,
                    f"{rdtype} served but no DNSKEY set",
                    server.label,
                )
                continue
            for record in rdatas:  # pyright: ignore[reportUnknownVariableType]
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
                        f"{text} matches key tag {key_tag(key)}, not a zone key",
                        server.label,
                    )
                elif key_tag(key) not in signing:
                    faults.add(
                        "cds_key_not_signing",
                        Verdict.WARNING,
                        f"{text}: key tag {key_tag(key)}",
                        server.label,
                    )
            signers = {int(s.key_tag) for s in sigs_of(sigs)}
            if ds_tags is not None and not signers & ds_tags & {key_tag(k) for k in keys}:
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
                cdnskey_tags = {0 if int(r.algorithm) == 0 else key_tag(r) for r in keys_of(cdnskey)}
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
