"""Fault zones for the last partial rows of Zonemaster's catalogue: the SOA contact's mail
servers (SYNTAX06, dns_monitor.zone_content) and NS names that resolve through an alias
(DELEGATION05, dns_monitor.referral).

Addresses 127.0.26.0/24:

    127.0.26.1   ns1.lo-hosts.test   BIND view "lo1": every lo- zone but lo-nsdname.test and
                                     lo-nssub.test, and sub.lo-nssub.test
    127.0.26.2   ns.lo-hosts.test    BIND view "lo2": lo-nsdname.test and lo-nssub.test (not
                                     sub.lo-nssub.test, so that its name is a referral there)
    127.0.2.1    ns2.dns.test        the tree's view "ns2", second server of every lo- zone (another
                                     /24, so that only the fault of each zone shows)

Zones (the SYNTAX06 zones' RNAME, but lo-contact.test's, is hostmaster.<the zone>., so the zone's
own MX is the contact's mail server; the DELEGATION05 zones' is hostmaster.lo-hosts.test.):

    lo-hosts.test     healthy: the nameserver's name, MX mail.lo-hosts.test with an address
    lo-mxcname.test   MX mailalias.lo-mxcname.test, a CNAME to mail.lo-hosts.test: the contact's
                      mail server is an alias (Zonemaster RNAME_MAIL_ILLEGAL_CNAME, then
                      RNAME_MAIL_DOMAIN_INVALID)
    lo-mxlocal.test   MX mail.lo-mxlocal.test, whose addresses are 127.0.0.1 and ::1
                      (RNAME_MAIL_DOMAIN_LOCALHOST, then RNAME_MAIL_DOMAIN_INVALID)
    lo-mxnoaddr.test  MX mail.lo-mxnoaddr.test, which has no address (RNAME_MAIL_DOMAIN_INVALID)
    lo-contact.test   RNAME hostmaster.lo-mxlocal.test.: a contact in another zone, whose mail
                      server is asked of the resolver (RNAME_MAIL_DOMAIN_LOCALHOST)
    lo-rnalias.test   healthy: RNAME hostmaster.mailto.lo-hosts.test., a mail domain that is a
                      CNAME (to mail.lo-hosts.test, no MX): mail follows the alias (RFC 5321
                      5.1), and Zonemaster, past the CNAME, finds the address: no finding

    lo-nsdname.test   NS ns2.dns.test and ns.moved.lo-hosts.test, below lo-hosts.test's DNAME
                      moved -> lo-hosts.test: the NS name resolves through a synthesized CNAME
                      to ns.lo-hosts.test (DELEGATION05 NS_IS_CNAME). named will not load an NS
                      name below a DNAME of the zone itself, so the alias is in another zone
    lo-nssub.test     NS ns2.dns.test and ns.sub.lo-nssub.test, in sub.lo-nssub.test, a zone
                      delegated inside it (to ns1.lo-hosts.test), where it is a CNAME to
                      ns.lo-hosts.test: asked of lo-nssub.test's servers, the name is a referral,
                      and resolves through the alias below it (DELEGATION05 NS_IS_CNAME)

Zonemaster 4.6.2 reports the SYNTAX06 faults at NOTICE (RNAME_MAIL_DOMAIN_INVALID) or below (the
other two tags are not in its default profile: DEBUG), so none is a cross-check fault zone.
"""

from __future__ import annotations

from support.bind9 import Bind9, TreePart

__all__ = ["ADDRESSES", "ZONEMASTER_FAULTS", "part"]

ADDRESSES = {"lo1": "127.0.26.1", "lo2": "127.0.26.2"}
NS1, NS2 = "ns1.lo-hosts.test.", "ns2.dns.test."
TIMERS = "14400 3600 604800 300"  # Zonemaster's recommended values, as support.bind9's _SOA

# Zonemaster reports a WARNING or an ERROR on each (tests/peers/test_zonemaster.py); nothing
# above NOTICE on the SYNTAX06 zones (see the module docstring).
ZONEMASTER_FAULTS = ["lo-nsdname.test", "lo-nssub.test"]

