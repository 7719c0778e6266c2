"""`query.Reach`: when a check that asks many servers may call its failure the monitor's own."""

from __future__ import annotations

import dns.message
import pytest
from dns_monitor.query import Exchange, Reach, ServerSpec

OPERATOR = ServerSpec("dns", "192.0.2.53", 53)
TARGET = ServerSpec("dns", "198.51.100.1", 53)


def outcome(kind: str) -> Exchange:
    """An exchange with `TARGET` (`OPERATOR` for the kinds that say so) that ended as `kind`."""
    server = OPERATOR if kind.startswith("operator") else TARGET
    done = Exchange(server=server, transport="udp")
    if kind == "answer":
        done.response = dns.message.make_response(dns.message.make_query("example.com.", "A"))
    elif kind == "no route":
        done.error, done.monitor_side, done.detail = "unreachable", True, "Network is unreachable"
    elif kind in ("refused", "operator refused"):
        done.error, done.detail = "unreachable", "Connect call failed"
    elif kind in ("timeout", "operator timeout"):
        done.error = "timeout"
    elif kind == "rate limited":
        done.error = "rate_limited"
    else:
        done.error = "bad_response"
    return done


@pytest.mark.parametrize(
    ("outcomes", "offline"),
    [
        ([], False),  # nothing was asked: nothing to say about the network
        (["no route"], True),
        (["no route"] * 26, True),  # every root server, none reachable from here
        (["operator refused"], True),  # the operator's resolver is the monitor's infrastructure
        (["no route", "operator refused", "rate limited"], True),  # the held-back query was not sent
        (["no route", "answer"], False),  # one answer: the network works
        (["no route", "timeout"], False),  # a query that left and got nothing may be the target's
        (["no route", "bad response"], False),
        (["refused"], False),  # a target's closed port: its outage
        (["operator timeout"], False),  # a slow resolver, as dns_lookup judges it: not proof
        (["rate limited"], False),
    ],
)
def test_offline_only_when_every_query_failed_on_this_side(outcomes: list[str], offline: bool) -> None:
    reach = Reach(operator=OPERATOR)
    for kind in outcomes:
        reach.note(outcome(kind))
    assert reach.offline is offline


def test_the_finding_says_how_many_queries_and_what_the_first_said() -> None:
    reach = Reach()
    for _ in range(3):
        reach.note(outcome("no route"))
    finding = reach.finding("the delegation of example.com.")
    assert finding.code == "monitor_network_unavailable" and finding.severity == "unknown"
    assert "the delegation of example.com. was not checked" in finding.message
    assert "all 3 DNS queries" in finding.message and "Network is unreachable" in finding.message
