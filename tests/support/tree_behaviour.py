"""The tree's zones for `dns_monitor.behaviour`: nameservers that misbehave one way each.

Real BIND, Knot and NSD handle EDNS, case and CHAOS questions correctly, so each fault is a
hand-made server (`support.dns_server`) on an address of this module's block, 127.0.20.0/24,
named ns-FAULT.dns.test (A records in the TLD zone). It serves its zone exactly as ns1 does (same
SOA, NS set, www A/AAAA), answers BADVERS to unknown EDNS versions, REFUSED outside its zone,
to CHAOS and to AXFR, except for its one fault. Each zone has NS ns1.dns.test (the healthy BIND9
server, which serves the same zone file) and its misbehaving server:

    zone               server address   fault (Zonemaster test case)
    ns-noedns.test     127.0.20.2       FORMERR without OPT to any EDNS query (NAMESERVER02)
    ns-badvers.test    127.0.20.3       EDNS version 1 answered NOERROR with the SOA (NAMESERVER10, 14)
    ns-ednsopt.test    127.0.20.4       the unknown EDNS option echoed (NAMESERVER11, 14)
    ns-ednsflags.test  127.0.20.5       the unknown EDNS Z flags echoed (NAMESERVER12)
    ns-tcnoopt.test    127.0.20.6       a DO query with a payload of 512 bytes or less gets TC
                                        without OPT over UDP (NAMESERVER13)
    ns-noaaaa.test     127.0.20.7       AAAA questions dropped (NAMESERVER05)
    ns-upward.test     127.0.20.8       names outside the zone referred to the root (NAMESERVER07)
    ns-case.test       127.0.20.9       the question comes back in lower case (NAMESERVER08)
    ns-casediff.test   127.0.20.10      NXDOMAIN for a name written with a capital (NAMESERVER09)
    ns-srcaddr.test    127.0.20.13      UDP answers sent from 127.0.20.99 (NAMESERVER04); TCP is right
    ns-opcode.test     127.0.20.15      an unknown opcode answered NOERROR with the SOA, as a query
    ns-noudp.test      127.0.20.14      nothing over UDP, right answers over TCP (CONNECTIVITY01:
                                        `ns_no_udp`, judged by dns_delegation itself)
    ns-version.test    127.0.20.11      version.server and id.server answered, not version.bind;
                       127.0.20.12      ns-version2.dns.test: version.bind answered (NAMESERVER15,
                                        a notice)
    ns-axfr.test       (ns1, ns2)       BIND9 allows AXFR of it to anyone on ns1 (NAMESERVER03;
                                        the tree's servers otherwise refuse transfers)

Not in ZONEMASTER_FAULTS, the zones where Zonemaster 4.6 reports nothing above NOTICE:
ns-casediff.test (Zonemaster compares two mixed-case spellings with each other, both NXDOMAIN
here, not with the lower-case one), ns-ednsflags.test (engine 4.6 raises Z_FLAGS_NOTCLEAR at
DEBUG: the tag is missing from its default profile), ns-tcnoopt.test (engine 4.6 sends its
NAMESERVER13 query without the DO bit the specification sets, so nothing it asks is truncated),
ns-srcaddr.test (no DIFFERENT_SOURCE_IP: engine 4.6 reports nothing for it), ns-axfr.test (open
AXFR is a NOTICE there), ns-version.test (engine 4.6 has no NAMESERVER15) and ns-opcode.test
(Zonemaster sends no unknown opcode).
"""

from __future__ import annotations

from collections.abc import Callable

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from support.bind9 import Bind9, TreePart, zone_text
from support.dns_server import Elsewhere, Handler, Response, Transport, refused, zone

__all__ = ["SERVERS", "ZONEMASTER_FAULTS", "part"]

BLOCK = "127.0.20"
Fault = Callable[[dns.message.Message, Transport, Handler], Response]


def _no_edns(request: dns.message.Message, transport: Transport, served: Handler) -> Response:
    if request.edns >= 0:
        response = dns.message.make_response(request)
        response.use_edns(False)
        response.set_rcode(dns.rcode.FORMERR)
        return response
    return served(request, transport)


def _ignores_version(request: dns.message.Message, transport: Transport, served: Handler) -> Response:
    if request.edns > 0:
        request.use_edns(0, request.ednsflags, request.payload, options=list(request.options))
    return served(request, transport)


