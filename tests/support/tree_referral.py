"""Fault zones for the delegation's addresses and the referral (dns_monitor.referral).

Addresses 127.0.22.0/24, one BIND view ("ref") answering on most of them:

    127.0.22.1       ns.ref-dns.test      the reverse zone 22.0.127.in-addr.arpa (delegated by the
                                          root) and every BIND-served ref- zone below
    127.0.22.2       ns-a and ns-b.ref-sameip.test (one address, two names)
    127.0.22.3, .4   ns and ns2.ref-crafted.test: a hand-made server for ref-nsalias.test
    127.0.22.5       ns-a.ref-ptr.test    PTR other.ref-dns.test. (not its name)
    127.0.22.6       ns-b.ref-ptr.test    no PTR
    127.0.22.9       ns.ref-deadptr.test  its reverse, 9.22.0.127.in-addr.arpa, is delegated to
                                          127.0.22.250, where nothing listens
    127.0.22.10-17   the eight long nameserver names of ref-bigreferral.test

Zones (ns1.dns.test serves ref-good, ref-sameip, ref-nscname, ref-ptr, ref-deadptr and
ref-private too):

    ref-good.test         healthy: ns1.dns.test and ns.ref-dns.test, whose PTR names it
    ref-sameip.test       ns-a and ns-b on 127.0.22.2: one server counted twice (DELEGATION02)
    ref-nscname.test      NS ns.ref-cnames.test, a CNAME (to ns.ref-dns.test) in the zone
                          ref-cnames.test: an NS name that is an alias (DELEGATION05)
    ref-nsalias.test      NS alias.ref-nsalias.test, a CNAME inside the zone itself (to
                          ns2.ref-crafted.test, glue at the parent): named refuses to load a zone
                          whose NS name is a CNAME, so the hand-made server serves it
    ref-wwwonly.test      delegated to the hand-made server, which refuses its SOA and NS but
                          answers www.ref-wwwonly.test A (BASIC03: detail of lame_delegation)
    ref-bigreferral.test  eight NS names of 50 characters with glue: the referral Zonemaster's
                          DELEGATION03 builds takes 807 bytes, above 512
    ref-ptr.test          ns-a's PTR names another host, ns-b has none (ADDRESS02/03, notices)
    ref-deadptr.test      ns.ref-deadptr.test's reverse server is dead: nothing is learnt, so
                          nothing is said about its PTR
    ref-private.test      ns.ref-private.test has the glue 10.255.0.53 (ADDRESS01); never dialled by
                          the tests, whose policy allows only 127.0.0.0/8
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from support.bind9 import Bind9, TreePart, zone_text
from support.dns_server import Response, Transport

__all__ = ["ADDRESSES", "BIG_NAMES", "CRAFTED", "PRIVATE", "ZONEMASTER_FAULTS", "part"]

ADDRESSES = {
    "ref": "127.0.22.1",
    "sameip": "127.0.22.2",
    "ptr-a": "127.0.22.5",
    "ptr-b": "127.0.22.6",
    "deadptr": "127.0.22.9",
}
DEAD = "127.0.22.250"  # nothing listens here
BIG = [f"127.0.22.{10 + i}" for i in range(8)]
BIG_NAMES = [f"ns{i}-{'x' * 46}.ref-bigreferral.test." for i in range(8)]
PRIVATE = "10.255.0.53"
CRAFTED = {"ns": "127.0.22.3", "ns2": "127.0.22.4"}
_NSALIAS = "ref-nsalias.test."
_NSALIAS_NS = ["ns.ref-crafted.test.", "alias.ref-nsalias.test."]
_SOA = "ns.ref-crafted.test. hostmaster.ref-nsalias.test. 1 14400 3600 604800 300"

# Zonemaster reports a WARNING or an ERROR on each (tests/peers/test_zonemaster.py). Left out:
# ref-good.test (healthy), ref-ptr.test (notices only), ref-wwwonly.test (lame_delegation, covered
# by lame.test). On ref-nsalias.test Zonemaster also counts the alias as a glue mismatch
# (CONSISTENCY05: glue_mismatch, the glue gives an address to a name the zone calls an alias), as
# a missing second nameserver (DELEGATION01) and as a name that does not resolve (NAMESERVER06):
# it does not follow the CNAME to an address; those two are the alias, reported once as
# ns_is_cname (the README's tag table says so).
ZONEMASTER_FAULTS = [
    "ref-sameip.test",
    "ref-nscname.test",
    "ref-nsalias.test",
    "ref-bigreferral.test",
    "ref-private.test",
]


def _nsalias(request: dns.message.Message, transport: Transport) -> Response:
    """ref-nsalias.test as served by a server that loads an NS name that is a CNAME."""
    response = dns.message.make_response(request)
    if request.edns > 0:  # an EDNS version we do not know: BADVERS, as RFC 6891 6.1.3 says
        response.use_edns(0)
        response.set_rcode(dns.rcode.BADVERS)
        return response
    question = request.question[0]
    name, rdtype = question.name.to_text().lower(), dns.rdatatype.to_text(question.rdtype)
    if name == "www.ref-wwwonly.test." and rdtype == "A":
        # ref-wwwonly.test: not served here (its SOA and NS are refused), yet www answers, as from
        # a forwarder or a leftover wildcard
        response.answer.append(dns.rrset.from_text(name, 300, "IN", "A", "192.0.2.127"))
        return response
    if not question.name.is_subdomain(dns.name.from_text(_NSALIAS)):
        response.set_rcode(dns.rcode.REFUSED)
        return response
    response.flags |= dns.flags.AA
    held = {
        (_NSALIAS, "SOA"): [_SOA],
        (_NSALIAS, "NS"): _NSALIAS_NS,
        (f"www.{_NSALIAS}", "A"): ["192.0.2.126"],
    }
    if name == f"alias.{_NSALIAS}":
        response.answer.append(dns.rrset.from_text(name, 300, "IN", "CNAME", "ns2.ref-crafted.test."))
    elif (name, rdtype) in held:
        response.answer.append(dns.rrset.from_text_list(name, 300, "IN", rdtype, held[(name, rdtype)]))
    else:
        if not any(owner == name for owner, _ in held):
            response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(dns.rrset.from_text(_NSALIAS, 300, "IN", "SOA", _SOA))
    return response


def part(tree: Bind9) -> TreePart:
    a = ADDRESSES
    ns1 = "@ NS ns1.dns.test.\n"
    ref = "ns.ref-dns.test."
    tree.write("ref-good", zone_text("ref-good.test.", ref, 1, f"{ns1}@ NS {ref}\nwww A 192.0.2.120"))
    sameip = f"{ns1}@ NS ns-a\n@ NS ns-b\nns-a A {a['sameip']}\nns-b A {a['sameip']}\nwww A 192.0.2.121"
    tree.write("ref-sameip", zone_text("ref-sameip.test.", ref, 1, sameip))
    nscname = f"{ns1}@ NS {ref}\n@ NS ns.ref-cnames.test.\nwww A 192.0.2.122"
    tree.write("ref-nscname", zone_text("ref-nscname.test.", ref, 1, nscname))
    tree.write("ref-cnames", zone_text("ref-cnames.test.", ref, 1, f"@ NS {ref}\nns CNAME {ref}"))
    big = "".join(f"@ NS {name}\n{name} A {address}\n" for name, address in zip(BIG_NAMES, BIG, strict=True))
    tree.write(
        "ref-bigreferral", zone_text("ref-bigreferral.test.", BIG_NAMES[0], 1, big + "www A 192.0.2.123")
    )
    ptr = f"{ns1}@ NS ns-a\n@ NS ns-b\nns-a A {a['ptr-a']}\nns-b A {a['ptr-b']}\nwww A 192.0.2.124"
    tree.write("ref-ptr", zone_text("ref-ptr.test.", "ns1.dns.test.", 1, ptr))
    deadptr = f"{ns1}@ NS ns\nns A {a['deadptr']}\nwww A 192.0.2.128"
    tree.write("ref-deadptr", zone_text("ref-deadptr.test.", "ns1.dns.test.", 1, deadptr))
    private = f"{ns1}@ NS ns\nns A {PRIVATE}\nwww A 192.0.2.125"
    tree.write("ref-private", zone_text("ref-private.test.", "ns1.dns.test.", 1, private))
    reverse = [
        "9 NS dead.ref-dns.test.",
        f"@ NS {ref}",
        f"1 PTR {ref}",
        "2 PTR ns-a.ref-sameip.test.",
        "5 PTR other.ref-dns.test.",
    ]
    reverse += [
        f"{address.rsplit('.', 1)[1]} PTR {name}.ref-crafted.test." for name, address in CRAFTED.items()
    ]
    reverse += [
        f"{address.rsplit('.', 1)[1]} PTR {name}" for name, address in zip(BIG_NAMES, BIG, strict=True)
    ]
    tree.write("ref-reverse", zone_text("22.0.127.in-addr.arpa.", ref, 1, "\n".join(reverse)))

    def zone(name: str, file: str) -> str:
        return f'zone "{name}" {{ type primary; file "zones/{file}.db"; }};'

    mine = ["ref-good", "ref-sameip", "ref-nscname", "ref-ptr", "ref-deadptr", "ref-private"]
    ours = [
        *(zone(f"{name}.test", name) for name in [*mine, "ref-cnames", "ref-bigreferral"]),
        zone("22.0.127.in-addr.arpa", "ref-reverse"),
    ]
    listen = [*a.values(), *BIG]
    body = "\n  ".join(ours)
    view = f'view "ref" {{\n  match-destinations {{ {"; ".join(listen)}; }};\n  {body}\n}};\n'
    tld = [
        f"ns.ref-dns A {a['ref']}",
        f"dead.ref-dns A {DEAD}",
        "ref-good NS ns1.dns.test.",
        f"ref-good NS {ref}",
        "ref-sameip NS ns1.dns.test.",
        "ref-sameip NS ns-a.ref-sameip.test.",
        "ref-sameip NS ns-b.ref-sameip.test.",
        f"ns-a.ref-sameip A {a['sameip']}",
        f"ns-b.ref-sameip A {a['sameip']}",
        "ref-nscname NS ns1.dns.test.",
        f"ref-nscname NS {ref}",
        "ref-nscname NS ns.ref-cnames.test.",
        *(f"ref-nsalias NS {name}" for name in _NSALIAS_NS),
        *(f"{name}.ref-crafted A {address}" for name, address in CRAFTED.items()),
        f"alias.ref-nsalias A {CRAFTED['ns2']}",
        "ref-wwwonly NS ns.ref-crafted.test.",
        "ref-wwwonly NS ns2.ref-crafted.test.",
        f"ref-cnames NS {ref}",
        *(f"ref-bigreferral NS {name}" for name in BIG_NAMES),
        *(f"{name.removesuffix('.test.')} A {address}" for name, address in zip(BIG_NAMES, BIG, strict=True)),
        "ref-ptr NS ns1.dns.test.",
        "ref-ptr NS ns-a.ref-ptr.test.",
        "ref-ptr NS ns-b.ref-ptr.test.",
        f"ns-a.ref-ptr A {a['ptr-a']}",
        f"ns-b.ref-ptr A {a['ptr-b']}",
        "ref-deadptr NS ns1.dns.test.",
        "ref-deadptr NS ns.ref-deadptr.test.",
        f"ns.ref-deadptr A {a['deadptr']}",
        "ref-private NS ns1.dns.test.",
        "ref-private NS ns.ref-private.test.",
        f"ns.ref-private A {PRIVATE}",
    ]
    return TreePart(
        tld=tld,
        root=[f"22.0.127.in-addr.arpa. NS {ref}"],
        views={"ns1": [zone(f"{name}.test", name) for name in mine]},
        new_views=[view],
        addresses=listen,
        crafted={address: _nsalias for address in CRAFTED.values()},
    )
