"""An AS lookup service and a zone whose nameservers all sit in one AS (dns_monitor.asn).

Addresses 127.0.25.0/24, one BIND view ("asn"):

    127.0.25.1   ns.asn-dns.test   asn-db.test (the lookup zone) and asn-one.test

asn-db.test is a Cymru-style origin AS service for the tree's nameserver addresses: TXT records
`"ASN | prefix | ZZ | test | "` at the reversed address under origin.asn-db.test (Zonemaster's
`asn_db` format). Tests set `MCP_MONITOR_DNS_ASN_ZONE=asn-db.test` (`ASN_ZONE`). Its data:

    127.0.1.1   ns1.dns.test      AS64500 (127.0.1.0/24; also AS64999 for 127.0.0.0/8, a less
                                  specific prefix that must lose to the /24)
    127.0.2.1   ns2.dns.test      AS64501
    127.0.11.1, 127.0.12.1        knot1, knot2: AS64511, AS64512
    127.0.13.1, 127.0.14.1        nsd1, nsd2: AS64513, AS64514
    127.0.25.1  ns.asn-dns.test   AS64500 (127.0.25.0/24)

so good.test and good-IMPL.test have their two nameservers in two ASes, and

    asn-one.test   NS ns1.dns.test and ns.asn-dns.test: two /24s, one AS (AS64500), Zonemaster's
                   IPV4_ONE_ASN (CONNECTIVITY03, WARNING); nothing else is wrong with it.

Any other address has no record (NXDOMAIN): unknown, so nothing is said.
"""

from __future__ import annotations

from support.bind9 import Bind9, TreePart, zone_text

__all__ = ["ADDRESS", "ASN_ZONE", "ORIGINS", "ZONEMASTER_FAULTS", "ZONEMASTER_SCOPED", "part"]

ADDRESS = "127.0.25.1"
ASN_ZONE = "asn-db.test"
NS = "ns.asn-dns.test."
# address -> [(ASNs, prefix)]
ORIGINS: dict[str, list[tuple[str, str]]] = {
    "127.0.1.1": [("64500", "127.0.1.0/24"), ("64999", "127.0.0.0/8")],
    "127.0.2.1": [("64501", "127.0.2.0/24")],
    "127.0.11.1": [("64511", "127.0.11.0/24")],
    "127.0.12.1": [("64512", "127.0.12.0/24")],
    "127.0.13.1": [("64513", "127.0.13.0/24")],
    "127.0.14.1": [("64514", "127.0.14.0/24")],
    ADDRESS: [("64500", "127.0.25.0/24")],
}

# Zonemaster reports IPV4_ONE_ASN (WARNING) on it when its asn_db points at asn-db.test: the
# cross-check (tests/support/sealed_tree.py) passes that profile to zonemaster-cli, and the same
# zone to our tools, for asn-one.test only (any address without data here would be Zonemaster's
# EMPTY_ASN_SET, an ERROR, on every other zone).
ZONEMASTER_FAULTS = ["asn-one.test"]
ZONEMASTER_SCOPED = {
    "asn-one.test": (
        {"asn_db": {"style": "cymru", "sources": {"cymru": [ASN_ZONE]}}},
        {"MCP_MONITOR_DNS_ASN_ZONE": ASN_ZONE},
    )
}


def part(tree: Bind9) -> TreePart:
    records: list[str] = []
    for address, origins in ORIGINS.items():
        owner = ".".join(reversed(address.split("."))) + ".origin"
        records += [f'{owner} TXT "{asns} | {prefix} | ZZ | test | "' for asns, prefix in origins]
    tree.write("asn-db", zone_text(f"{ASN_ZONE}.", NS, 1, f"@ NS {NS}\n" + "\n".join(records)))
    one = f"@ NS ns1.dns.test.\n@ NS {NS}\nwww A 192.0.2.250"
    tree.write("asn-one", zone_text("asn-one.test.", "ns1.dns.test.", 1, one))

    def zone(name: str) -> str:
        return f'zone "{name}.test" {{ type primary; file "zones/{name}.db"; }};'

    view = f'view "asn" {{\n  match-destinations {{ {ADDRESS}; }};\n  {zone("asn-db")}\n  {zone("asn-one")}\n}};\n'
    return TreePart(
        tld=[
            f"ns.asn-dns A {ADDRESS}",
            f"asn-db NS {NS}",
            "asn-one NS ns1.dns.test.",
            f"asn-one NS {NS}",
        ],
        views={"ns1": [zone("asn-one")]},
        new_views=[view],
        addresses=[ADDRESS],
    )
