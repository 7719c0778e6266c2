"""Fault zones for the last partial rows of Zonemaster's catalogue: the SOA contact's mail
servers (SYNTAX06, dns_monitor.zone_content).

Addresses 127.0.26.0/24:

    127.0.26.1   ns1.lo-hosts.test   BIND view "lo1": every lo- zone
    127.0.2.1    ns2.dns.test        the tree's view "ns2", second server of every lo- zone (another
                                     /24, so that only the fault of each zone shows)

Zones (each RNAME but lo-contact.test's is hostmaster.<the zone>., so the zone's own MX is the contact's mail server):

    lo-hosts.test     healthy: the nameserver's name, MX mail.lo-hosts.test with an address
    lo-mxcname.test   MX mailalias.lo-mxcname.test, a CNAME to mail.lo-hosts.test: the contact's
                      mail server is an alias (Zonemaster RNAME_MAIL_ILLEGAL_CNAME, then
                      RNAME_MAIL_DOMAIN_INVALID)
    lo-mxlocal.test   MX mail.lo-mxlocal.test, whose addresses are 127.0.0.1 and ::1
                      (RNAME_MAIL_DOMAIN_LOCALHOST, then RNAME_MAIL_DOMAIN_INVALID)
    lo-mxnoaddr.test  MX mail.lo-mxnoaddr.test, which has no address (RNAME_MAIL_DOMAIN_INVALID)
    lo-contact.test   RNAME hostmaster.lo-mxlocal.test.: a contact in another zone, whose mail
                      server is asked of the resolver (RNAME_MAIL_DOMAIN_LOCALHOST)

Zonemaster 4.6.2 reports these faults at NOTICE (RNAME_MAIL_DOMAIN_INVALID) or below (the
other two tags are not in its default profile: DEBUG), so none is a cross-check fault zone.
"""

from __future__ import annotations

from support.bind9 import Bind9, TreePart

__all__ = ["ADDRESSES", "ZONEMASTER_FAULTS", "part"]

ADDRESSES = {"lo1": "127.0.26.1"}
NS1, NS2 = "ns1.lo-hosts.test.", "ns2.dns.test."
TIMERS = "14400 3600 604800 300"  # Zonemaster's recommended values, as support.bind9's _SOA

# Zonemaster reports nothing above NOTICE on these zones (see the module docstring).
ZONEMASTER_FAULTS: list[str] = []

ZONES = {  # name -> the zone's body below its NS records
    "lo-hosts": f"ns1 A {ADDRESSES['lo1']}\n@ MX 10 mail\nmail A 192.0.2.226\n",
    "lo-mxcname": "@ MX 10 mailalias\nmailalias CNAME mail.lo-hosts.test.\nwww A 192.0.2.227\n",
    "lo-mxlocal": "@ MX 10 mail\nmail A 127.0.0.1\nmail AAAA ::1\nwww A 192.0.2.228\n",
    "lo-mxnoaddr": "@ MX 10 mail\nwww A 192.0.2.229\n",
    "lo-contact": "www A 192.0.2.230\n",
}
CONTACTS = {"lo-contact": "hostmaster.lo-mxlocal.test."}  # other zones: hostmaster.<zone>.


def part(tree: Bind9) -> TreePart:
    for name, body in ZONES.items():
        origin = f"{name}.test."
        soa = f"{NS1} {CONTACTS.get(name, f'hostmaster.{origin}')} 1 {TIMERS}"
        tree.write(name, f"$ORIGIN {origin}\n$TTL 300\n@ 300 IN SOA {soa}\n@ NS {NS1}\n@ NS {NS2}\n{body}")

    statements = [f'zone "{name}.test" {{ type primary; file "zones/{name}.db"; }};' for name in ZONES]
    address = ADDRESSES["lo1"]
    body = "\n  ".join(statements)
    view = f'view "lo1" {{\n  match-destinations {{ {address}; }};\n  {body}\n}};\n'
    tld = [f"ns1.lo-hosts A {address}"]
    tld += [f"{name} NS {ns}" for name in ZONES for ns in (NS1, NS2)]
    return TreePart(tld=tld, views={"ns2": statements}, new_views=[view], addresses=[address])
