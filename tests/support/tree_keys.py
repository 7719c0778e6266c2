"""Fault zones for DS digests, DNSKEY algorithms and sizes, signature windows and CDS/CDNSKEY.

Every zone is signed here with dnssec-keygen and dnssec-signzone (a KSK and a ZSK, ECDSA P-256
unless said) and served by ns1.dns.test and ns2.dns.test (the existing views; the -knot and -nsd
zones by those implementations' two servers), so that only the fault under test differs from
good.test. No address of its own is needed: the fault is in the
zone data. (The block 127.0.24.0/24 is this module's, should a hand-made server be needed.)

    key-sha1.test       the DS at the TLD is SHA-1 only (digest type 1)
    key-rsa1024.test    RSASHA256 keys of 1024 bits
    key-longsig.test    signatures valid for 400 days
    key-nods.test       signed, but the TLD has no DS for it
    key-digest.test     a good SHA-256 DS plus one of the unassigned digest type 99
    key-private.test    an extra DNSKEY of the private algorithm 253 beside the signing keys
    key-cds.test        healthy: CDS and CDNSKEY of the KSK on both servers, signed by it
    key-cdsbad.test     a CDS of a key the zone does not publish (and no CDNSKEY)
    key-cdsonly.test    the CDS of the KSK without its CDNSKEY
    key-cdsdelete.test  the delete form: CDS 0 0 0 00 and CDNSKEY 0 3 0 AA==
    key-cdsdiff.test    ns1 serves CDS and CDNSKEY, ns2 (same keys, same serial) neither
    key-cdsmismatch.test  CDS of the KSK, CDNSKEY of the ZSK, which does not sign the DNSKEY set
    key-cdsunsigned.test  CDS and CDNSKEY without RRSIGs (removed after signing)
    key-cdszsk.test     CDS and CDNSKEY signed by the ZSK only, not by the key the DS names
    key-cds-knot.test, key-cds-nsd.test        healthy CDS/CDNSKEY, served by Knot and by NSD
    key-cdsbad-knot.test, key-cdsbad-nsd.test  a CDS of an unpublished key, served by Knot and NSD

The delete form beside other CDS records (`cds_delete_mixed`) is not in the tree: BIND refuses to
load such a zone ("CDS/CDNSKEY consistency checks failed"); tests/dns_monitor/test_keys_unit.py
judges served answers of that shape instead.
"""

from __future__ import annotations

import subprocess

from support.bind9 import IMPLEMENTATIONS, Bind9, TreePart, zone_text

