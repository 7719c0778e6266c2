"""The shared table of finding codes, the one expiry rule, and what counts as the monitor's own outage."""

from __future__ import annotations

import errno
import socket
from ipaddress import ip_address
from pathlib import Path

import dns.rcode
import pytest
from monitor_common import findings
from monitor_common.findings import SHARED, cert_expiry_findings, readme_table
from monitor_common.netpolicy import ResolutionError, _connect_failure, dns_resolver, monitor_side
from monitor_common.ratelimit import RATE_LIMITED
from monitor_common.results import Verdict
from monitor_common.store import advance_state
from support.dns_server import DNSServer, rcode

ROOT = Path(__file__).resolve().parents[2]


def test_one_entry_per_code_all_documented_in_the_root_readme() -> None:
    codes = [entry.code for entry in SHARED]
    assert len(codes) == len(set(codes))
    assert all(entry.meaning and entry.hint for entry in SHARED)
    # The README's section is generated from the table; this keeps the two from drifting even
    # when scripts/build_docs.py is not run.
    assert readme_table() in (ROOT / "README.md").read_text()
    assert findings.RATE_LIMITED.code == RATE_LIMITED


def test_a_finding_takes_the_entrys_code_severity_and_hint_unless_told_otherwise() -> None:
    plain = findings.CONNECT_REFUSED.finding("connection refused")
    assert (plain.code, plain.severity, plain.hint) == (
        "connect_refused",
        Verdict.CRITICAL,
        findings.CONNECT_REFUSED.hint,
    )
    special = findings.TIMEOUT.finding(
        "x timed out in phase tls", hint="a middlebox", severity=Verdict.WARNING
    )
    assert (special.code, special.severity, special.hint) == ("timeout", Verdict.WARNING, "a middlebox")


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [
        (None, []),
        (-2.5, [("cert_expired", Verdict.CRITICAL, "expired 2.5 days ago")]),
        (3.0, [("cert_expiring_soon", Verdict.CRITICAL, "expires in 3.0 days")]),
        (6.99, [("cert_expiring_soon", Verdict.CRITICAL, "expires in 7.0 days")]),
        (7.0, [("cert_expiring_soon", Verdict.WARNING, "expires in 7.0 days")]),
        (20.9, [("cert_expiring_soon", Verdict.WARNING, "expires in 20.9 days")]),
        (21.0, []),
        (300.0, []),
    ],
)
def test_one_expiry_rule_with_the_callers_thresholds(
    days_left: float | None, expected: list[tuple[str, Verdict, str]]
) -> None:
    found = cert_expiry_findings(
        days_left, "2026-12-01T00:00:00Z", warn_days=21, critical_days=7, subject="it"
    )
    assert [(f.code, f.severity) for f in found] == [(code, severity) for code, severity, _ in expected]
    for finding, (_, _, words) in zip(found, expected, strict=True):
        assert finding.message == f"it {words} (2026-12-01T00:00:00Z)"


def test_a_run_that_only_met_the_monitors_outage_moves_no_watch() -> None:
    assert {"rate_limited", "monitor_network_unavailable", "pattern_too_slow"} == findings.NOT_CHECKED_CODES
    for state in ("pending", "up", "down"):
        for code in ("monitor_network_unavailable", "pattern_too_slow"):
            assert advance_state(
                state,
                1,
                0,
                "unknown",
                failure_threshold=1,
                success_threshold=1,
                codes=(code,),
            ) == (state, 1, 0, None)
    # The target's own failure still counts, even next to it.
    assert advance_state(
        "up",
        0,
        3,
        "unknown",
        failure_threshold=1,
        success_threshold=1,
        codes=("monitor_network_unavailable", "timeout"),
    ) == ("down", 1, 0, "opened")


def _wrapped(exc: BaseException) -> Exception:
    # What httpx2 and anyio make of a socket error: an errno-less error whose cause is the socket's.
    outer = RuntimeError("All connection attempts failed")
    outer.__cause__ = exc
    return outer


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ResolutionError("example.com", "Temporary failure in name resolution", monitor_side=True), True),
        (ResolutionError("nosuch.example", "Name or service not known"), False),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), True),
        (OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"), True),
        (_wrapped(OSError(errno.ENETUNREACH, "Network is unreachable")), True),
        (OSError(errno.ECONNREFUSED, "Connection refused"), False),
        (OSError(errno.EHOSTUNREACH, "No route to host"), False),  # an ICMP answer from the path
        (_wrapped(ConnectionResetError(errno.ECONNRESET, "reset")), False),
        (TimeoutError(), False),
    ],
)
def test_monitor_side_reads_the_flag_or_the_errno_never_the_text(exc: BaseException, expected: bool) -> None:
    assert monitor_side(exc) is expected


V4, V6 = ip_address("192.0.2.1"), ip_address("2001:db8::1")
NO_ROUTE = OSError(errno.ENETUNREACH, "Network is unreachable")


@pytest.mark.parametrize(
    ("failures", "expected"),
    [
        ([(V6, NO_ROUTE), (V4, NO_ROUTE)], errno.ENETUNREACH),  # nothing left the machine
        ([(V6, NO_ROUTE), (V4, ConnectionRefusedError(errno.ECONNREFUSED, "refused"))], errno.ECONNREFUSED),
        ([(V4, ConnectionRefusedError(errno.ECONNREFUSED, "refused")), (V6, NO_ROUTE)], errno.ECONNREFUSED),
        ([(V6, NO_ROUTE), (V4, TimeoutError())], "timeout"),  # no IPv6 here, and IPv4 did not answer
    ],
)
def test_a_host_is_blamed_for_its_addresses_the_monitor_only_when_none_left_the_machine(
    failures: list[tuple[object, OSError]], expected: object
) -> None:
    error = _connect_failure("example.com", 443, 3.0, failures)  # pyright: ignore[reportArgumentType]
    if expected == "timeout":
        assert isinstance(error, TimeoutError)
    else:
        assert error.errno == expected
    assert monitor_side(error) is (expected == errno.ENETUNREACH)


def _closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_configured_resolver_that_cannot_be_reached_is_the_monitors_outage() -> None:
    resolver = dns_resolver("127.0.0.1", _closed_udp_port(), timeout=2)
    with pytest.raises(ResolutionError) as caught:
        await resolver("www.example.com", socket.AF_INET)
    assert caught.value.monitor_side


async def test_a_configured_resolver_that_answers_servfail_blames_the_name() -> None:
    with DNSServer() as server:
        server.handler = rcode(dns.rcode.SERVFAIL)
        resolver = dns_resolver(*server.address, timeout=2)
        with pytest.raises(ResolutionError) as caught:
            await resolver("www.example.com", socket.AF_INET)
    assert not caught.value.monitor_side
