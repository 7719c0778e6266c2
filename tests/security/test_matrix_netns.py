"""The refusal matrix for addresses beyond loopback, run inside a network namespace with no route out.

One child process (`python -m security.probe` under `unshare -n`/`-rn`) runs every case: the
spellings of private, link-local (cloud metadata), CGNAT, unique-local, unspecified, multicast,
reserved, NAT64 and 6to4 addresses against every tool that connects, then names that the local
DNS server (the servers' configured resolver) answers with such addresses, then redirects and the
fetches made on the caller's behalf (MTA-STS, RDAP, CRL, OCSP) aimed at them from servers on the
one allowed address (127.0.0.2, on the namespace's own loopback), and widened policies. It has only
its own loopback: even a broken policy could not send a packet off the machine. Control calls
with `allow_private` show that the same calls would dial, and fail locally, so the refusals are
the policy's doing and the dial recorder sees dials when there are some.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
from support.reliability import record

from security.probe import (
    NETNS_NAMES,
    NETNS_SPELLINGS,
    NETNS_TARGETS,
    WIDENED_NETNS,
    Outcome,
    refusal_problems,
    run_sealed,
)

pytestmark = pytest.mark.netns


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return run_sealed(["-m", "security.probe"], timeout=150)


def test_the_probe_ran_in_a_sealed_namespace(report: dict[str, Any]) -> None:
    assert report["netns"] != os.readlink("/proc/self/ns/net")
    assert report["interfaces"] == ["lo"]
    assert report["routes"] == []  # nothing but loopback's own: no way off the machine
    # Allowed, the same calls dial (the recorder sees it) and fail inside the namespace.
    for control in report["controls"]:
        assert control["message"] is None and "Network is unreachable" in control["text"], control
        assert control["dials"], control


@pytest.mark.parametrize(
    ("suite", "spellings"),
    [
        ("spellings", NETNS_SPELLINGS),
        ("names", [s for s, _ in NETNS_NAMES]),
        # redirects, MTA-STS, RDAP, CRL and OCSP from servers on the one allowed address
        ("fetches", [s for s, _ in NETNS_TARGETS]),
    ],
)
def test_every_tool_refuses_internal_addresses(report: dict[str, Any], suite: str, spellings: Any) -> None:
    by_text = {s.text: s for s in spellings}
    outcomes = [Outcome(**o) for o in report[suite]]
    problems = {
        o.label: found for o in outcomes if (found := refusal_problems(o, by_text[o.label.split(" ", 1)[1]]))
    }
    assert problems == {}
    assert {o.label.split(" ", 1)[1] for o in outcomes} == set(by_text)
    assert len({o.tool for o in outcomes}) == {"spellings": 19, "names": 18, "fetches": 7}[suite]
    if suite == "fetches":  # the allowed servers were really asked: the refusals came later
        assert report["fetch_servers"]["http_requests"] >= 4 * 4 * len(NETNS_TARGETS)
        assert report["fetch_servers"]["dns_queries"] > 0
    categories = Counter(o.category for o in outcomes)
    record(
        "security",
        f"refusals_netns_{suite}",
        len(outcomes),
        "cases",
        by_category=dict(categories),
        tools=dict(Counter(o.tool for o in outcomes)),
    )


def test_a_widened_policy_allows_exactly_what_it_names(report: dict[str, Any]) -> None:
    wrong = []
    for row in report["widened"]:
        if row["allowed"]:
            # Allowed: dialled, and failed inside the sealed namespace (0.0.0.0 means its own loopback).
            ok = (
                row["message"] is None
                and row["dials"]
                and ("unreachable" in row["text"] or "refused" in row["text"])
            )
        else:
            ok = (
                row["message"] is not None
                and not row["dials"]
                and "MCP_MONITOR_ALLOW_NETWORKS=" in row["message"]
            )
        if not ok:
            wrong.append(row)
    assert wrong == []
    assert len(report["widened"]) == sum(len(expected) for _, expected in WIDENED_NETNS)
    record("security", "widened_policy_cases_netns", len(report["widened"]), "cases")