def _echoes_options(request: dns.message.Message, transport: Transport, served: Handler) -> Response:
    response = served(request, transport)
    if isinstance(response, dns.message.Message) and request.options and response.edns >= 0:
        response.use_edns(0, response.ednsflags, response.payload, options=list(request.options))
    return response


def _echoes_flags(request: dns.message.Message, transport: Transport, served: Handler) -> Response:
    response = served(request, transport)
    if isinstance(response, dns.message.Message) and response.edns >= 0:
        response.ednsflags |= request.ednsflags & 0x7FFF
    return response


def _truncates_without_opt(request: dns.message.Message, transport: Transport, served: Handler) -> Response:
    small = request.edns >= 0 and request.payload <= 512 and request.ednsflags & dns.flags.DO
    if transport == "udp" and small:
        response = dns.message.make_response(request)
        response.use_edns(False)
        response.flags |= dns.flags.TC | dns.flags.AA
        return response
    return served(request, transport)


def _drops_aaaa(request: dns.message.Message, transport: Transport, served: Handler) -> Response:
    return None if request.question[0].rdtype == dns.rdatatype.AAAA else served(request, transport)


def _refers_up(request: dns.message.Message, transport: Transport, served: Handler) -> Response:
    response = served(request, transport)
    if isinstance(response, dns.message.Message) and response.rcode() == dns.rcode.REFUSED:
        response.set_rcode(dns.rcode.NOERROR)
        response.authority.append(dns.rrset.from_text(".", 3600, "IN", "NS", "a.root-servers.test."))
        response.additional.append(dns.rrset.from_text("a.root-servers.test.", 3600, "IN", "A", "127.0.0.10"))
    return response


def _lowercases(request: dns.message.Message, transport: Transport, served: Handler) -> Response:
    response = served(request, transport)
    if isinstance(response, dns.message.Message) and response.question:
        q = response.question[0]
        response.question = [dns.rrset.RRset(q.name.canonicalize(), q.rdclass, q.rdtype)]
    return response


def _case_sensitive(request: dns.message.Message, transport: Transport, served: Handler) -> Response:
    if request.question[0].name.to_text() != request.question[0].name.to_text().lower():
        response = dns.message.make_response(request)
        response.flags |= dns.flags.AA
        response.set_rcode(dns.rcode.NXDOMAIN)
        return response
    return served(request, transport)


OTHER_SOURCE = f"{BLOCK}.99"  # where ns-srcaddr's UDP answers come from (it refuses what it is asked)


def _any_opcode(request: dns.message.Message, transport: Transport, served: Handler) -> Response:
    if request.opcode() != dns.opcode.QUERY:
        request.set_opcode(dns.opcode.QUERY)  # answered as if it were a query
        response = served(request, transport)
        if isinstance(response, dns.message.Message):
            response.flags = (response.flags & ~0x7800) | (15 << 11)
        return response
    return served(request, transport)


def _tcp_only(request: dns.message.Message, transport: Transport, served: Handler) -> Response:
    return served(request, transport) if transport == "tcp" else None


def _answers_from_elsewhere(request: dns.message.Message, transport: Transport, served: Handler) -> Response:
    return Elsewhere(OTHER_SOURCE, served(request, transport))


VERSION = "9.11.3-ns-version"


def _chaos(texts: dict[str, str]) -> Fault:
    """A server that answers these CHAOS TXT names with these texts."""

    def fault(request: dns.message.Message, transport: Transport, served: Handler) -> Response:
        q = request.question[0]
        name = q.name.to_text().lower()
        if q.rdclass == dns.rdataclass.CH and q.rdtype == dns.rdatatype.TXT and name in texts:
            response = dns.message.make_response(request)
            response.flags |= dns.flags.AA
            response.answer.append(dns.rrset.from_text(name, 0, "CH", "TXT", f'"{texts[name]}"'))
            return response
        return served(request, transport)

    return fault


# zone label -> (last octet of its server's address, the fault)
SERVERS: dict[str, tuple[int, Fault]] = {
    "ns-noedns": (2, _no_edns),
    "ns-badvers": (3, _ignores_version),
    "ns-ednsopt": (4, _echoes_options),
    "ns-ednsflags": (5, _echoes_flags),
    "ns-tcnoopt": (6, _truncates_without_opt),
    "ns-noaaaa": (7, _drops_aaaa),
    "ns-upward": (8, _refers_up),
    "ns-case": (9, _lowercases),
    "ns-casediff": (10, _case_sensitive),
    "ns-srcaddr": (13, _answers_from_elsewhere),
    "ns-noudp": (14, _tcp_only),
    "ns-opcode": (15, _any_opcode),
    # version.server and id.server (not version.bind), beside ns-version2 (below): version.bind only
    "ns-version": (11, _chaos({"version.server.": VERSION, "id.server.": "ns-version-1"})),
}
# Where Zonemaster 4.6 reports the fault at WARNING or ERROR (see the module docstring).
ZONEMASTER_FAULTS = [
    f"{label}.test"
    for label in SERVERS
    if label not in ("ns-ednsflags", "ns-tcnoopt", "ns-casediff", "ns-version", "ns-srcaddr", "ns-opcode")
]


