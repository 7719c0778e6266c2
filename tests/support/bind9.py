"""A local DNS hierarchy served by one real BIND9 `named` on loopback addresses, port 53.

One `named` process answers differently per destination address (views with
`match-destinations`), so one start-up gives a whole tree:

    127.0.0.10   a.root-servers.test   the root zone ".", signed
    127.0.0.11   ns1.nic.test          the TLD "test.", signed
    127.0.1.1    ns1.dns.test          good.test (signed), serial.test (serial 1), lame.test,
                                       expired.test, badds.test, 2.0.192.in-addr.arpa
    127.0.2.1    ns2.dns.test          good.test (signed), serial.test (serial 2, other address),
                                       2.0.192.in-addr.arpa
    127.0.5.1    ns3.dns.test          nothing: the lame server of lame.test (answers REFUSED)
    127.0.3.1    resolver (ns5.dns.test) recursive for 127.0.0.0/8 only, hints = the local root,
                                       DNSSEC validation against the local root's key; no forwarders
    127.0.4.1    stale                 an old copy of good.test (www at another address)
    127.0.6.1    ns4.dns.test          a UDP-only relay to ns1 (no TCP), run by this module
    127.0.7.1    ns6.dns.test          nothing listens: the dead second nameserver of deadns.test
    127.0.8.1    ns7.dns.test          a hand-made server (support.dns_server) for zones named-checkzone
                                       refuses to load: apexcname.test (a CNAME at the apex beside
                                       SOA and NS) and apexonly.test (a CNAME instead of them)

The stale server is also ns8.dns.test, the second lame server of lame2.test (NS ns1, ns3, ns8).
ns1 serves loop.test (a -> b -> c -> a, a CNAME chain that loops) and future.test (signed with
an inception two hours in the future: a signer whose clock runs ahead) and fivefault.test, the
benchmark's zone with five faults (bench/dns_audit.py): ns3 lame, ns4 without TCP, ns6 dead and
only at the parent (NS sets differ), and RRSIGs that expired in 2020; and staleapex.test, whose
DNSKEY set is signed now but whose SOA, NS, A and AAAA signatures expired in 2020.

ns1 also serves oldalg.test (signed with the deprecated RSASHA1), gluebad.test (also on ns2; the
glue at the TLD differs from the zone's address), the resolver serves openrec.test (open
recursion on an authoritative server), and ns1 serves notcp.test (NS ns1 and ns4) and noglue.test (NS ns1.dns.test and
ns1.noglue.test, for which the TLD has no glue), deadns.test (NS ns1 and the dead ns6), bulk.test (2000 names, for bench/dns_bulk.py),
and the mail zones mail.test (healthy SPF, DMARC, DKIM, MTA-STS, TLS-RPT, BIMI), spam.test
(SPF with 11 lookups, DMARC p=none, an MX that is a CNAME and one without address, MTA-STS
not covering the MX) and nomail.test (null MX). Their mta-sts hosts resolve to 127.0.0.1.

The two nameservers sit in different /24s so that a healthy zone is healthy. Zones are signed
with dnssec-keygen/dnssec-signzone (ECDSA P-256); `expired.test` carries RRSIGs that expired in
2020 and `badds.test` a DS at the parent that matches none of its keys. `root_hints` and
`trust_anchors` are files for the engines (the local root in place of the real one).

Three implementations: for each of bind9, knot and nsd (`IMPLEMENTATIONS`), the zones
good-IMPL.test (signed, DS at the TLD, on the implementation's two servers), nsdiff-IMPL.test (the
parent lists both servers, the zone only the first) and lame-IMPL.test (served by ns1, also
delegated to a server of IMPL that does not serve it). BIND9's servers are ns1 and ns2 (and ns3 the
lame one); Knot's and NSD's are started by support.authoritative on 127.0.11.1/127.0.12.1 and
127.0.13.1/127.0.14.1. An implementation that is not installed is left out (`unavailable`).

More fault zones come from the modules `tests/support/tree_*.py`, each with a function
`part(tree: Bind9) -> TreePart` that writes its zone files (with `tree.write`, `tree.sign`,
`zone_text`) and says what the tree gains: lines of the TLD zone (and of the root zone, for reverse zones), zone statements for existing
views ("ns1", "ns2", ...), whole new views on addresses of their own, hand-made servers
(`support.dns_server` handlers) on addresses of their own, and zones for Knot or NSD. A module
takes a block of addresses no other uses (127.0.20.0/24 upwards, one /24 per module) and says in
its docstring which zones it adds and why each is a fault.

`Bind9.start()` raises `Bind9Unavailable` when named or the DNSSEC tools are not installed.
"""

from __future__ import annotations

import importlib
import pkgutil
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import dns.message

import support
from support.authoritative import Authoritative, Knot, Nsd, ServerUnavailable
from support.dns_server import DNSServer, Handler

