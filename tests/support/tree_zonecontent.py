"""Fault zones for the zone's content: the SOA, the NS sets and the names in them
(dns_monitor.zone_content).

Addresses 127.0.21.0/24:

    127.0.21.1   ns1.zc-hosts.test   BIND view "zc1": every zc- zone (its copy of zc-differ.test)
    127.0.2.1    ns2.dns.test        the tree's view "ns2", second server of most zc- zones (the other
                                     copy of zc-differ.test): another /24, so that only the fault
                                     of each zone shows
    127.0.21.3   ns3.zc-hosts.test   a hand-made server (support.dns_server) for what BIND will not
                                     serve: two SOA records in one answer, an apex without SOA
    127.0.21.4   refuse.zc-hosts.test  BIND view "zc4" with no zone: answers REFUSED
    127.0.21.5   bad_ns.zc-hosts.test  view "zc1" too

Zones (named check-names off for all of them: the bad names load):

    zc-hosts.test       the nameservers' names; mail for the zones' contacts
    zc-timers.test      refresh 600, retry 300, expire 86400, minimum 172800 (ZONE02, 04, 05, 06)
    zc-order.test       retry 14400 = refresh 14400, expire 7200 below both, minimum 60 (ZONE03, 05, 06)
    zc-differ.test      ns1 and ns2 serve copies with the same serial but another MNAME, RNAME,
                        timers and NS set (CONSISTENCY02, 03, 04, 06)
    zc-mname.test       MNAME refuse.zc-hosts.test: not in the NS set, answers REFUSED (ZONE01)
    zc-mnamegone.test   MNAME written without its final dot in the zone file: no address (ZONE01, 07)
    zc-mnamecname.test  MNAME alias.zc-hosts.test, a CNAME to ns1 (ZONE07; a notice)
    zc-rname.test       RNAME john\\@zc-rname.test. (an '@' in it: SYNTAX05, 06)
    zc-contact.test     RNAME hostmaster.zc-contact.test., a domain without MX or address (SYNTAX06)
    zc-nsname.test      NS bad_ns.zc-hosts.test (an underscore) beside ns1 and ns2, in the zone
                        only: named refuses to load it in the TLD, whose check-names is on (SYNTAX04)
    zc-mx.test          MX bad_mx.zc-mx.test and ab--mx.zc-mx.test (SYNTAX08)
    zc-multisoa.test    (ns2.dns.test and ns3) ns3 answers the SOA question with two SOA records (ZONE10)
    zc-nosoa.test       ns3 answers the SOA question authoritatively with no SOA (DELEGATION06)
    zc-knot.test, zc-nsd.test  on Knot's and NSD's pairs of servers: expire 86400 (ZONE05) and the
                        MX target bad_mx.zc-IMPL.test (SYNTAX08)

Every zone's RNAME is hostmaster.zc-hosts.test., which takes mail (an MX with an address), unless
the RNAME is the fault.
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from support.bind9 import IMPLEMENTATIONS, Bind9, TreePart

__all__ = ["ADDRESSES", "ZONEMASTER_FAULTS", "crafted", "part"]

ADDRESSES = {
    "zc1": "127.0.21.1",
    "crafted": "127.0.21.3",
    "refuse": "127.0.21.4",
    "bad_ns": "127.0.21.5",
}
NS1, NS2, NS3 = "ns1.zc-hosts.test.", "ns2.dns.test.", "ns3.zc-hosts.test."
CONTACT = "hostmaster.zc-hosts.test."
GOOD_TIMERS = "14400 3600 604800 300"  # Zonemaster's recommended values, as support.bind9's _SOA

# Zonemaster reports a WARNING or an ERROR on each (tests/peers/test_zonemaster.py).
ZONEMASTER_FAULTS = [
    "zc-timers.test",
    "zc-order.test",
    "zc-mname.test",
    "zc-mnamegone.test",
    "zc-rname.test",
    "zc-nsname.test",
    "zc-mx.test",
    "zc-multisoa.test",
    "zc-nosoa.test",
    "zc-knot.test",
    "zc-nsd.test",
]


def _zone(origin: str, soa: str, body: str) -> str:
    """A zone file with the SOA rdata `soa` (MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM)."""
    return f"$ORIGIN {origin}\n$TTL 300\n@ 300 IN SOA {soa}\n{body.strip()}\n"


def crafted(request: dns.message.Message, transport: object) -> dns.message.Message:
    """ns3.zc-hosts.test: zc-multisoa.test answers its SOA with two SOA records, zc-nosoa.test
    answers it with NOERROR and nothing; the NS set of both is ns2.dns.test and ns3; any other question in
    them gets an authoritative empty answer; other zones are REFUSED. Unknown EDNS versions get
    BADVERS, as from a real server, so that Zonemaster's EDNS tests see only the SOA fault."""
    response = dns.message.make_response(request)
    if request.edns > 0:  # an EDNS version it does not know: BADVERS with its own, 0 (RFC 6891 6.1.3)
        response.use_edns(0, 0, 1232)
        response.set_rcode(dns.rcode.BADVERS)
        return response
    question = request.question[0]
    zones = [dns.name.from_text(z) for z in ("zc-multisoa.test.", "zc-nosoa.test.")]
    zone = next((z for z in zones if question.name.is_subdomain(z)), None)
    if zone is None:
        response.set_rcode(dns.rcode.REFUSED)
        return response
    response.flags |= dns.flags.AA
    apex = question.name == zone
    soa = f"{NS2} {CONTACT} 1 {GOOD_TIMERS}"
    if apex and question.rdtype == dns.rdatatype.NS:
        response.answer.append(dns.rrset.from_text(zone, 300, "IN", "NS", NS2, NS3))
    elif apex and question.rdtype == dns.rdatatype.SOA and zone == zones[0]:
        # Two RRsets of one record each: one RRset would hold a single SOA (a singleton type).
        response.answer.append(dns.rrset.from_text(zone, 300, "IN", "SOA", soa))
        second = f"{NS3} {CONTACT} 1 {GOOD_TIMERS}"
        response.answer.append(dns.rrset.from_text(zone, 300, "IN", "SOA", second))
    elif zone == zones[0]:
        response.authority.append(dns.rrset.from_text(zone, 300, "IN", "SOA", soa))
    return response