ZONES = {  # name -> the zone's body below its NS records
    "lo-hosts": f"ns1 A {ADDRESSES['lo1']}\nns A {ADDRESSES['lo2']}\nmoved DNAME lo-hosts.test.\nmailto CNAME mail\n@ MX 10 mail\nmail A 192.0.2.226\n",
    "lo-mxcname": "@ MX 10 mailalias\nmailalias CNAME mail.lo-hosts.test.\nwww A 192.0.2.227\n",
    "lo-mxlocal": "@ MX 10 mail\nmail A 127.0.0.1\nmail AAAA ::1\nwww A 192.0.2.228\n",
    "lo-mxnoaddr": "@ MX 10 mail\nwww A 192.0.2.229\n",
    "lo-contact": "www A 192.0.2.230\n",
    "lo-rnalias": "www A 192.0.2.233\n",
}
CONTACTS = {
    "lo-contact": "hostmaster.lo-mxlocal.test.",
    "lo-rnalias": "hostmaster.mailto.lo-hosts.test.",
}  # other zones: hostmaster.<zone>.


# DELEGATION05: zone -> (its NS names, its body below them); served by "lo2" and "ns2".
ALIASED = {
    "lo-nsdname": (
        [NS2, "ns.moved.lo-hosts.test."],
        "www A 192.0.2.231\n",
    ),
    "lo-nssub": (
        [NS2, "ns.sub.lo-nssub.test."],
        f"sub NS {NS1}\nns.sub A {ADDRESSES['lo2']}\nwww A 192.0.2.232\n",
    ),
}
SUB = "sub.lo-nssub"  # served by "lo1" only


def _zone(origin: str, contact: str, ns: list[str], body: str) -> str:
    records = "".join(f"@ NS {name}\n" for name in ns)
    soa = f"{ns[0]} {contact} 1 {TIMERS}"  # the MNAME: the first nameserver
    return f"$ORIGIN {origin}\n$TTL 300\n@ 300 IN SOA {soa}\n{records}{body}"


def _view(name: str, address: str, statements: list[str]) -> str:
    body = "\n  ".join(statements)
    return f'view "{name}" {{\n  match-destinations {{ {address}; }};\n  {body}\n}};\n'


def _statement(name: str) -> str:
    return f'zone "{name}.test" {{ type primary; file "zones/{name}.db"; }};'


def part(tree: Bind9) -> TreePart:
    for name, body in ZONES.items():
        contact = CONTACTS.get(name, f"hostmaster.{name}.test.")
        tree.write(name, _zone(f"{name}.test.", contact, [NS1, NS2], body))
    for name, (ns, body) in ALIASED.items():
        tree.write(name, _zone(f"{name}.test.", "hostmaster.lo-hosts.test.", ns, body))
    tree.write(SUB, _zone(f"{SUB}.test.", "hostmaster.lo-hosts.test.", [NS1], "ns CNAME ns.lo-hosts.test.\n"))

    lo1 = [_statement(name) for name in [*ZONES, SUB]]
    aliased = [_statement(name) for name in ALIASED]
    tld = [f"ns1.lo-hosts A {ADDRESSES['lo1']}", f"ns.lo-hosts A {ADDRESSES['lo2']}"]
    tld += [f"{name} NS {ns}" for name in ZONES for ns in (NS1, NS2)]
    tld += [f"{name} NS {ns}" for name, (names, _) in ALIASED.items() for ns in names]
    tld += [
        f"{ns.removesuffix('.test.')} A {ADDRESSES['lo2']}"
        for _, (names, _) in ALIASED.items()
        for ns in names[1:]
    ]
    return TreePart(
        tld=tld,
        views={"ns2": [_statement(name) for name in [*ZONES, *ALIASED]]},
        new_views=[_view("lo1", ADDRESSES["lo1"], lo1), _view("lo2", ADDRESSES["lo2"], aliased)],
        addresses=list(ADDRESSES.values()),
    )