SECOND = {"ns-version": ("ns-version2", 12, _chaos({"version.bind.": VERSION}))}  # a second server


def _ns(label: str) -> list[str]:
    second = [f"{SECOND[label][0]}.dns.test."] if label in SECOND else []
    return ["ns1.dns.test.", f"{label}.dns.test.", *second]


def _body(label: str) -> str:
    ns = "".join(f"@ NS {name}\n" for name in _ns(label))
    return f"{ns}www A 192.0.2.120\nwww AAAA 2001:db8::120"


def _soa(origin: str) -> str:
    """The SOA rdata of the zone file ns1 serves for `origin` (written by `zone_text`)."""
    line = next(line for line in zone_text(origin, "ns1.dns.test.", 1, "").splitlines() if " SOA " in line)
    return line.split(" SOA ", 1)[1]


def _served(origin: str, label: str) -> Handler:
    """A well-behaved server of `origin`: the records of its zone file on ns1, BADVERS for EDNS
    versions above 0, REFUSED for other zones, CHAOS, transfers and other opcodes."""
    records = {
        (origin, "SOA"): _soa(origin),
        (origin, "NS"): _ns(label),
        (f"www.{origin}", "A"): "192.0.2.120",
        (f"www.{origin}", "AAAA"): "2001:db8::120",
    }
    answer = zone(records, origin=origin)
    apex = dns.name.from_text(origin)

    def handler(request: dns.message.Message, transport: Transport) -> Response:
        q = request.question[0]
        response = dns.message.make_response(request)
        if request.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
            return response
        if request.edns > 0:
            response.set_rcode(dns.rcode.BADVERS)
            return response
        outside = q.rdclass != dns.rdataclass.IN or not q.name.is_subdomain(apex)
        if outside or q.rdtype in (dns.rdatatype.AXFR, dns.rdatatype.IXFR):
            response.set_rcode(dns.rcode.REFUSED)
            return response
        return answer(request, transport)

    return handler


def _crafted(origin: str, label: str, fault: Fault) -> Handler:
    served = _served(origin, label)

    def handler(request: dns.message.Message, transport: Transport) -> Response:
        return fault(request, transport, served)

    return handler


def part(tree: Bind9) -> TreePart:
    built = TreePart()
    for label, (octet, fault) in SERVERS.items():
        origin = f"{label}.test."
        address = f"{BLOCK}.{octet}"
        tree.write(label, zone_text(origin, "ns1.dns.test.", 1, _body(label)))
        built.tld += [
            f"{label} NS ns1.dns.test.",
            f"{label} NS {label}.dns.test.",
            f"{label}.dns A {address}",
        ]
        built.views.setdefault("ns1", []).append(
            f'zone "{label}.test" {{ type primary; file "zones/{label}.db"; }};'
        )
        built.crafted[address] = _crafted(origin, label, fault)
        if label in SECOND:
            name, octet2, fault2 = SECOND[label]
            built.tld += [f"{label} NS {name}.dns.test.", f"{name}.dns A {BLOCK}.{octet2}"]
            built.crafted[f"{BLOCK}.{octet2}"] = _crafted(origin, label, fault2)
    built.crafted[OTHER_SOURCE] = refused
    body = "@ NS ns1.dns.test.\n@ NS ns2.dns.test.\nwww A 192.0.2.121"
    tree.write("ns-axfr", zone_text("ns-axfr.test.", "ns1.dns.test.", 1, body))
    built.tld += ["ns-axfr NS ns1.dns.test.", "ns-axfr NS ns2.dns.test."]
    built.views["ns1"].append(
        'zone "ns-axfr.test" { type primary; file "zones/ns-axfr.db"; allow-transfer { any; }; };'
    )
    built.views.setdefault("ns2", []).append(
        'zone "ns-axfr.test" { type primary; file "zones/ns-axfr.db"; };'
    )
    return built