__all__ = [
    "ADDRESSES",
    "CRAFTED",
    "DEAD_NS",
    "IMPLEMENTATIONS",
    "UDP_ONLY",
    "Bind9",
    "Bind9Unavailable",
    "Implementation",
    "TreePart",
    "dig",
    "part_modules",
    "zone_text",
]

ADDRESSES = {
    "root": "127.0.0.10",
    "tld": "127.0.0.11",
    "ns1": "127.0.1.1",
    "ns2": "127.0.2.1",
    "ns3": "127.0.5.1",
    "resolver": "127.0.3.1",
    "stale": "127.0.4.1",
}
LOCK_PATH = Path(tempfile.gettempdir()) / "mcp-monitor-bind9.lock"
BULK_NAMES = 2000  # host0000.bulk.test ... host1999.bulk.test, for the benchmark
UDP_ONLY = "127.0.6.1"  # ns4.dns.test: a UDP relay to ns1 with no TCP listener (not named)
DEAD_NS = "127.0.7.1"  # ns6.dns.test: a closed port 53 on loopback, where nothing ever listens
CRAFTED = "127.0.8.1"  # ns7.dns.test: answers for the zones BIND refuses to load (see _crafted)


@dataclass(frozen=True)
class Implementation:
    """The servers of one implementation in the tree: names and addresses, and the server of
    that implementation that serves none of its lame-IMPL.test."""

    name: str
    servers: tuple[tuple[str, str], tuple[str, str]]  # ((ns name, address), ...)
    lame: tuple[str, str]


IMPLEMENTATIONS = {
    "bind9": Implementation(
        "bind9",
        (("ns1.dns.test.", "127.0.1.1"), ("ns2.dns.test.", "127.0.2.1")),
        ("ns3.dns.test.", "127.0.5.1"),
    ),
    "knot": Implementation(
        "knot",
        (("knot1.dns.test.", "127.0.11.1"), ("knot2.dns.test.", "127.0.12.1")),
        ("knot1.dns.test.", "127.0.11.1"),
    ),
    "nsd": Implementation(
        "nsd",
        (("nsd1.dns.test.", "127.0.13.1"), ("nsd2.dns.test.", "127.0.14.1")),
        ("nsd1.dns.test.", "127.0.13.1"),
    ),
}
FUTURE_INCEPTION_S = 7200  # future.test's signatures become valid this long after the tree is built
GOOD_WWW = "192.0.2.10"
STALE_WWW = "192.0.2.99"
TOOLS = ("named", "dnssec-keygen", "dnssec-signzone", "dnssec-dsfromkey", "dig")

# Zonemaster's ZONE02-06 timers, and a contact whose domain takes mail (SYNTAX06): good.test's MX.
_SOA = "@ 300 IN SOA {mname} hostmaster.good.test. {serial} 14400 3600 604800 300"


@dataclass
class TreePart:
    """What one `tests/support/tree_*.py` module adds to the tree (see the module docstring)."""

    tld: list[str] = field(default_factory=lambda: list[str]())  # lines of the test. zone
    root: list[str] = field(default_factory=lambda: list[str]())  # lines of the root zone (reverse zones)
    views: dict[str, list[str]] = field(
        default_factory=lambda: dict[str, list[str]]()
    )  # view -> zone statements
    new_views: list[str] = field(default_factory=lambda: list[str]())  # whole `view "x" {...};` texts
    addresses: list[str] = field(default_factory=lambda: list[str]())  # named listens here too
    crafted: dict[str, Handler] = field(default_factory=lambda: dict[str, Handler]())  # address -> handler
    peer_zones: dict[str, dict[str, str]] = field(
        default_factory=lambda: dict[str, dict[str, str]]()
    )  # "knot"/"nsd" -> {zone: file}


def part_modules() -> list[str]:
    """The names of the `support.tree_*` modules, sorted."""
    return sorted(
        f"support.{m.name}" for m in pkgutil.iter_modules(support.__path__) if m.name.startswith("tree_")
    )


class Bind9Unavailable(RuntimeError):
    """named or one of the DNSSEC tools is not installed."""


def _crafted(request: dns.message.Message, transport: object) -> dns.message.Message:
    """ns7.dns.test: the answers of a server holding a CNAME at a zone apex.

    apexcname.test has SOA, NS and a CNAME at its apex (some database-backed servers accept
    that); apexonly.test has only a CNAME there. Each question at the apex is answered from what
    the apex holds, the CNAME for any type it lacks; anything else is REFUSED.
    """
    import dns.flags
    import dns.message
    import dns.rcode
    import dns.rdatatype
    import dns.rrset

    response = dns.message.make_response(request)
    question = request.question[0]
    owner, rdtype = question.name.to_text().lower(), question.rdtype
    if owner not in ("apexcname.test.", "apexonly.test."):
        response.set_rcode(dns.rcode.REFUSED)
        return response
    response.flags |= dns.flags.AA
    held = {dns.rdatatype.CNAME: "www.good.test."}
    if owner == "apexcname.test.":
        held[dns.rdatatype.SOA] = "ns7.dns.test. hostmaster.apexcname.test. 1 14400 3600 604800 300"
        held[dns.rdatatype.NS] = "ns7.dns.test."
    chosen = rdtype if rdtype in held else dns.rdatatype.CNAME
    response.answer.append(dns.rrset.from_text(owner, 300, "IN", chosen, held[chosen]))
    return response


