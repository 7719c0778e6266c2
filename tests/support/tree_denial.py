"""Zones for denial of existence and signing completeness (DNSSEC03, 06, 10, 13).

Every zone is served by ns1 (127.0.1.1) and ns2 (127.0.2.1), so that the only faults are the
ones named here, and has its DS at the TLD:

    den-nsec3.test        healthy NSEC3 as RFC 9276 asks: 0 extra iterations, no salt
    den-optout.test       NSEC3 with the opt-out flag (a notice, not a fault)
    den-nsec3salt.test    NSEC3 with 10 extra iterations and the salt ABCD (RFC 9276: both 0)
    den-nsec3iter.test    NSEC3 with 200 iterations: validators treat the zone as insecure.
                          dnssec-signzone refuses more than 150, so it is signed here with
                          dnspython; named loads it (logging "excessive NSEC3PARAM iterations
                          200 > 150"), but it is served by NSD (nsd1/nsd2.dns.test, 127.0.13.1
                          and 127.0.14.1) so that the check also runs against a second
                          implementation
    den-partial.test      signed on ns1, an unsigned copy (no DNSKEY, no RRSIG) on ns2
    den-nsecgap.test      an NSEC chain with gaps: signed with the names _b and wz, which were
                          then deleted with their NSEC records, so the apex NSEC (next _b) and
                          the www NSEC (next wz) cover neither a name below _b nor one after wz
    den-nsecnosig.test    NSEC records served without their RRSIGs
    den-nsecbadsig.test   NSEC records whose type bitmaps were changed after signing: their
                          RRSIGs do not validate (the chain still covers every gap)
    den-mixed.test        one zone and one set of keys, signed with NSEC on ns1 and with NSEC3
                          on ns2: the servers disagree on the kind of denial
    den-silent.test       signed on ns1; its other nameserver (x.den-silent.test, 127.0.23.2) never
                          answers: what a dead server costs the checks that ask every server
    den-twoalg.test       ECDSAP256SHA256 keys sign everything; an ED25519 key is published in
                          the DNSKEY set but signs nothing (RFC 4035 2.2, RFC 6840 5.11)

except den-nsecnosig.test and den-nsecbadsig.test, served by a hand-made server (den-ns.test,
127.0.23.1, `_serving`: BIND withholds an NSEC whose RRSIG is missing, so no real server shows
that fault) from the zones signed by dnssec-signzone and then altered; they have one nameserver.
The other zones sit in the ns1/ns2 views and on NSD; 127.0.23.1 and 127.0.23.2 (the silent
server of den-silent.test) are the block's only addresses.
"""

from __future__ import annotations

import subprocess
import time
import warnings
from pathlib import Path

import dns.dnssectypes
import dns.flags
import dns.message
import dns.name
import dns.node
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset
import dns.zone
from cryptography.utils import CryptographyDeprecationWarning

from support.bind9 import Bind9, TreePart, zone_text
from support.dns_server import Handler, Transport

with warnings.catch_warnings():  # dnspython's DSA classes name cryptography's deprecated DSA types
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    import dns.dnssec

ZONEMASTER_FAULTS = [
    "den-nsec3iter.test",
    "den-partial.test",
    "den-nsecgap.test",
    "den-nsecnosig.test",
    "den-nsecbadsig.test",
    "den-mixed.test",
    "den-twoalg.test",
]
NS = "@ NS ns1.dns.test.\n@ NS ns2.dns.test.\n"
WWW = "www A 192.0.2.23\nwww AAAA 2001:db8::23\n"
NSD_NS = "@ NS nsd1.dns.test.\n@ NS nsd2.dns.test.\n"
ITERATIONS_HIGH = 200
CRAFTED = "127.0.23.1"  # den-ns.test: the hand-made server of den-nsecnosig.test and den-nsecbadsig.test
CRAFTED_NS = "den-ns.test."
SILENT = "127.0.23.2"  # x.den-silent.test: never answers
SILENT_ASKED: list[tuple[float, str]] = []  # (monotonic time, "name type") of every question SILENT got


