"""http-monitor's seven tools against every HTTP and TLS fault they apply to, through the MCP client.

Each fault's calls run at once in one session; then the same session must still answer normal
calls. A tool that reads only the response head (http_redirects, http_security_headers, and
tcp_check once its pattern matched) is not asked about faults in the body.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from monitor_common.config import Settings

from faults.harness import NOT_OK, Case, Tally, judge, run
from faults.servers import FaultServers

T = 2.0
NEXT_T = 10.0  # the next calls must answer; a loaded CI machine must not fail them
UP = ("ok",)
HEAD_OK = ("ok", "warning")  # plain http and no security headers: warnings, but an answer

# fault -> tool -> (codes, phrase, verdicts); a tool missing from a row does not apply to that fault.
Expect = tuple[tuple[str, ...], str, tuple[str, ...]]
MATRIX: dict[str, dict[str, Expect]] = {
    "refused": {
        "http_check": (("connect_refused",), "", ("critical",)),
        "http_check_many": (("http_urls_failing",), "connection refused", ("critical",)),
        "http_timing": (("connect_refused",), "", ("critical",)),
        "http_check_each_ip": (("backend_down",), "connection refused", ("critical",)),
        "http_redirects": (("connect_refused",), "", ("critical",)),
        "http_security_headers": (("connect_refused",), "", ("critical",)),
        "tcp_check": (("connect_refused",), "", ("critical",)),
    },
    "silent": {
        "http_check": (("timeout",), "phase first byte", ("critical",)),
        "http_check_many": (("http_urls_failing",), "phase first byte", ("critical",)),
        "http_timing": (("timeout",), "phase first byte", ("critical",)),
        "http_check_each_ip": (("backend_down",), "phase first byte", ("critical",)),
        "http_redirects": (("timeout",), "phase first byte", ("critical",)),
        "http_security_headers": (("timeout",), "phase first byte", ("critical",)),
        "tcp_check": (("tcp_banner_mismatch",), "(0 bytes)", ("critical",)),
    },
    "slow_headers": {
        "http_check": (("timeout",), "phase first byte", ("critical",)),
        "http_check_many": (("http_urls_failing",), "phase first byte", ("critical",)),
        "http_timing": (("timeout",), "phase first byte", ("critical",)),
        "http_check_each_ip": (("backend_down",), "phase first byte", ("critical",)),
        "http_redirects": (("timeout",), "phase first byte", ("critical",)),
        "http_security_headers": (("timeout",), "phase first byte", ("critical",)),
        "tcp_check": (("tcp_banner_mismatch",), "", ("critical",)),
    },
    "reset_body": {
        "http_check": (("connect_reset",), "reset the connection", ("critical",)),
        "http_check_many": (("http_urls_failing",), "reset the connection", ("critical",)),
        "http_timing": (("connect_reset",), "reset the connection", ("critical",)),
        "http_check_each_ip": (("backend_down",), "reset the connection", ("critical",)),
    },
    "malformed_status": {
        "http_check": (("http_protocol_error",), "illegal status line", ("critical",)),
        "http_check_many": (("http_urls_failing",), "illegal status line", ("critical",)),
        "http_timing": (("http_protocol_error",), "illegal status line", ("critical",)),
        "http_check_each_ip": (("backend_down",), "illegal status line", ("critical",)),
        "http_redirects": (("http_protocol_error",), "illegal status line", ("critical",)),
        "http_security_headers": (("http_protocol_error",), "illegal status line", ("critical",)),
        "tcp_check": (("tcp_banner_mismatch",), "", ("critical",)),
    },
    "huge_headers": {
        "http_check": (("http_headers_too_large",), "", ("critical",)),
        "http_check_many": (("http_urls_failing",), "headers exceed", ("critical",)),
        "http_timing": (("http_headers_too_large",), "", ("critical",)),
        "http_check_each_ip": (("backend_down",), "headers exceed", ("critical",)),
        "http_redirects": (("http_headers_too_large",), "", ("critical",)),
        "http_security_headers": (("http_headers_too_large",), "", ("critical",)),
    },
    # A body that never ends is read up to the cap (1 MB by default), then left: the site is up.
    "endless_body": {
        "http_check": (("body_truncated",), "", UP),
        "http_check_many": ((), "200 OK", UP),
        "http_timing": ((), "", UP),
        "http_check_each_ip": ((), "", UP),
    },
    "redirect_loop": {
        "http_check": (("redirect_loop",), "", ("critical",)),
        "http_check_many": (("http_urls_failing",), "redirect loop", ("critical",)),
        "http_redirects": (("redirect_loop",), "", ("critical",)),
        "http_security_headers": (("redirect_loop",), "", ("critical",)),
    },
    "redirect_chain": {
        "http_check": (("too_many_redirects",), "more than 30 redirects", ("critical",)),
        "http_check_many": (("http_urls_failing",), "more than 10 redirects", ("critical",)),
        "http_redirects": (("too_many_redirects", "redirect_chain_long"), "", ("critical",)),
        "http_security_headers": (("too_many_redirects",), "", ("critical",)),
    },
    "tls_stall": {
        "http_check": (("timeout",), "phase tls", ("critical",)),
        "http_check_many": (("http_urls_failing",), "phase tls", ("critical",)),
        "http_timing": (("timeout",), "phase tls", ("critical",)),
        "http_check_each_ip": (("backend_down",), "phase tls", ("critical",)),
        "http_redirects": (("timeout",), "phase tls", ("critical",)),
        "http_security_headers": (("timeout",), "phase tls", ("critical",)),
        "tcp_check": (("timeout",), "phase: tls", ("critical",)),
    },
    "tls_garbage": {
        "http_check": (("tls_invalid",), "is not TLS", ("critical",)),
        "http_check_many": (("http_urls_failing",), "is not TLS", ("critical",)),
        "http_timing": (("tls_invalid",), "is not TLS", ("critical",)),
        "http_check_each_ip": (("backend_down",), "is not TLS", ("critical",)),
        "http_redirects": (("tls_invalid",), "is not TLS", ("critical",)),
        "http_security_headers": (("tls_invalid",), "is not TLS", ("critical",)),
        "tcp_check": (("tls_invalid",), "is not TLS", ("critical",)),
    },
    # OpenSSL verifies up to 100 certificates deep: 20 intermediates are long, not broken.
    "tls_chain20": {
        "http_check": ((), "200 OK", UP),
        "tcp_check": ((), "accepted a connection", UP),
    },
}


def arguments(tool: str, faults: FaultServers, fault: str, timeout: float = T) -> dict[str, Any]:
    url = faults.url(fault)
    tls = fault.startswith("tls_")
    trust: dict[str, Any] = {"ca_bundle_pem": faults.ca_pem} if tls else {}
    if tool == "http_check":
        return {"url": url, "timeout_s": timeout, "max_redirects": 30, **trust}
    if tool == "http_check_many":
        return {"urls": [url], "timeout_s": timeout}
    if tool == "http_timing":
        return {"url": url, "timeout_s": timeout, "samples": 3, **trust}
    if tool == "http_redirects":
        return {"url": url, "timeout_s": timeout, "max_hops": 30, **trust}
    if tool == "tcp_check":
        return {"host": "127.0.0.1", "port": faults.port(fault), "timeout_s": timeout, "tls": tls,
                "send": "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "expect_regex": r"^HTTP/1\.1 200", **trust}  # fmt: skip
    return {"url": url, "timeout_s": timeout, **trust}


def healthy_calls(faults: FaultServers, tls: bool) -> list[Case]:
    """The next calls: every tool against a server that answers properly."""
    target = "tls_healthy" if tls else "healthy"
    verdicts = {"http_redirects": HEAD_OK, "http_security_headers": HEAD_OK}
    calls: list[Case] = []
    for tool in MATRIX["refused"]:
        # http_check_many takes no CA bundle: its next call is to the plain server.
        server = "healthy" if tool == "http_check_many" else target
        calls.append(Case(tool, arguments(tool, faults, server, NEXT_T), (), "", verdicts.get(tool, UP)))
    return calls


@pytest.mark.parametrize("fault", sorted(MATRIX))
async def test_http_monitor_survives(
    fault: str, faults: FaultServers, loopback_unlimited: Settings, tally: Tally
) -> None:
    from http_monitor.server import mcp

    cases = [
        Case(tool, arguments(tool, faults, fault), codes, says, verdicts)
        for tool, (codes, says, verdicts) in MATRIX[fault].items()
    ]
    async with Client(mcp) as client:
        outcomes = await run(client, cases)
        after = await run(client, healthy_calls(faults, fault.startswith("tls_")))
    problems = [p for outcome in outcomes for p in judge(outcome)]
    problems += [f"next call: {p}" for outcome in after for p in judge(outcome)]
    assert not problems, "\n".join(problems)
    assert all(c.verdicts == UP or set(c.verdicts) <= set(NOT_OK) for c in cases)
    tally.add("mcp-http-monitor", outcomes)