LONG_WINDOW_DAYS = 400
RSA_BITS = 1024
SERIAL = 2026120601
STRAY = ("dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "-K", "keys")  # a key no zone publishes

# Zonemaster reports these at WARNING or ERROR (the tier in tests/peers/test_zonemaster.py maps
# each of its tags to our findings); key-cdsonly and key-cdsdelete are notices for both tools,
# key-cds is healthy.
ZONEMASTER_FAULTS = [
    "key-sha1.test",
    "key-rsa1024.test",
    "key-longsig.test",
    "key-nods.test",
    "key-digest.test",
    "key-private.test",  # also DNSSEC13: the private algorithm signs nothing (dns_monitor.denial)
    "key-cdsbad.test",
    "key-cdsdiff.test",
    "key-cdsmismatch.test",
    "key-cdsunsigned.test",
    "key-cdszsk.test",
]


def _run(tree: Bind9, *args: str, cwd: str = "") -> str:
    done = subprocess.run(
        list(args), cwd=tree.directory / cwd, capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _keygen(
    tree: Bind9, origin: str, *, algorithm: str = "ECDSAP256SHA256", bits: int = 0
) -> tuple[str, str]:
    """A KSK and a ZSK in keys/; their file names (without .key)."""
    size = ("-b", str(bits)) if bits else ()
    keygen = ("dnssec-keygen", "-q", "-a", algorithm, *size, "-K", "keys")
    ksk = _run(tree, *keygen, "-f", "KSK", origin).strip()
    zsk = _run(tree, *keygen, origin).strip()
    return ksk, zsk


def _sign(
    tree: Bind9,
    name: str,
    origin: str,
    body: str,
    keys: tuple[str, str],
    window: tuple[str, ...] = ("-e", "+2592000"),
    drop: tuple[tuple[str, str], ...] = (),
    ns: tuple[str, str] = ("ns1.dns.test.", "ns2.dns.test."),
) -> None:
    """zones/<name>.db (SOA, NS ns1+ns2, `body`, the keys) signed into zones/<name>.db.signed;
    `drop` names RRSIGs to remove afterwards, as (type covered, key file or "" for every key)."""
    text = zone_text(origin, ns[0], SERIAL, "".join(f"@ NS {name}\n" for name in ns) + body)
    text += "".join(f"$INCLUDE ../keys/{key}.key\n" for key in keys)
    tree.write(name, text)
    _run(
        tree, "dnssec-signzone", "-q", "-O", "full", "-K", "../keys", "-o", origin, *window, "-f", f"{name}.db.signed",
        f"{name}.db", *(f"../keys/{key}" for key in keys), cwd="zones",
    )  # fmt: skip
    if drop:
        signed = tree.directory / "zones" / f"{name}.db.signed"
        kept = [line for line in signed.read_text().splitlines() if not any(_is_sig(line, *d) for d in drop)]
        signed.write_text("\n".join(kept) + "\n")


def _is_sig(line: str, covered: str, key: str) -> bool:
    """Whether a line of `dnssec-signzone -O full` output is an RRSIG over `covered` by `key`."""
    fields = line.split()
    if len(fields) < 11 or fields[3] != "RRSIG" or fields[4] != covered:
        return False
    return not key or fields[10] == str(int(key.rsplit("+", 1)[1]))


def _ds(tree: Bind9, key: str, origin: str, *, digest: str = "-2", record: str = "DS") -> str:
    """The DS (or CDS with record="CDS") of a key, as a line with a relative owner for the TLD
    (or the zone's apex "@" for a CDS)."""
    flags = (digest, "-C") if record == "CDS" else (digest,)
    line = _run(tree, "dnssec-dsfromkey", *flags, f"keys/{key}.key").strip()
    owner = "@" if record == "CDS" else origin.removesuffix(".test.")
    return line.replace(origin, owner, 1)


def _cdnskey(tree: Bind9, key: str) -> str:
    """The CDNSKEY of a key (its DNSKEY rdata) at the apex."""
    for line in (tree.directory / "keys" / f"{key}.key").read_text().splitlines():
        if not line.startswith(";") and " DNSKEY " in line:
            return "@ CDNSKEY " + line.split(" DNSKEY ", 1)[1]
    raise RuntimeError(f"no DNSKEY in keys/{key}.key")


def _zone(name: str, file: str) -> str:
    return f'zone "{name}" {{ type primary; file "zones/{file}"; }};'


def part(tree: Bind9) -> TreePart:
    tld: list[str] = []
    ns1: list[str] = []
    ns2: list[str] = []

    def add(name: str, *, ds: str | None, ns2_file: str | None = None) -> None:
        origin = f"{name}.test."
        tld.extend([f"{name} NS ns1.dns.test.", f"{name} NS ns2.dns.test."])
        if ds is not None:
            tld.append(ds)
        ns1.append(_zone(origin.rstrip("."), f"{name}.db.signed"))
        ns2.append(_zone(origin.rstrip("."), ns2_file or f"{name}.db.signed"))

    www = "www A 192.0.2.124\n"

    keys = _keygen(tree, "key-sha1.test.")
    _sign(tree, "key-sha1", "key-sha1.test.", www, keys)
    add("key-sha1", ds=_ds(tree, keys[0], "key-sha1.test.", digest="-1"))

    keys = _keygen(tree, "key-rsa1024.test.", algorithm="RSASHA256", bits=RSA_BITS)
    _sign(tree, "key-rsa1024", "key-rsa1024.test.", www, keys)
    add("key-rsa1024", ds=_ds(tree, keys[0], "key-rsa1024.test."))

    keys = _keygen(tree, "key-longsig.test.")
    _sign(tree, "key-longsig", "key-longsig.test.", www, keys, ("-e", f"+{LONG_WINDOW_DAYS * 86400}"))
    add("key-longsig", ds=_ds(tree, keys[0], "key-longsig.test."))

    keys = _keygen(tree, "key-nods.test.")
    _sign(tree, "key-nods", "key-nods.test.", www, keys)
    add("key-nods", ds=None)

    keys = _keygen(tree, "key-digest.test.")
    _sign(tree, "key-digest", "key-digest.test.", www, keys)
    good = _ds(tree, keys[0], "key-digest.test.")
    tag, algorithm = good.split()[3:5]
    add("key-digest", ds=good)
    tld.append(f"key-digest DS {tag} {algorithm} 99 {'AB' * 32}")

    keys = _keygen(tree, "key-private.test.")
    private = "@ DNSKEY 256 3 253 B3ByaXZhdGUHZXhhbXBsZQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fIA=="
    _sign(tree, "key-private", "key-private.test.", www + private + "\n", keys)
    add("key-private", ds=_ds(tree, keys[0], "key-private.test."))

    keys = _keygen(tree, "key-cds.test.")
    sync = _ds(tree, keys[0], "key-cds.test.", record="CDS") + "\n" + _cdnskey(tree, keys[0]) + "\n"
    _sign(tree, "key-cds", "key-cds.test.", www + sync, keys)
    add("key-cds", ds=_ds(tree, keys[0], "key-cds.test."))

    keys = _keygen(tree, "key-cdsbad.test.")
    stray = _run(tree, *STRAY, "key-cdsbad.test.")
    _sign(
        tree,
        "key-cdsbad",
        "key-cdsbad.test.",
        www + _ds(tree, stray.strip(), "key-cdsbad.test.", record="CDS"),
        keys,
    )
    add("key-cdsbad", ds=_ds(tree, keys[0], "key-cdsbad.test."))

    keys = _keygen(tree, "key-cdsonly.test.")
    _sign(
        tree,
        "key-cdsonly",
        "key-cdsonly.test.",
        www + _ds(tree, keys[0], "key-cdsonly.test.", record="CDS"),
        keys,
    )
    add("key-cdsonly", ds=_ds(tree, keys[0], "key-cdsonly.test."))

    keys = _keygen(tree, "key-cdsdelete.test.")
    _sign(tree, "key-cdsdelete", "key-cdsdelete.test.", www + "@ CDS 0 0 0 00\n@ CDNSKEY 0 3 0 AA==\n", keys)
    add("key-cdsdelete", ds=_ds(tree, keys[0], "key-cdsdelete.test."))

    # The same keys and serial on both servers; only ns1's copy carries CDS and CDNSKEY.
    keys = _keygen(tree, "key-cdsdiff.test.")
    sync = _ds(tree, keys[0], "key-cdsdiff.test.", record="CDS") + "\n" + _cdnskey(tree, keys[0]) + "\n"
    _sign(tree, "key-cdsdiff", "key-cdsdiff.test.", www + sync, keys)
    _sign(tree, "key-cdsdiff-plain", "key-cdsdiff.test.", www, keys)
    add("key-cdsdiff", ds=_ds(tree, keys[0], "key-cdsdiff.test."), ns2_file="key-cdsdiff-plain.db.signed")

    # CDS of the KSK, CDNSKEY of the ZSK, and the ZSK's signature over the DNSKEY set removed.
    keys = _keygen(tree, "key-cdsmismatch.test.")
    sync = _ds(tree, keys[0], "key-cdsmismatch.test.", record="CDS") + "\n" + _cdnskey(tree, keys[1]) + "\n"
    _sign(tree, "key-cdsmismatch", "key-cdsmismatch.test.", www + sync, keys, drop=(("DNSKEY", keys[1]),))
    add("key-cdsmismatch", ds=_ds(tree, keys[0], "key-cdsmismatch.test."))

    keys = _keygen(tree, "key-cdsunsigned.test.")
    sync = _ds(tree, keys[0], "key-cdsunsigned.test.", record="CDS") + "\n" + _cdnskey(tree, keys[0]) + "\n"
    _sign(
        tree,
        "key-cdsunsigned",
        "key-cdsunsigned.test.",
        www + sync,
        keys,
        drop=(("CDS", ""), ("CDNSKEY", "")),
    )
    add("key-cdsunsigned", ds=_ds(tree, keys[0], "key-cdsunsigned.test."))

    # Signed by the ZSK only: no key the DS names signs the CDS and CDNSKEY sets.
    keys = _keygen(tree, "key-cdszsk.test.")
    sync = _ds(tree, keys[0], "key-cdszsk.test.", record="CDS") + "\n" + _cdnskey(tree, keys[0]) + "\n"
    _sign(
        tree,
        "key-cdszsk",
        "key-cdszsk.test.",
        www + sync,
        keys,
        drop=(("CDS", keys[0]), ("CDNSKEY", keys[0])),
    )
    add("key-cdszsk", ds=_ds(tree, keys[0], "key-cdszsk.test."))

    # Healthy CDS/CDNSKEY and a CDS of an unpublished key, served by Knot and by NSD.
    peer_zones: dict[str, dict[str, str]] = {}
    for impl in ("knot", "nsd"):
        servers = tuple(name for name, _ in IMPLEMENTATIONS[impl].servers)
        assert len(servers) == 2
        for kind in ("cds", "cdsbad"):
            name = f"key-{kind}-{impl}"
            origin = f"{name}.test."
            keys = _keygen(tree, origin)
            signer = keys[0] if kind == "cds" else _run(tree, *STRAY, origin).strip()
            sync = _ds(tree, signer, origin, record="CDS") + "\n"
            if kind == "cds":
                sync += _cdnskey(tree, keys[0]) + "\n"
            _sign(tree, name, origin, www + sync, keys, ns=(servers[0], servers[1]))
            tld.extend([f"{name} NS {servers[0]}", f"{name} NS {servers[1]}", _ds(tree, keys[0], origin)])
            peer_zones.setdefault(impl, {})[origin.rstrip(".")] = f"{name}.db.signed"

    return TreePart(tld=tld, views={"ns1": ns1, "ns2": ns2}, peer_zones=peer_zones)