def zone_text(origin: str, mname: str, serial: int, body: str) -> str:
    """A zone file: $ORIGIN, $TTL 300, an SOA with Zonemaster's recommended timers, then `body`."""
    head = f"$ORIGIN {origin}\n$TTL 300\n" + _SOA.format(mname=mname, origin=origin, serial=serial) + "\n"
    return head + body.strip() + "\n"


def _txt(text: str) -> str:
    """TXT rdata in zone-file form, split into strings of at most 255 bytes."""
    return " ".join(f'"{text[i : i + 255]}"' for i in range(0, len(text), 255))


def _dkim_key(bits: int) -> str:
    """The base64 DER public key of a fresh RSA key, as a DKIM record's p= carries it."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    public = rsa.generate_private_key(public_exponent=65537, key_size=bits).public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def _run(*args: str, cwd: Path) -> str:
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, check=False, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def dig(*args: str) -> str:
    """`dig` output (the tool the answers are cross-checked against)."""
    return subprocess.run(["dig", *args], capture_output=True, text=True, check=True, timeout=20).stdout


def _rcode(address: str, port: int, qname: str) -> int | None:
    """The rcode of a non-recursive SOA query for `qname` to address:port, None without answer."""
    import dns.exception
    import dns.message
    import dns.query

    try:
        return dns.query.udp(dns.message.make_query(qname, "SOA"), address, port=port, timeout=0.2).rcode()
    except (dns.exception.DNSException, OSError):
        return None


def _answers(address: str, port: int) -> bool:
    """Whether anything answers a DNS query on address:port within 0.2 s."""
    query = bytes.fromhex("abcd01000001000000000000") + b"\x00\x00\x06\x00\x01"  # ". SOA"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        try:
            sock.sendto(query, (address, port))
            sock.recv(512)
        except OSError:
            return False
    return True


@dataclass
class Bind9:
    """The hierarchy above, written to a temporary directory and served by one named."""

    port: int = 53
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bind9-")))
    process: subprocess.Popen[bytes] | None = None
    root_ds: str = ""
    added: list[str] = field(default_factory=lambda: list[str]())
    _stopping: threading.Event = field(default_factory=threading.Event)
    _relay_socket: socket.socket | None = None
    _relay_thread: threading.Thread | None = None
    _crafted_server: DNSServer | None = None
    parts: list[TreePart] = field(default_factory=lambda: list[TreePart]())
    _part_servers: list[DNSServer] = field(default_factory=lambda: list[DNSServer]())
    peers: dict[str, Authoritative] = field(default_factory=lambda: dict[str, Authoritative]())
    unavailable: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    _lock_file: IO[str] | None = None

    @property
    def root_hints(self) -> Path:
        return self.directory / "root.hints"

    @property
    def trust_anchors(self) -> Path:
        return self.directory / "root.ds"

    # Zone building ------------------------------------------------------------------------

    def _keys(self, zone: str, algorithm: str = "ECDSAP256SHA256") -> list[str]:
        # Active since 2019, so that the zone signed for 2020 has active keys too.
        since = ("-P", "20190101000000", "-A", "20190101000000")
        size = ("-b", "2048") if algorithm.startswith("RSA") else ()
        keygen = ("dnssec-keygen", "-q", "-a", algorithm, *size, *since, "-K", "keys")
        ksk = _run(*keygen, "-f", "KSK", zone, cwd=self.directory)
        zsk = _run(*keygen, zone, cwd=self.directory)
        return [ksk.strip(), zsk.strip()]

    def _ds(self, key: str) -> str:
        return _run("dnssec-dsfromkey", "-2", f"keys/{key}.key", cwd=self.directory).strip()

    def _sign(
        self,
        name: str,
        origin: str,
        *,
        expired: bool = False,
        future: bool = False,
        algorithm: str = "ECDSAP256SHA256",
    ) -> str:
        """Sign zones/<name>.db into zones/<name>.db.signed; the DS of its KSK."""
        keys = self._keys(origin, algorithm)
        for key in keys:
            with (self.directory / "zones" / f"{name}.db").open("a") as zone_file:
                zone_file.write(f"$INCLUDE ../keys/{key}.key\n")
        # -P: the verification after signing would reject the expired signatures.
        window = ["-P", "-s", "20200101000000", "-e", "20200201000000"] if expired else ["-e", "+2592000"]
        if future:
            window = ["-P", "-s", f"+{FUTURE_INCEPTION_S}", "-e", "+2592000"]
        _run(
            "dnssec-signzone", "-q", "-K", "../keys", "-o", origin, *window, "-f", f"{name}.db.signed",
            f"{name}.db", *(f"../keys/{k}" for k in keys),
            cwd=self.directory / "zones",
        )  # fmt: skip
        return self._ds(keys[0])

    def _sign_stale_apex(self, name: str, origin: str) -> str:
        """Sign zones/<name>.db so that only the DNSKEY set carries current signatures (the rest
        expired in 2020): the zone validates down to its keys, then every apex RRset fails.
        The DS of its KSK."""
        keys = self._keys(origin)
        with (self.directory / "zones" / f"{name}.db").open("a") as zone_file:
            zone_file.writelines(f"$INCLUDE ../keys/{key}.key\n" for key in keys)
        outputs: dict[str, list[str]] = {}
        for label, window in (
            ("old", ["-P", "-s", "20200101000000", "-e", "20200201000000"]),
            ("new", ["-e", "+2592000"]),
        ):
            _run(
                "dnssec-signzone", "-q", "-O", "full", "-K", "../keys", "-o", origin, *window,
                "-f", f"{name}.{label}", f"{name}.db", *(f"../keys/{k}" for k in keys),
                cwd=self.directory / "zones",
            )  # fmt: skip
            outputs[label] = (self.directory / "zones" / f"{name}.{label}").read_text().splitlines()

        def dnskey_sig(line: str) -> bool:
            fields = line.split()
            return len(fields) > 4 and fields[3] == "RRSIG" and fields[4] == "DNSKEY"

        lines = [line for line in outputs["old"] if not dnskey_sig(line)]
        lines += [line for line in outputs["new"] if dnskey_sig(line)]
        (self.directory / "zones" / f"{name}.db.signed").write_text("\n".join(lines) + "\n")
        return self._ds(keys[0])

    def _write(self, name: str, text: str) -> None:
        (self.directory / "zones" / f"{name}.db").write_text(text)

    def write(self, name: str, text: str) -> None:
        """Write zones/<name>.db (a `zone_text`); a view names it as file "zones/<name>.db"."""
        self._write(name, text)

    def sign(self, name: str, origin: str, *, algorithm: str = "ECDSAP256SHA256") -> str:
        """Sign zones/<name>.db into zones/<name>.db.signed (valid 30 days); the DS of its KSK,
        a line for the TLD once its owner is made relative."""
        return self._sign(name, origin, algorithm=algorithm)

    def _build_parts(self) -> str:
        """Each `support.tree_*` module's part; their TLD lines."""
        self.parts = [importlib.import_module(name).part(self) for name in part_modules()]
        return "\n".join(line for part in self.parts for line in part.tld)

    def build(self) -> None:
        missing = [
            tool for tool in TOOLS if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()
        ]
        if missing:
            raise Bind9Unavailable(
                f"not installed: {', '.join(missing)} (apt-get install bind9 bind9-dnsutils)"
            )
        (self.directory / "zones").mkdir(parents=True, exist_ok=True)
        (self.directory / "keys").mkdir(exist_ok=True)
        a = ADDRESSES
        common_ns = "@ NS ns1.dns.test.\n@ NS ns2.dns.test.\n"
        good = f"""
{common_ns}
@ A {GOOD_WWW}
www A {GOOD_WWW}
www AAAA 2001:db8::10
alias CNAME www
@ MX 10 mx.good.test.
mx A 192.0.2.25
@ TXT "v=spf1 mx -all"
_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"
"""
        self._write("good", zone_text("good.test.", "ns1.dns.test.", 2026112601, good))
        self._write(
            "expired", zone_text("expired.test.", "ns1.dns.test.", 1, "@ NS ns1.dns.test.\nwww A 192.0.2.30")
        )
        self._write(
            "badds", zone_text("badds.test.", "ns1.dns.test.", 1, "@ NS ns1.dns.test.\nwww A 192.0.2.31")
        )
        good_ds = self._sign("good", "good.test.")
        self._write(
            "future", zone_text("future.test.", "ns1.dns.test.", 1, "@ NS ns1.dns.test.\nwww A 192.0.2.33")
        )
        future_ds = self._sign("future", "future.test.", future=True)
        loop = "@ NS ns1.dns.test.\na CNAME b\nb CNAME c\nc CNAME a\nwww A 192.0.2.34"
        self._write("loop", zone_text("loop.test.", "ns1.dns.test.", 1, loop))
        five = "@ NS ns1.dns.test.\n@ NS ns3.dns.test.\n@ NS ns4.dns.test.\nwww A 192.0.2.35"
        self._write("fivefault", zone_text("fivefault.test.", "ns1.dns.test.", 1, five))
        fivefault_ds = self._sign("fivefault", "fivefault.test.", expired=True)
        stale = "@ NS ns1.dns.test.\n@ A 192.0.2.36\n@ AAAA 2001:db8::36\nwww A 192.0.2.36"
        self._write("staleapex", zone_text("staleapex.test.", "ns1.dns.test.", 1, stale))
        staleapex_ds = self._sign_stale_apex("staleapex", "staleapex.test.")
        lame2 = "@ NS ns1.dns.test.\n@ NS ns3.dns.test.\n@ NS ns8.dns.test.\nwww A 192.0.2.51"
        self._write("lame2", zone_text("lame2.test.", "ns1.dns.test.", 1, lame2))
        expired_ds = self._sign("expired", "expired.test.", expired=True)
        self._write(
            "oldalg", zone_text("oldalg.test.", "ns1.dns.test.", 1, "@ NS ns1.dns.test.\nwww A 192.0.2.32")
        )
        oldalg_ds = self._sign("oldalg", "oldalg.test.", algorithm="RSASHA1")
        # Glue at the parent says 127.0.1.1, the zone says 127.0.2.1; both servers serve it.
        self._write(
            "gluebad",
            zone_text("gluebad.test.", "ns.gluebad.test.", 1, f"@ NS ns.gluebad.test.\nns A {a['ns2']}"),
        )
        # Served by the recursive resolver itself: an authoritative server with open recursion.
        self._write(
            "openrec", zone_text("openrec.test.", "ns5.dns.test.", 1, "@ NS ns5.dns.test.\nwww A 192.0.2.70")
        )
        self._sign("badds", "badds.test.")
        # A key that signs nothing: its DS at the parent matches no DNSKEY of badds.test.
        stray = _run(
            "dnssec-keygen",
            "-q",
            "-a",
            "ECDSAP256SHA256",
            "-f",
            "KSK",
            "-K",
            "keys",
            "badds.test.",
            cwd=self.directory,
        ).strip()
        stray_ds = self._ds(stray)

        self._write(
            "stale", zone_text("good.test.", "ns1.dns.test.", 2026010101, common_ns + f"www A {STALE_WWW}")
        )
        for serial, address in ((1, "192.0.2.41"), (2, "192.0.2.42")):
            self._write(
                f"serial{serial}",
                zone_text("serial.test.", "ns1.dns.test.", serial, common_ns + f"www A {address}"),
            )
        for name, extra in (
            ("notcp", "@ NS ns4.dns.test."),
            ("noglue", f"@ NS ns1.noglue.test.\nns1 A {a['ns1']}"),
            ("deadns", "@ NS ns6.dns.test."),
        ):
            body = f"@ NS ns1.dns.test.\n{extra}\nwww A 192.0.2.60"
            self._write(name, zone_text(f"{name}.test.", "ns1.dns.test.", 1, body))
        self._write_mail_zones()
        bulk = "\n".join(f"host{i:04d} A 192.0.2.{i % 250 + 1}" for i in range(BULK_NAMES))
        self._write("bulk", zone_text("bulk.test.", "ns1.dns.test.", 1, "@ NS ns1.dns.test.\n" + bulk))
        self._write(
            "lame",
            zone_text(
                "lame.test.", "ns1.dns.test.", 1, "@ NS ns1.dns.test.\n@ NS ns3.dns.test.\nwww A 192.0.2.50"
            ),
        )
        self._write(
            "reverse",
            zone_text(
                "2.0.192.in-addr.arpa.",
                "ns1.dns.test.",
                1,
                common_ns + "10 PTR www.good.test.\n25 PTR mx.good.test.\n99 PTR nowhere.good.test.\n",
            ),
        )

        tld_peers = self._write_implementation_zones()
        tld_parts = self._build_parts()
        tld = f"""
{tld_peers}
{tld_parts}
@ NS ns1.nic.test.
ns1.nic A {a["tld"]}
ns1.dns A {a["ns1"]}
ns2.dns A {a["ns2"]}
ns3.dns A {a["ns3"]}
ns4.dns A {UDP_ONLY}
ns6.dns A {DEAD_NS}
ns7.dns A {CRAFTED}
ns8.dns A {a["stale"]}
apexcname NS ns7.dns.test.
apexonly NS ns7.dns.test.
loop NS ns1.dns.test.
lame2 NS ns1.dns.test.
lame2 NS ns3.dns.test.
lame2 NS ns8.dns.test.
future NS ns1.dns.test.
fivefault NS ns1.dns.test.
fivefault NS ns3.dns.test.
fivefault NS ns4.dns.test.
fivefault NS ns6.dns.test.
{fivefault_ds.replace("fivefault.test.", "fivefault", 1)}
staleapex NS ns1.dns.test.
{staleapex_ds.replace("staleapex.test.", "staleapex", 1)}
{future_ds.replace("future.test.", "future", 1)}
deadns NS ns1.dns.test.
deadns NS ns6.dns.test.
notcp NS ns1.dns.test.
notcp NS ns4.dns.test.
noglue NS ns1.dns.test.
noglue NS ns1.noglue.test.
mail NS ns1.dns.test.
spam NS ns1.dns.test.
nomail NS ns1.dns.test.
good NS ns1.dns.test.
good NS ns2.dns.test.
{good_ds.replace("good.test.", "good", 1)}
serial NS ns1.dns.test.
serial NS ns2.dns.test.
lame NS ns1.dns.test.
lame NS ns3.dns.test.
expired NS ns1.dns.test.
{expired_ds.replace("expired.test.", "expired", 1)}
badds NS ns1.dns.test.
{stray_ds.replace("badds.test.", "badds", 1)}
oldalg NS ns1.dns.test.
{oldalg_ds.replace("oldalg.test.", "oldalg", 1)}
gluebad NS ns.gluebad.test.
ns.gluebad A {a["ns1"]}
openrec NS ns5.dns.test.
ns5.dns A {a["resolver"]}
"""
        self._write("tld", zone_text("test.", "ns1.nic.test.", 1, tld))
        tld_ds = self._sign("tld", "test.")
        root = f"""
@ NS a.root-servers.test.
test. NS ns1.nic.test.
ns1.nic.test. A {a["tld"]}
a.root-servers.test. A {a["root"]}
{tld_ds}
2.0.192.in-addr.arpa. NS ns1.dns.test.
2.0.192.in-addr.arpa. NS ns2.dns.test.
{chr(10).join(line for part in self.parts for line in part.root)}
"""
        self._write("root", zone_text(".", "a.root-servers.test.", 1, root))
        root_key_ds = self._sign("root", ".")
        self.root_ds = root_key_ds
        self.trust_anchors.write_text(root_key_ds + "\n")
        self.root_hints.write_text(
            f". 3600000 NS a.root-servers.test.\na.root-servers.test. 3600000 A {a['root']}\n"
        )
        self._write_conf()

    def _write_implementation_zones(self) -> str:
        """good-, nsdiff- and lame-IMPL.test for each implementation; their lines in the TLD."""
        lines: list[str] = []
        for impl in IMPLEMENTATIONS.values():
            (n1, _), (n2, _) = impl.servers
            body = f"@ NS {n1}\n@ NS {n2}\nwww A 192.0.2.80\nwww AAAA 2001:db8::80"
            self._write(f"good-{impl.name}", zone_text(f"good-{impl.name}.test.", n1, 2026120601, body))
            ds = self._sign(f"good-{impl.name}", f"good-{impl.name}.test.")
            self._write(
                f"nsdiff-{impl.name}",
                zone_text(f"nsdiff-{impl.name}.test.", n1, 1, f"@ NS {n1}\nwww A 192.0.2.81"),
            )
            lame_body = f"@ NS ns1.dns.test.\n@ NS {impl.lame[0]}\nwww A 192.0.2.82"
            self._write(
                f"lame-{impl.name}", zone_text(f"lame-{impl.name}.test.", "ns1.dns.test.", 1, lame_body)
            )
            lines += [
                f"good-{impl.name} NS {n1}",
                f"good-{impl.name} NS {n2}",
                ds.replace(f"good-{impl.name}.test.", f"good-{impl.name}", 1),
                f"nsdiff-{impl.name} NS {n1}",
                f"nsdiff-{impl.name} NS {n2}",
                f"lame-{impl.name} NS ns1.dns.test.",
                f"lame-{impl.name} NS {impl.lame[0]}",
            ]
            if impl.name != "bind9":
                lines += [f"{n.removesuffix('.test.')} A {a}" for n, a in impl.servers]
        return "\n".join(lines)

    def _write_mail_zones(self) -> None:
        """mail.test (healthy), spam.test (everything wrong), nomail.test (null MX)."""
        ns = "@ NS ns1.dns.test.\n"
        mail = f"""{ns}
@ MX 10 mx.mail.test.
mx A 192.0.2.25
@ TXT "v=spf1 mx include:_spf.mail.test -all"
_spf TXT "v=spf1 ip4:192.0.2.0/24 -all"
_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@mail.test; adkim=s"
s2048._domainkey TXT {_txt(f"v=DKIM1; k=rsa; p={_dkim_key(2048)}")}
s1024._domainkey TXT {_txt(f"v=DKIM1; k=rsa; p={_dkim_key(1024)}")}
revoked._domainkey TXT "v=DKIM1; p="
_mta-sts TXT "v=STSv1; id=20261126"
mta-sts A 127.0.0.1
_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls@mail.test"
default._bimi TXT "v=BIMI1; l=https://mail.test/logo.svg"
"""
        includes = " ".join(f"include:i{i}.spam.test" for i in range(1, 6))
        spam = (
            f"""{ns}
@ MX 10 alias.spam.test.
@ MX 20 gone.spam.test.
alias CNAME mx.spam.test.
mx A 192.0.2.26
@ TXT "v=spf1 mx {includes} ~all"
"""
            + "".join(f'i{i} TXT "v=spf1 a ip4:192.0.2.{i} -all"\ni{i} A 192.0.2.{i}\n' for i in range(1, 6))
            + """
_dmarc TXT "v=DMARC1; p=none; pct=50"
_mta-sts TXT "v=STSv1; id=1"
mta-sts A 127.0.0.1
"""
        )
        nomail = (
            f'{ns}@ MX 0 .\n@ TXT "v=spf1 -all"\n_dmarc TXT "v=DMARC1; p=reject; rua=mailto:d@nomail.test"\n'
        )
        for name, body in (("mail", mail), ("spam", spam), ("nomail", nomail)):
            self._write(name, zone_text(f"{name}.test.", "ns1.dns.test.", 1, body))

    def _write_conf(self) -> None:
        a = ADDRESSES
        # root.ds: ". IN DS tag alg type digest"
        parts = self.root_ds.split()
        tag, algorithm, digest_type, digest = parts[3], parts[4], parts[5], "".join(parts[6:])

        def zone(name: str, file: str) -> str:
            return f'zone "{name}" {{ type primary; file "zones/{file}"; }};'

        def view(name: str, address: str, zones: list[str], extra: str = "") -> str:
            body = "\n  ".join(zones)
            return f'view "{name}" {{\n  match-destinations {{ {address}; }};\n  {extra}\n  {body}\n}};\n'

        good = zone("good.test", "good.db.signed")
        reverse = zone("2.0.192.in-addr.arpa", "reverse.db")
        part_addresses = [address for part in self.parts for address in part.addresses]
        listen = "; ".join([*a.values(), *part_addresses])

        def more(view_name: str) -> list[str]:
            return [statement for part in self.parts for statement in part.views.get(view_name, [])]

        new_views = "\n".join(text for part in self.parts for text in part.new_views)
        conf = f"""
options {{
  directory "{self.directory}";
  pid-file "{self.directory}/named.pid";
  listen-on port {self.port} {{ {listen}; }};
  listen-on-v6 {{ none; }};
  recursion no;
  allow-query {{ 127.0.0.0/8; }};
  dnssec-validation no;
  notify no;
  minimal-responses no;
  session-keyfile "{self.directory}/session.key";
  managed-keys-directory "{self.directory}";
  max-udp-size 1232;
  // Hardened as a healthy authoritative server is (BIND 9.18 allows AXFR to anyone and tells
  // its version by default); a zone that wants otherwise says so in its zone statement.
  allow-transfer {{ none; }};
  version none;
  hostname none;
  server-id none;
}};
controls {{ }};
{view("root", a["root"], [zone(".", "root.db.signed")])}
{view("tld", a["tld"], ['zone "test" { type primary; file "zones/tld.db.signed"; check-integrity no; };'])}
{
            view(
                "ns1",
                a["ns1"],
                [
                    good,
                    reverse,
                    zone("serial.test", "serial1.db"),
                    zone("lame.test", "lame.db"),
                    zone("expired.test", "expired.db.signed"),
                    zone("badds.test", "badds.db.signed"),
                    zone("notcp.test", "notcp.db"),
                    zone("oldalg.test", "oldalg.db.signed"),
                    zone("gluebad.test", "gluebad.db"),
                    zone("bulk.test", "bulk.db"),
                    zone("mail.test", "mail.db"),
                    zone("spam.test", "spam.db"),
                    zone("nomail.test", "nomail.db"),
                    zone("noglue.test", "noglue.db"),
                    zone("deadns.test", "deadns.db"),
                    zone("loop.test", "loop.db"),
                    zone("lame2.test", "lame2.db"),
                    zone("future.test", "future.db.signed"),
                    zone("fivefault.test", "fivefault.db.signed"),
                    zone("staleapex.test", "staleapex.db.signed"),
                    zone("good-bind9.test", "good-bind9.db.signed"),
                    zone("nsdiff-bind9.test", "nsdiff-bind9.db"),
                    *(zone(f"lame-{name}.test", f"lame-{name}.db") for name in IMPLEMENTATIONS),
                    *more("ns1"),
                ],
            )
        }
{
            view(
                "ns2",
                a["ns2"],
                [
                    good,
                    reverse,
                    zone("serial.test", "serial2.db"),
                    zone("gluebad.test", "gluebad.db"),
                    zone("good-bind9.test", "good-bind9.db.signed"),
                    zone("nsdiff-bind9.test", "nsdiff-bind9.db"),
                    *more("ns2"),
                ],
            )
        }
{view("ns3", a["ns3"], more("ns3"))}
{view("stale", a["stale"], [zone("good.test", "stale.db"), *more("stale")])}
{new_views}
view "resolver" {{
  match-destinations {{ {a["resolver"]}; }};
  recursion yes;
  allow-recursion {{ 127.0.0.0/8; }};
  dnssec-validation yes;
  empty-zones-enable no;
  zone "openrec.test" {{ type primary; file "zones/openrec.db"; }};
  trust-anchors {{ . static-ds {tag} {algorithm} {digest_type} "{digest}"; }};
  zone "." {{ type hint; file "{self.root_hints}"; }};
}};
"""
        (self.directory / "named.conf").write_text(conf)

    # Life cycle ---------------------------------------------------------------------------

    def _add_addresses(self) -> None:
        # named listens only on addresses an interface has; Linux routes all of 127/8 to lo but
        # lists only 127.0.0.1, so the others are added (and removed again by stop()).
        shown = subprocess.run(
            ["ip", "-4", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=True
        )
        peers = [a for name, impl in IMPLEMENTATIONS.items() if name != "bind9" for _, a in impl.servers]
        extra = [address for part in self.parts for address in [*part.addresses, *part.crafted]]
        for address in [*ADDRESSES.values(), UDP_ONLY, CRAFTED, *peers, *extra]:
            if f"inet {address}/" not in shown.stdout:
                _run("ip", "addr", "add", f"{address}/32", "dev", "lo", cwd=self.directory)
                self.added.append(address)

    def _relay(self, sock: socket.socket) -> None:
        """Forward each UDP query to ns1 and its answer back; there is no TCP listener."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as upstream:
            upstream.settimeout(1.0)
            while not self._stopping.is_set():
                try:
                    query, peer = sock.recvfrom(65535)
                    upstream.sendto(query, (ADDRESSES["ns1"], self.port))
                    sock.sendto(upstream.recv(65535), peer)
                except OSError:  # timeouts included: the next query, or the stop flag
                    continue

    def _start_relay(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((UDP_ONLY, self.port))
        sock.settimeout(0.1)
        self._relay_socket = sock
        self._relay_thread = threading.Thread(target=self._relay, args=(sock,), name="udp-relay", daemon=True)
        self._relay_thread.start()

    def _lock(self, wait: float = 300.0) -> None:
        # The hierarchy owns fixed addresses on port 53, so test sessions on one machine (several
        # checkouts, a benchmark) take turns instead of failing on each other's server.
        import fcntl

        self._lock_file = LOCK_PATH.open("a")
        give_up = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > give_up:
                    self._lock_file.close()
                    self._lock_file = None
                    raise RuntimeError(f"another BIND9 hierarchy held {LOCK_PATH} for {wait:g} s") from None
                time.sleep(0.2)

    def start(self) -> Bind9:
        try:
            self.build()
            self._lock()
            self._launch()
        except BaseException:
            self.stop()  # named, the added addresses, the directory and the lock: nothing left behind
            raise
        return self

    def _launch(self) -> None:
        if shutil.which("ip") is None:
            raise Bind9Unavailable("the ip command (iproute2) is needed to add loopback addresses")
        self._add_addresses()
        busy = [a for a in ADDRESSES.values() if _answers(a, self.port)]
        if busy:
            raise RuntimeError(f"something already serves DNS on {', '.join(busy)} port {self.port}")
        named = shutil.which("named") or "/usr/sbin/named"
        with (self.directory / "named.log").open("wb") as log:
            self.process = subprocess.Popen(
                [named, "-g", "-c", str(self.directory / "named.conf"), "-p", str(self.port)],
                cwd=self.directory,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"named exited: {(self.directory / 'named.log').read_text()[-3000:]}")
            # Zones may still be settling when named logs "running": wait for real answers.
            if "running" in (self.directory / "named.log").read_text() and all(
                _rcode(ADDRESSES[view], self.port, zone) == 0
                for view, zone in (
                    ("root", "."),
                    ("tld", "test."),
                    ("ns1", "good.test."),
                    ("ns2", "good.test."),
                )
            ):
                self._start_relay()
                self._crafted_server = DNSServer(_crafted, host=CRAFTED, port=self.port).start()
                for part in self.parts:
                    for address, handler in part.crafted.items():
                        self._part_servers.append(DNSServer(handler, host=address, port=self.port).start())
                self._start_peers()
                return
            time.sleep(0.05)
        raise RuntimeError(f"named did not start: {(self.directory / 'named.log').read_text()[-3000:]}")

    def _start_peers(self) -> None:
        """Knot and NSD with the good- and nsdiff- zones of their implementation."""
        for name, kind in (("knot", Knot), ("nsd", Nsd)):
            impl = IMPLEMENTATIONS[name]
            zones = {
                f"good-{name}.test": f"good-{name}.db.signed",
                f"nsdiff-{name}.test": f"nsdiff-{name}.db",
            }
            for part in self.parts:
                zones.update(part.peer_zones.get(name, {}))
            peer = kind(self.directory / name, [a for _, a in impl.servers], self.port, zones)
            try:
                peer.start(_rcode)
            except ServerUnavailable as exc:
                self.unavailable[name] = str(exc)
                continue
            finally:
                self.peers[name] = peer

    def stop(self) -> None:
        self._stopping.set()
        for peer in self.peers.values():
            peer.stop()
        if self._relay_thread is not None:
            self._relay_thread.join(timeout=2)
        if self._relay_socket is not None:
            self._relay_socket.close()
        if self._crafted_server is not None:
            self._crafted_server.stop()
            self._crafted_server = None
        for server in self._part_servers:
            server.stop()
        self._part_servers.clear()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for address in self.added:
            subprocess.run(
                ["ip", "addr", "del", f"{address}/32", "dev", "lo"], capture_output=True, check=False
            )
        self.added.clear()
        shutil.rmtree(self.directory, ignore_errors=True)
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock
            self._lock_file = None

    def __enter__(self) -> Bind9:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
