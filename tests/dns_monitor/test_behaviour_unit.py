"""dns_monitor.behaviour against one hand-made server on a survey built by hand: what the BIND9
tier cannot show (a transfer read to its first message only, probes the rate limit held back)."""

from __future__ import annotations

import time

import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import dns.rrset
from dns_monitor.anchors import RootHints
from dns_monitor.behaviour import nameserver_behaviour
from dns_monitor.models import DelegationNameserver
from dns_monitor.survey import Survey
from dns_monitor.walk import Walker, ZoneStep
from monitor_common.context import CheckContext
from monitor_common.ratelimit import DNS_QUERY_COST, RateLimiter
from support.dns_server import Delayed, DNSServer, Response, Transport, zone

ZONE = "example.test."
NS = "ns.example.test."
RECORDS = {
    (ZONE, "SOA"): f"{NS} hostmaster.{ZONE} 1 14400 3600 604800 300",
    (ZONE, "NS"): NS,
    (f"www.{ZONE}", "A"): "192.0.2.1",
}


def survey_of(server: DNSServer, ctx: CheckContext) -> Survey:
    """The survey dns_delegation would hand over for a zone served by `server` alone."""
    walker = Walker(
        RootHints((("a.root.test.", "127.0.0.1"),)), ctx, deadline=time.monotonic() + 8, port=server.port
    )
    step = ZoneStep(ZONE, [NS], {}, [server.host], parent="test.")
    ns = DelegationNameserver(
        name=NS,
        addresses=[server.host],
        in_parent=True,
        in_child=True,
        glue=[],
        authoritative=True,
        udp_ok=True,
        tcp_ok=True,
    )
    survey = Survey(zone=ZONE, walker=walker, step=step, servers={NS: ns}, child_ns=[NS])
    query = dns.message.make_query(ZONE, "SOA", use_edns=0, want_dnssec=True)
    survey.soa[NS] = {server.host: dns.query.udp(query, server.host, port=server.port, timeout=2)}
    return survey


def transfer_in_two_messages(request: dns.message.Message, transport: Transport) -> Response:
    """Answers from RECORDS; an AXFR as two messages, the second 30 s after the first."""
    answer = zone(RECORDS, origin=ZONE)
    if request.question[0].rdtype != dns.rdatatype.AXFR:
        return answer(request, transport)
    soa = dns.rrset.from_text(ZONE, 300, "IN", "SOA", RECORDS[(ZONE, "SOA")])
    first = dns.message.make_response(request)
    first.flags |= dns.flags.AA
    first.answer += [soa, dns.rrset.from_text(f"www.{ZONE}", 300, "IN", "A", "192.0.2.1")]
    last = dns.message.make_response(request)
    last.answer.append(soa)
    return [first, Delayed(30, last)]


async def test_an_open_transfer_is_read_to_its_first_message_only(
    loopback_ctx: CheckContext, dns_server: DNSServer
) -> None:
    dns_server.handler = transfer_in_two_messages
    found = {f.code: f for f in await nameserver_behaviour(survey_of(dns_server, loopback_ctx))}
    # The rest of the transfer comes 30 s later: the probe had its answer from the first message
    # (waiting for more, it would have timed out and said nothing).
    axfr = found["axfr_open"]
    assert axfr.severity == "warning" and f"{NS} (127.0.0.1): the transfer starts (SOA first)" in axfr.message
    assert [r.question[0].rdtype for t, r in dns_server.requests if t == "tcp"] == [dns.rdatatype.AXFR]


def soa_only(request: dns.message.Message, transport: Transport) -> Response:
    """The apex SOA with EDNS(0) answered; every other question dropped."""
    question = request.question[0]
    if question.rdtype == dns.rdatatype.SOA and question.name.to_text() == ZONE and request.edns == 0:
        return zone(RECORDS, origin=ZONE)(request, transport)
    return None


async def test_questions_the_rate_limit_held_back_are_not_blamed_on_the_server(
    loopback_ctx: CheckContext, dns_server: DNSServer
) -> None:
    dns_server.handler = soa_only
    # The control: with its questions sent, the server's silence is a fault, reported once, and
    # it costs one timeout (2.5 s: the question's 1.5 s and the rate-limit allowance), not one
    # per probe: after it the address is asked nothing more over UDP, and the AXFR waits beside it.
    started = time.monotonic()
    sent = await nameserver_behaviour(survey_of(dns_server, loopback_ctx.replace(limiter=RateLimiter(0))))
    assert time.monotonic() - started < 4.5
    assert [f.code for f in sent] == ["edns_version_mishandled"] and "no answer" in sent[0].message
    # One question a day to this host: the first probe is sent and answered, the rest are held
    # back by the monitor's own limit, which says nothing about the server.
    held = loopback_ctx.replace(limiter=RateLimiter(1 / 86400))
    held.limiter.reserve(dns_server.host, cost=1 - DNS_QUERY_COST)  # one question's worth is left
    dns_server.reset_counts()
    assert await nameserver_behaviour(survey_of(dns_server, held)) == []
    assert dns_server.queries["udp"] == 1 + 1  # survey_of's SOA, then the first probe