def part(tree: Bind9) -> TreePart:
    a = ADDRESSES
    good = f"{CONTACT} 1 {GOOD_TIMERS}"
    two = f"@ NS {NS1}\n@ NS {NS2}\nwww A 192.0.2.210\n"
    hosts = f"""
@ NS {NS1}
@ NS {NS2}
ns1 A {a["zc1"]}
ns3 A {a["crafted"]}
refuse A {a["refuse"]}
bad_ns A {a["bad_ns"]}
alias CNAME ns1
@ MX 10 mail
mail A 192.0.2.211
"""
    zones: dict[str, tuple[str, str]] = {  # name -> (SOA rdata, body)
        "zc-hosts": (f"{NS1} {good}", hosts),
        "zc-timers": (f"{NS1} {CONTACT} 1 600 300 86400 172800", two),
        "zc-order": (f"{NS1} {CONTACT} 1 14400 14400 7200 60", two),
        "zc-mname": (f"refuse.zc-hosts.test. {good}", two),
        "zc-mnamegone": (f"ns1.zc-mnamegone.test {good}", two),  # no final dot: origin appended
        "zc-mnamecname": (f"alias.zc-hosts.test. {good}", two),
        "zc-rname": (f"{NS1} john@zc-rname.test. 1 {GOOD_TIMERS}", two),
        "zc-contact": (f"{NS1} hostmaster.zc-contact.test. 1 {GOOD_TIMERS}", two),
        "zc-nsname": (f"{NS1} {good}", two + "@ NS bad_ns.zc-hosts.test."),
        "zc-mx": (
            f"{NS1} {good}",
            two + "@ MX 10 bad_mx\n@ MX 20 ab--mx\nbad_mx A 192.0.2.213\nab--mx A 192.0.2.214",
        ),
        "zc-multisoa": (f"{NS2} {good}", f"@ NS {NS2}\n@ NS {NS3}\nwww A 192.0.2.215"),
        "zc-nosoa": (f"{NS2} {good}", f"@ NS {NS2}\n@ NS {NS3}\nwww A 192.0.2.216"),
        "zc-differ1": (f"{NS1} {good}", two),
        "zc-differ2": (
            f"{NS2} admin.zc-hosts.test. 1 28800 7200 1209600 3600",
            f"@ NS {NS2}\nwww A 192.0.2.210\n",
        ),
    }
    for name, (soa, body) in zones.items():
        origin = ("zc-differ" if name.startswith("zc-differ") else name) + ".test."
        tree.write(name, _zone(origin, soa, body))

    def zone(name: str, file: str) -> str:
        return f'zone "{name}.test" {{ type primary; file "zones/{file}.db"; check-names ignore; }};'

    both = ["zc-hosts", "zc-timers", "zc-order", "zc-mname", "zc-mnamegone", "zc-mnamecname", "zc-rname"]
    both += ["zc-contact"]
    both += ["zc-nsname", "zc-mx"]
    zc1 = [zone(n, n) for n in both] + [zone("zc-differ", "zc-differ1")]
    ns2 = [zone(n, n) for n in [*both, "zc-multisoa", "zc-nosoa"]] + [zone("zc-differ", "zc-differ2")]

    def view(name: str, address: str, statements: list[str]) -> str:
        body = "\n  ".join(statements)
        return f'view "{name}" {{\n  match-destinations {{ {address}; }};\n  {body}\n}};\n'

    tld = [f"ns1.zc-hosts A {a['zc1']}"]
    tld += [f"{name} NS {ns}" for name in [*both, "zc-differ"] for ns in (NS1, NS2)]
    tld += [f"{name} NS {ns}" for name in ("zc-multisoa", "zc-nosoa") for ns in (NS2, NS3)]
    # The same two faults on Knot's and NSD's pair: their answers (additional data included) go
    # through the same checks.
    for impl in ("knot", "nsd"):
        (n1, _), (n2, _) = IMPLEMENTATIONS[impl].servers
        body = f"@ NS {n1}\n@ NS {n2}\n@ MX 10 bad_mx\nbad_mx A 192.0.2.217\nwww A 192.0.2.217"
        tree.write(f"zc-{impl}", _zone(f"zc-{impl}.test.", f"{n1} {CONTACT} 1 14400 3600 86400 300", body))
        tld += [f"zc-{impl} NS {n1}", f"zc-{impl} NS {n2}"]
    return TreePart(
        tld=tld,
        views={"ns2": ns2},
        new_views=[view("zc1", f"{a['zc1']}; {a['bad_ns']}", zc1), view("zc4", a["refuse"], [])],
        addresses=[a["zc1"], a["refuse"], a["bad_ns"]],
        crafted={a["crafted"]: crafted},
        peer_zones={impl: {f"zc-{impl}.test": f"zc-{impl}.db"} for impl in ("knot", "nsd")},
    )
