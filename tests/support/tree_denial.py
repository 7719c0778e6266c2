"""Zones for denial of existence and signing completeness (DNSSEC03, 06, 10, 13).

Every zone is served by ns1 (127.0.1.1) and ns2 (127.0.2.1), so that the only faults are the
ones named here, and has its DS at the TLD:

    den-nsec3.test        healthy NSEC3 as RFC 9276 asks: 0 extra iterations, no salt
    den-optout.test       NSEC3 with the opt-out flag (a notice, not a fault)
    den-nsec3salt.test    NSEC3 with 10 extra iterations and the salt ABCD (RFC 9276: both 0)
    den-nsec3iter.test    NSEC3 with 200 iterations: validators treat the zone as insecure.
                          dnssec-signzone refuses more than 150 and named refuses to load such
                          a zone, so it is signed here with dnspython and served by NSD
                          (nsd1/nsd2.dns.test, 127.0.13.1 and 127.0.14.1), which loads it
    den-partial.test      signed on ns1, an unsigned copy (no DNSKEY, no RRSIG) on ns2
    den-nsecgap.test      an NSEC chain with gaps: signed with the names _b and wz, which were
                          then deleted with their NSEC records, so the apex NSEC (next _b) and
                          the www NSEC (next wz) cover neither a name below _b nor one after wz
    den-twoalg.test       ECDSAP256SHA256 keys sign everything; an ED25519 key is published in
                          the DNSKEY set but signs nothing (RFC 4035 2.2, RFC 6840 5.11)

The module takes no addresses of its own (its zones sit in the ns1/ns2 views and on NSD); its
block, 127.0.23.0/24, stays free.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.bind9 import Bind9, TreePart, zone_text

ZONEMASTER_FAULTS = ["den-nsec3iter.test", "den-partial.test", "den-nsecgap.test", "den-twoalg.test"]
NS = "@ NS ns1.dns.test.\n@ NS ns2.dns.test.\n"
WWW = "www A 192.0.2.23\nwww AAAA 2001:db8::23\n"
NSD_NS = "@ NS nsd1.dns.test.\n@ NS nsd2.dns.test.\n"
ITERATIONS_HIGH = 200


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


def _signzone(tree: Bind9, name: str, origin: str, *options: str, published: tuple[str, ...] = ()) -> str:
    """Sign zones/<name>.db into zones/<name>.db.signed with a fresh KSK and ZSK and `options`
    (NSEC3 parameters, ...); `published` are key files (relative to the tree) put in the DNSKEY set
    without signing anything. The DS line of the KSK for the TLD."""
    ksk = _keygen(tree, origin, "-f", "KSK")
    zsk = _keygen(tree, origin)
    with (tree.directory / "zones" / f"{name}.db").open("a") as zone_file:
        zone_file.writelines(f"$INCLUDE ../keys/{key}.key\n" for key in (ksk, zsk))
        zone_file.writelines(f"$INCLUDE ../{key}.key\n" for key in published)
    _run(
        tree, "dnssec-signzone", "-q", "-O", "full", "-K", "../keys", "-o", origin, "-e", "+2592000", *options,
        "-f", f"{name}.db.signed", f"{name}.db", ksk, zsk,
        cwd=tree.directory / "zones",
    )  # fmt: skip
    ds = _run(tree, "dnssec-dsfromkey", "-2", f"keys/{ksk}.key")
    return ds.replace(origin, origin.removesuffix(".test."), 1)


def _delete_names(tree: Bind9, name: str, owners: set[str]) -> None:
    """Drop every record (NSEC and RRSIGs included) of `owners` from zones/<name>.db.signed."""
    path = tree.directory / "zones" / f"{name}.db.signed"
    kept = [
        line
        for line in path.read_text().splitlines()
        if line.split(maxsplit=1)[:1] not in [[o] for o in owners]
    ]
    path.write_text("\n".join(kept) + "\n")


def _sign_nsec3_high(tree: Bind9, origin: str, iterations: int) -> str:
    """zones/<origin>signed: a small zone signed with dnspython, NSEC3 with `iterations` (which
    dnssec-signzone refuses above 150). The DS line of its key for the TLD."""
    import time
    import warnings

    from cryptography.utils import CryptographyDeprecationWarning

    with warnings.catch_warnings():  # dnspython's DSA classes name cryptography's deprecated DSA types
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        import dns.dnssec
    import dns.dnssectypes
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset
    import dns.zone
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
    _delete_names(tree, "den-nsecgap", {"_b.den-nsecgap.test.", "wz.den-nsecgap.test."})
    served("den-nsecgap.test", "den-nsecgap.db.signed")

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
            "ns1": [*both, 'zone "den-partial.test" { type primary; file "zones/den-partial.db.signed"; };'],
            "ns2": [*both, 'zone "den-partial.test" { type primary; file "zones/den-partial-plain.db"; };'],
        },
        peer_zones={"nsd": {"den-nsec3iter.test": "den-nsec3iter.test.signed"}},
    )
