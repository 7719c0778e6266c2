"""dns-monitor's six DNS tools against every DNS fault, through the MCP client.

The tools that take a server are pointed at the faulty one; dns_delegation and dnssec_check,
which walk from the root, get root hints naming it (port 53 of its loopback address).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from monitor_common.config import Settings, set_settings

from faults.harness import Case, Tally, judge, run
from faults.servers import DNS_NAME, FaultServers

T = 2.0
NEXT_T = 10.0  # the next calls must answer; a loaded CI machine must not fail them
UP = ("ok",)
ANY = ("ok", "warning", "critical", "unknown")
Expect = tuple[tuple[str, ...], str, tuple[str, ...]]

EMAIL_FAILED = ("mx_lookup_failed", "spf_lookup_failed", "dmarc_lookup_failed")


def _no_usable_answer(lookup: str, says: str, propagation: str, reverse: str) -> dict[str, Expect]:
    """The row of a fault after which no tool gets an answer it can use."""
    return {
        "dns_lookup": ((lookup,), says, ("critical",)),
        "dns_propagation": (("no_answer", propagation), says, ("unknown",)),
        "reverse_dns": ((reverse,), says, ("unknown",)),
        "dns_delegation": (("delegation_unreachable",), "", ("unknown",)),
        "dnssec_check": (("dnssec_unknown",), "", ("unknown",)),
        "email_auth_check": (EMAIL_FAILED, says, ("unknown",)),
    }


MATRIX: dict[str, dict[str, Expect]] = {
    "dns_silent": _no_usable_answer("timeout", "no answer over udp", "resolver_unreachable", "timeout"),
    "dns_servfail": _no_usable_answer("servfail", "SERVFAIL", "servfail", "servfail"),
    "dns_refused": _no_usable_answer("refused", "REFUSED", "refused", "refused"),
    # TC over UDP, then a TCP connection that never answers: the truncated answer is no answer.
    "dns_truncated": _no_usable_answer("timeout", "no answer over tcp", "resolver_unreachable", "timeout"),
    "dns_wrong_id": _no_usable_answer("bad_response", "instead of", "resolver_bad_response", "bad_response"),
    "dns_other_name": _no_usable_answer(
        "bad_response", "an answer about elsewhere.example.", "resolver_bad_response", "bad_response"
    ),
    # 64 KB over TCP is legitimate: the tools retry over TCP and read it all.
    "dns_big_tcp": {
        "dns_lookup": (("truncated_retried_tcp",), "000001", UP),
        "dns_propagation": ((), "000001", UP),
    },
}


def arguments(tool: str, server: str, timeout: float = T) -> dict[str, Any]:
    if tool == "dns_lookup":
        return {"name": DNS_NAME, "record_types": ["A", "TXT"], "server": server, "timeout_s": timeout}
    if tool == "dns_propagation":
        return {"name": DNS_NAME, "record_type": "TXT", "resolvers": [server], "timeout_s": timeout}
    if tool == "reverse_dns":
        return {"target": "127.0.0.1", "server": server, "timeout_s": timeout}
    if tool == "email_auth_check":
        return {"domain": "fault.test", "server": server, "timeout_s": timeout}
    return {"domain": "fault.test", "timeout_s": timeout}


def point_at(server: str, directory: Path) -> None:
    """Settings for one fault: loopback allowed, the faulty server as root and as resolver."""
    hints = directory / f"root-{server}.hints"
    hints.write_text(f". 3600 NS a.root.fault.\na.root.fault. 3600 A {server}\n")
    set_settings(
        Settings(
            allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
            dns_root_hints=hints,
            resolver=server,
            dns_resolvers=(server,),
            rate_limit_per_host=0,  # the campaign is about faults; tests/security covers the limiter
        )
    )


def healthy_calls(server: str) -> list[Case]:
    # The healthy server is a zone, not a root: the walks get an answer they judge (the zone is
    # not delegated), which is all "the server answers the next call" asks of them.
    verdicts = {
        "dns_lookup": ("ok", "warning"),  # A 127.0.0.1; no TXT at that name: nodata
        "dns_propagation": UP,
        "reverse_dns": UP,
        "email_auth_check": ("ok", "warning"),
        "dns_delegation": ANY,
        "dnssec_check": ANY,
    }
    return [Case(tool, arguments(tool, server, NEXT_T), (), "", fits) for tool, fits in verdicts.items()]


@pytest.mark.parametrize("fault", sorted(MATRIX))
async def test_dns_monitor_survives(fault: str, faults: FaultServers, tmp_path: Path, tally: Tally) -> None:
    from dns_monitor.server import mcp

    server = faults.dns_address(fault)
    point_at(server, tmp_path)
    cases = [
        Case(tool, arguments(tool, server), codes, says, verdicts)
        for tool, (codes, says, verdicts) in MATRIX[fault].items()
    ]
    async with Client(mcp) as client:
        outcomes = await run(client, cases)
        point_at(faults.dns_address("dns_healthy"), tmp_path)
        after = await run(client, healthy_calls(faults.dns_address("dns_healthy")))
    problems = [p for outcome in outcomes for p in judge(outcome)]
    problems += [f"next call: {p}" for outcome in after for p in judge(outcome)]
    assert not problems, "\n".join(problems)
    tally.add("mcp-dns-monitor", outcomes)
