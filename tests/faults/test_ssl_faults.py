"""ssl-monitor's five connecting tools against every TLS fault they apply to, through the MCP client."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from monitor_common.config import Settings

from faults.harness import Case, Tally, judge, run
from faults.servers import FaultServers

T = 2.0
NEXT_T = 10.0  # the next calls must answer; a loaded CI machine must not fail them
UP = ("ok",)
Expect = tuple[tuple[str, ...], str, tuple[str, ...]]

_UNREACHABLE: dict[str, tuple[str, str]] = {
    # fault -> (the handshake's finding code, what cert_compare_endpoints says of the endpoint)
    "refused": ("connect_refused", "connect_refused"),
    "silent": ("timeout", "timeout"),  # a TCP server that never speaks: the handshake stalls
    "tls_stall": ("timeout", "timeout"),
    "tls_garbage": ("tls_handshake_failed", "tls_handshake_failed"),
}
MATRIX: dict[str, dict[str, Expect]] = {
    fault: {
        "cert_check": ((code,), "", ("critical",)),
        "cert_check_many": ((code,), "", ("critical",)),
        "tls_scan": ((code,), "", ("critical",)),
        "cert_compare_endpoints": (("endpoint_unreachable",), said, ("critical",)),
        "cert_revocation": ((code,), "", ("critical",)),
    }
    for fault, (code, said) in _UNREACHABLE.items()
}
# Path validation stops at cryptography's depth limit: the chain is reported untrusted, and why.
# The scan, the comparison and the revocation check do not depend on the chain's length.
MATRIX["tls_chain20"] = {
    "cert_check": (("untrusted_chain",), "exceeds max depth", ("critical",)),
    "cert_check_many": (("untrusted_chain",), "exceeds max depth", ("critical",)),
    "tls_scan": ((), "TLSv1.3", UP),
    "cert_compare_endpoints": ((), "serve the same certificate", UP),
    "cert_revocation": (("revocation_unknown",), "neither a CRL nor an OCSP", ("unknown",)),
}
# The CRL trickles in a byte a second and the OCSP responder's status line is broken.
MATRIX["tls_revocation_faults"] = {
    "cert_revocation": (("revocation_unknown",), "", ("unknown",)),
}


def arguments(tool: str, faults: FaultServers, fault: str, timeout: float = T) -> dict[str, Any]:
    port = faults.port(fault)
    trust = {"ca_bundle_pem": faults.ca_pem}
    if tool == "cert_check_many":
        return {"targets": [f"127.0.0.1:{port}"], "timeout_s": timeout, **trust}
    if tool in ("tls_scan", "cert_compare_endpoints"):
        return {"host": "127.0.0.1", "port": port, "timeout_s": timeout}
    return {"host": "127.0.0.1", "port": port, "timeout_s": timeout, **trust}


def healthy_calls(faults: FaultServers) -> list[Case]:
    calls = [
        Case(tool, arguments(tool, faults, "tls_healthy", NEXT_T), (), "", UP) for tool in MATRIX["refused"]
    ]
    # A leaf without CRL or OCSP URLs: revocation cannot be known, and the result says so.
    return [
        c
        if c.tool != "cert_revocation"
        else Case(c.tool, c.arguments, ("revocation_unknown",), "", ("unknown",))
        for c in calls
    ]


@pytest.mark.parametrize("fault", sorted(MATRIX))
async def test_ssl_monitor_survives(
    fault: str, faults: FaultServers, loopback_unlimited: Settings, tally: Tally
) -> None:
    from ssl_monitor.server import mcp

    cases = [
        Case(tool, arguments(tool, faults, fault), codes, says, verdicts)
        for tool, (codes, says, verdicts) in MATRIX[fault].items()
    ]
    async with Client(mcp) as client:
        outcomes = await run(client, cases)
        after = await run(client, healthy_calls(faults))
    problems = [p for outcome in outcomes for p in judge(outcome)]
    problems += [f"next call: {p}" for outcome in after for p in judge(outcome)]
    assert not problems, "\n".join(problems)
    tally.add("mcp-ssl-monitor", outcomes)
