"""Nameservers found in DNS data (referral glue, NS records) are asked only when the policy allows.

dns_delegation and dnssec_check walk from the root hints down referrals, and dns_propagation asks
the zone's authoritative servers that its first resolver names: a zone's owner chooses those
addresses, so they could point the walk inside. The policy allows exactly 127.0.0.2, where the
test's DNS server runs; the referrals it gives name nameservers on 127.0.0.1, ::1 and
::ffff:127.0.0.1, whose port a `Listener` watches. Each must be left out with a finding that
quotes the refusal, and nothing may reach them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from dns_monitor.anchors import RootHints
from dns_monitor.delegation import dns_delegation
from dns_monitor.dnssec import dnssec_check
from mcp import Client
from monitor_common.config import Settings, set_settings
from monitor_common.context import CheckContext
from monitor_common.netpolicy import NetworkPolicy
from support.dns_server import DNSServer, Transport
from support.reliability import record

from security.probe import DialRecorder, Listener, Outcome, Spelling, refusal_problems, servers, watched

POLICY = NetworkPolicy(allow_networks=(ipaddress.ip_network("127.0.0.2/32"),))
CTX = CheckContext(policy=POLICY)
INSIDE = {
    "ns1.example.test": ("A", Spelling("ns1.example.test", "loopback", "127.0.0.1")),
    "ns2.example.test": ("AAAA", Spelling("ns2.example.test", "loopback", "::1")),
    "ns3.example.test": ("AAAA", Spelling("ns3.example.test", "loopback", "::ffff:7f00:1")),
}
ADDRESSES = {
    "ns1.example.test": "127.0.0.1",
    "ns2.example.test": "::1",
    "ns3.example.test": "::ffff:127.0.0.1",
}


def referring(request: dns.message.Message, transport: Transport) -> dns.message.Message:
    """The root and the resolver in one: example.test is delegated to three internal nameservers."""
    response = dns.message.make_response(request)
    question = request.question[0]
    zone = dns.name.from_text("example.test.")
    ns_set = dns.rrset.from_text_list(zone, 300, "IN", "NS", [f"{ns}." for ns in INSIDE])
    glue = [
        dns.rrset.from_text(f"{ns}.", 300, "IN", rdtype, ADDRESSES[ns]) for ns, (rdtype, _) in INSIDE.items()
    ]
    name = question.name
    if name.to_text().rstrip(".") in INSIDE:
        rdtype, _ = INSIDE[name.to_text().rstrip(".")]
        if question.rdtype == dns.rdatatype.from_text(rdtype):
            response.answer.append(
                dns.rrset.from_text(name, 300, "IN", rdtype, ADDRESSES[name.to_text().rstrip(".")])
            )
        response.flags |= dns.flags.AA
    elif name == zone and question.rdtype == dns.rdatatype.NS and request.flags & dns.flags.RD:
        response.answer.append(ns_set)  # a recursive resolver's answer
        response.flags |= dns.flags.RA
    elif name.is_subdomain(zone):
        response.authority.append(ns_set)  # a root's referral, with glue
        response.additional.extend(glue)
    else:
        response.set_rcode(dns.rcode.NXDOMAIN)
    return response


@pytest.fixture
def root() -> Iterator[tuple[DNSServer, Listener]]:
    # A walk that followed the glue would send its queries to this port on 127.0.0.1 and ::1.
    with watched(lambda: DNSServer(referring, host="127.0.0.2"), ("127.0.0.1", "::1")) as pair:
        yield pair


def problems_of(where: str, messages: list[str], dials: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for ns, (_, named) in INSIDE.items():
        # Each finding names the nameserver, then quotes the policy's refusal of its address.
        about = [m for m in messages if ns in m and "not asked" in m]
        start = about[0].find("refused to connect to ") if about else -1
        message = about[0][start:] if start != -1 else None
        literal = Spelling(ADDRESSES[ns], named.category, named.address)
        outcome = Outcome(
            f"{where} {ns}", where, literal.category, False, message, " ".join(messages), dials=dials
        )
        if issue := refusal_problems(outcome, literal, named=True):
            found[f"{where} {ns}"] = issue
    return found


async def test_the_delegation_walk_refuses_internal_nameservers(root: tuple[DNSServer, Listener]) -> None:
    server, listener = root
    hints = RootHints((("a.root.test.", "127.0.0.2"),))
    recorder = DialRecorder()
    problems: dict[str, list[str]] = {}
    with recorder.installed():
        delegation = await dns_delegation("example.test", CTX, hints=hints, timeout_s=5, port=server.port)
        dials = [d for d in recorder.take() if not d.endswith(f"127.0.0.2:{server.port}")]
        messages = [f.message for f in delegation.findings if f.code == "nameserver_not_asked"]
        problems |= problems_of("dns_delegation", messages, dials)
        secure = await dnssec_check(
            "example.test", CTX, hints=hints, anchors=[], timeout_s=5, port=server.port
        )
        dials = [d for d in recorder.take() if not d.endswith(f"127.0.0.2:{server.port}")]
        messages = [f.message for f in secure.findings if f.code == "nameserver_not_asked"]
        problems |= problems_of("dnssec_check", messages, dials)
    assert problems == {}
    assert listener.hits == []
    assert server.queries["udp"] + server.queries["tcp"] > 0
    record(
        "security",
        "refusals_walked_nameservers",
        2 * len(INSIDE),
        "cases",
        tools=["dns_delegation", "dnssec_check"],
    )


async def test_propagation_leaves_out_internal_authoritative_servers(
    root: tuple[DNSServer, Listener],
) -> None:
    server, listener = root
    set_settings(Settings(allow_networks=POLICY.allow_networks))
    recorder = DialRecorder()
    with recorder.installed():
        async with Client(servers()["dns"]) as client:
            result = await client.call_tool(
                "dns_propagation",
                {"name": "www.example.test", "resolvers": [f"127.0.0.2:{server.port}"], "timeout_s": 5},
            )
        dials = [d for d in recorder.take() if not d.endswith(f"127.0.0.2:{server.port}")]
    assert not result.is_error and result.structured_content is not None
    content = result.structured_content
    messages = [f["message"] for f in content["findings"]] + [str(n) for n in content.get("notes", [])]
    assert problems_of("dns_propagation", messages, dials) == {}
    assert listener.hits == []
    record("security", "refusals_authoritative_servers", len(INSIDE), "cases", tool="dns_propagation")