def _run(tree: Bind9, *args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        list(args), cwd=cwd or tree.directory, capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def _keygen(
    tree: Bind9, origin: str, *flags: str, algorithm: str = "ECDSAP256SHA256", into: str = "keys"
) -> str:
    (tree.directory / into).mkdir(exist_ok=True)
    return _run(tree, "dnssec-keygen", "-q", "-a", algorithm, *flags, "-K", into, origin)


def _signzone(
    tree: Bind9,
    name: str,
    origin: str,
    *options: str,
    published: tuple[str, ...] = (),
    also: tuple[tuple[str, tuple[str, ...]], ...] = (),
) -> str:
    """Sign zones/<name>.db into zones/<name>.db.signed with a fresh KSK and ZSK and `options`
    (NSEC3 parameters, ...); `published` are key files (relative to the tree) put in the DNSKEY set
    without signing anything; `also` signs more copies with the same keys, (file, options) each.
    The DS line of the KSK for the TLD."""
    ksk = _keygen(tree, origin, "-f", "KSK")
    zsk = _keygen(tree, origin)
    with (tree.directory / "zones" / f"{name}.db").open("a") as zone_file:
        zone_file.writelines(f"$INCLUDE ../keys/{key}.key\n" for key in (ksk, zsk))
        zone_file.writelines(f"$INCLUDE ../{key}.key\n" for key in published)
    for output, chosen in ((f"{name}.db.signed", options), *also):
        _run(
            tree, "dnssec-signzone", "-q", "-O", "full", "-K", "../keys", "-o", origin, "-e", "+2592000", *chosen,
            "-f", output, f"{name}.db", ksk, zsk,
            cwd=tree.directory / "zones",
        )  # fmt: skip
    ds = _run(tree, "dnssec-dsfromkey", "-2", f"keys/{ksk}.key")
    return ds.replace(origin, origin.removesuffix(".test."), 1)


def _delete(tree: Bind9, name: str, owners: frozenset[str] = frozenset(), covered: str | None = None) -> None:
    """Drop from zones/<name>.db.signed every record of `owners` (NSEC and RRSIGs included), and
    the RRSIGs over the type `covered`."""
    path = tree.directory / "zones" / f"{name}.db.signed"
    kept: list[str] = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if fields and fields[0] in owners:
            continue
        if covered is not None and fields[3:5] == ["RRSIG", covered]:
            continue
        kept.append(line)
    path.write_text("\n".join(kept) + "\n")


def _sign_nsec3_high(tree: Bind9, origin: str, iterations: int) -> str:
    """zones/<origin>signed: a small zone signed with dnspython, NSEC3 with `iterations` (which
    dnssec-signzone refuses above 150). The DS line of its key for the TLD."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    dnskey = dns.dnssec.make_dnskey(key.public_key(), dns.dnssectypes.Algorithm.ECDSAP256SHA256, flags=257)
    apex = dns.name.from_text(origin)
    text = zone_text(origin, "nsd1.dns.test.", 1, NSD_NS + WWW)
    text += f"@ DNSKEY {dnskey.to_text()}\n@ 0 NSEC3PARAM 1 0 {iterations} -\n"
    zone = dns.zone.from_text(text, origin=apex, relativize=False)
    by_hash: dict[str, tuple[dns.name.Name, list[str]]] = {}
    for owner, node in zone.nodes.items():
        types = sorted({dns.rdatatype.to_text(r.rdtype) for r in node.rdatasets} | {"RRSIG"})
        digest = dns.dnssec.nsec3_hash(owner, None, iterations, 1)
        by_hash[digest] = (owner, types)
    hashes = sorted(by_hash)
    nsec3: list[dns.rrset.RRset] = []
    for index, digest in enumerate(hashes):
        following = hashes[(index + 1) % len(hashes)]
        rdata = f"1 0 {iterations} - {following} {' '.join(by_hash[digest][1])}"
        nsec3.append(dns.rrset.from_text(f"{digest}.{origin}", 300, "IN", "NSEC3", rdata))
    now = int(time.time())
    lines: list[str] = []
    rrsets = [
        dns.rrset.from_rdata_list(owner, rdataset.ttl, list(rdataset))  # pyright: ignore[reportUnknownArgumentType]
        for owner, node in zone.nodes.items()
        for rdataset in node.rdatasets
    ]
    for rrset in [*rrsets, *nsec3]:
        signature = dns.dnssec.sign(rrset, key, apex, dnskey, inception=now - 3600, expiration=now + 2592000)
        lines.append(rrset.to_text())
        lines.append(dns.rrset.from_rdata(rrset.name, rrset.ttl, signature).to_text())
    (tree.directory / "zones" / f"{origin}signed").write_text("\n".join(lines) + "\n")
    ds = dns.dnssec.make_ds(apex, dnskey, "SHA256")
    return f"{origin.removesuffix('.test.')} DS {ds.to_text()}"


def _strip_nsec_signatures(zone: dns.zone.Zone) -> None:
    for node in zone.nodes.values():
        node.delete_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.NSEC)


def _alter_nsec(zone: dns.zone.Zone) -> None:
    """Add TXT to the type bitmap of every NSEC after signing: the chain still covers every gap,
    but no RRSIG over an NSEC validates."""
    for owner, node in zone.nodes.items():
        nsec = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NSEC)
        if nsec is None:
            continue
        (record,) = list(nsec)  # pyright: ignore[reportUnknownVariableType,reportUnknownArgumentType]
        text = f"{record.to_text()} TXT"  # pyright: ignore[reportUnknownMemberType]
        altered = dns.rrset.from_text(owner, nsec.ttl, "IN", "NSEC", text)
        node.replace_rdataset(altered.to_rdataset())


def _serving(zones: dict[str, dns.zone.Zone]) -> Handler:
    """Answer from signed `zones` as an authoritative server does with the DO bit: the RRset and
    its RRSIGs, or for NXDOMAIN and NODATA the SOA, the NSEC that covers or matches the name and
    their RRSIGs (whatever of them the zone still holds). REFUSED for other zones."""

    def sigs(node: dns.node.Node, rdtype: dns.rdatatype.RdataType) -> dns.rdataset.Rdataset | None:
        return node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.RRSIG, rdtype)

    def add(
        section: list[dns.rrset.RRset],
        owner: dns.name.Name,
        node: dns.node.Node,
        rdtype: dns.rdatatype.RdataType,
    ) -> None:
        for rdataset in (node.get_rdataset(dns.rdataclass.IN, rdtype), sigs(node, rdtype)):
            if rdataset is not None:
                rrset = dns.rrset.RRset(owner, rdataset.rdclass, rdataset.rdtype, rdataset.covers)
                rrset.update(rdataset)
                section.append(rrset)

    def handle(request: dns.message.Message, transport: Transport) -> dns.message.Message:
        response = dns.message.make_response(request)
        if request.edns > 0:  # RFC 6891 6.1.3: an unknown EDNS version gets BADVERS
            response.use_edns(0)
            response.set_rcode(dns.rcode.BADVERS)
            return response
        question = request.question[0]
        origin = next((o for o in zones if question.name.is_subdomain(dns.name.from_text(o))), None)
        if origin is None:
            response.set_rcode(dns.rcode.REFUSED)
            return response
        response.flags |= dns.flags.AA
        zone = zones[origin]
        apex = dns.name.from_text(origin)
        node = zone.get_node(question.name)
        if node is not None and node.get_rdataset(dns.rdataclass.IN, question.rdtype) is not None:
            add(response.answer, question.name, node, question.rdtype)
            return response
        add(response.authority, apex, zone.nodes[apex], dns.rdatatype.SOA)
        if node is not None:
            add(response.authority, question.name, node, dns.rdatatype.NSEC)
            return response
        response.set_rcode(dns.rcode.NXDOMAIN)
        before = max(name for name in zone.nodes if name < question.name)
        add(response.authority, before, zone.nodes[before], dns.rdatatype.NSEC)
        return response

    return handle


def _silent(request: dns.message.Message, transport: Transport) -> None:
    question = request.question[0]
    SILENT_ASKED.append((time.monotonic(), f"{question.name} {dns.rdatatype.to_text(question.rdtype)}"))


def part(tree: Bind9) -> TreePart:
    zones = tree.directory / "zones"
    tld: list[str] = []
    both: list[str] = []

    def served(name: str, file: str) -> None:
        both.append(f'zone "{name}" {{ type primary; file "zones/{file}"; }};')
        tld.extend(f"{name.removesuffix('.test')} NS {ns}" for ns in ("ns1.dns.test.", "ns2.dns.test."))

    for name, options in (
        ("den-nsec3", ("-3", "-", "-H", "0")),
        ("den-optout", ("-3", "-", "-H", "0", "-A")),
        ("den-nsec3salt", ("-3", "ABCD", "-H", "10")),
    ):
        tree.write(name, zone_text(f"{name}.test.", "ns1.dns.test.", 1, NS + WWW))
        tld.append(_signzone(tree, name, f"{name}.test.", *options))
        served(f"{name}.test", f"{name}.db.signed")

    # Signed on ns1; ns2 serves the zone as it was before signing.
    tree.write("den-partial-plain", zone_text("den-partial.test.", "ns1.dns.test.", 1, NS + WWW))
    tree.write("den-partial", zone_text("den-partial.test.", "ns1.dns.test.", 1, NS + WWW))
    tld.append(_signzone(tree, "den-partial", "den-partial.test."))
    tld.extend(f"den-partial NS {ns}" for ns in ("ns1.dns.test.", "ns2.dns.test."))

    gap = NS + WWW + "_b TXT gone\nwz TXT gone\n"
    tree.write("den-nsecgap", zone_text("den-nsecgap.test.", "ns1.dns.test.", 1, gap))
    tld.append(_signzone(tree, "den-nsecgap", "den-nsecgap.test."))
    _delete(tree, "den-nsecgap", frozenset({"_b.den-nsecgap.test.", "wz.den-nsecgap.test."}))
    served("den-nsecgap.test", "den-nsecgap.db.signed")

    # Served by a hand-made server: BIND withholds NSEC records that lack their RRSIG.
    crafted: dict[str, dns.zone.Zone] = {}
    for name in ("den-nsecnosig", "den-nsecbadsig"):
        tree.write(name, zone_text(f"{name}.test.", CRAFTED_NS, 1, f"@ NS {CRAFTED_NS}\n" + WWW))
        tld.append(_signzone(tree, name, f"{name}.test."))
        tld.append(f"{name} NS {CRAFTED_NS}")
        crafted[f"{name}.test."] = dns.zone.from_file(
            str(zones / f"{name}.db.signed"), origin=f"{name}.test.", relativize=False
        )
    _strip_nsec_signatures(crafted["den-nsecnosig.test."])
    _alter_nsec(crafted["den-nsecbadsig.test."])
    tld.append(f"{CRAFTED_NS.removesuffix('.test.')} A {CRAFTED}")

    # Signed on ns1; its second nameserver never answers (sorted after ns1, so the walk and the
    # chain never ask it: only the checks that ask every server do).
    body = f"@ NS ns1.dns.test.\n@ NS x.den-silent.test.\nx A {SILENT}\n" + WWW
    tree.write("den-silent", zone_text("den-silent.test.", "ns1.dns.test.", 1, body))
    tld.append(_signzone(tree, "den-silent", "den-silent.test."))
    tld += ["den-silent NS ns1.dns.test.", "den-silent NS x.den-silent.test.", f"x.den-silent A {SILENT}"]

    # One zone, one set of keys: signed with NSEC for ns1, with NSEC3 for ns2.
    tree.write("den-mixed", zone_text("den-mixed.test.", "ns1.dns.test.", 1, NS + WWW))
    nsec3_copy = ("den-mixed-nsec3.db.signed", ("-3", "-", "-H", "0"))
    tld.append(_signzone(tree, "den-mixed", "den-mixed.test.", also=(nsec3_copy,)))
    tld.extend(f"den-mixed NS {ns}" for ns in ("ns1.dns.test.", "ns2.dns.test."))

    # The ED25519 key's private half stays out of keys/, so dnssec-signzone cannot sign with it;
    # -P: its own check would refuse a zone where an algorithm of the DNSKEY set signs nothing.
    spare = _keygen(tree, "den-twoalg.test.", algorithm="ED25519", into="keys-den-spare")
    tree.write("den-twoalg", zone_text("den-twoalg.test.", "ns1.dns.test.", 1, NS + WWW))
    tld.append(
        _signzone(tree, "den-twoalg", "den-twoalg.test.", "-P", published=(f"keys-den-spare/{spare}",))
    )
    served("den-twoalg.test", "den-twoalg.db.signed")

    tld.append(_sign_nsec3_high(tree, "den-nsec3iter.test.", ITERATIONS_HIGH))
    tld.extend(f"den-nsec3iter NS {ns}" for ns in ("nsd1.dns.test.", "nsd2.dns.test."))
    assert (zones / "den-nsec3iter.test.signed").exists()
    return TreePart(
        tld=tld,
        views={
            "ns1": [
                *both,
                'zone "den-partial.test" { type primary; file "zones/den-partial.db.signed"; };',
                'zone "den-mixed.test" { type primary; file "zones/den-mixed.db.signed"; };',
                'zone "den-silent.test" { type primary; file "zones/den-silent.db.signed"; };',
            ],
            "ns2": [
                *both,
                'zone "den-partial.test" { type primary; file "zones/den-partial-plain.db"; };',
                'zone "den-mixed.test" { type primary; file "zones/den-mixed-nsec3.db.signed"; };',
            ],
        },
        peer_zones={"nsd": {"den-nsec3iter.test": "den-nsec3iter.test.signed"}},
        crafted={CRAFTED: _serving(crafted), SILENT: _silent},
    )
