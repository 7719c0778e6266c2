"""Every tool that connects refuses every spelling of a loopback address, with the default settings.

Runs in-process: were the policy broken, these dials would land on this machine's loopback, where
a `Listener` on the port every case names records them, and the `DialRecorder` notes every
connect or datagram the process attempts while a call runs (the isolation guard stays on too).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from monitor_common.config import Settings, set_settings
from support.dns_server import DNSServer, zone
from support.reliability import record

from security.probe import (
    EXOTIC_HOSTS,
    LOOPBACK_NAMES,
    LOOPBACK_SPELLINGS,
    DialRecorder,
    Listener,
    cases_for,
    exotic_cases,
    name_records,
    refusal_problems,
    run_cases,
)


async def test_every_tool_refuses_every_loopback_spelling(tmp_path: Path) -> None:
    set_settings(Settings(db=str(tmp_path / "monitor.db")))  # the defaults, plus a store for the watches
    recorder = DialRecorder()
    with Listener() as listener, recorder.installed():
        cases = [case for spelling in LOOPBACK_SPELLINGS for case in cases_for(spelling, listener.port)]
        outcomes = await run_cases(cases, recorder)
    problems = {
        outcome.label: found
        for case, outcome in zip(cases, outcomes, strict=True)
        if (found := refusal_problems(outcome, case.spelling))
    }
    assert problems == {}
    assert listener.hits == []
    # Every tool of the matrix is covered, each by every spelling it accepts.
    tools = Counter(outcome.tool for outcome in outcomes)
    assert set(tools) == {
        "http_check", "http_check_many", "http_timing", "http_check_each_ip", "http_redirects",
        "http_security_headers", "tcp_check", "cert_check", "cert_check_many", "tls_scan",
        "cert_compare_endpoints", "cert_revocation", "dns_lookup", "dns_propagation", "reverse_dns",
        "email_auth_check", "http_watch", "cert_watch", "dns_watch",
    }  # fmt: skip
    assert len(outcomes) > 350
    record(
        "security",
        "refusals_loopback_spellings",
        len(outcomes),
        "cases",
        spellings=len(LOOPBACK_SPELLINGS),
        tools=dict(tools),
    )
    record(
        "security",
        "refusals_by_kind",
        len(outcomes),
        "cases",
        kind="loopback spellings (in-process)",
        as_tool_error=sum(o.is_error for o in outcomes),
        as_finding=sum(not o.is_error for o in outcomes),
    )


async def test_every_tool_refuses_names_that_resolve_to_loopback(
    tmp_path: Path, dns_server: DNSServer
) -> None:
    # The servers' resolver is the local DNS server, so target names are looked up there only.
    dns_server.handler = zone(name_records(LOOPBACK_NAMES), ttl=0)
    resolver = f"{dns_server.host}:{dns_server.port}"
    set_settings(Settings(db=str(tmp_path / "monitor.db"), resolver=resolver))
    recorder = DialRecorder()
    with Listener() as listener, recorder.installed():
        cases = [case for spelling, _ in LOOPBACK_NAMES for case in cases_for(spelling, listener.port)]
        outcomes = await run_cases(cases, recorder, infrastructure=[resolver])
    problems = {
        outcome.label: found
        for case, outcome in zip(cases, outcomes, strict=True)
        if (found := refusal_problems(outcome, case.spelling))
    }
    assert problems == {}
    assert listener.hits == []
    assert dns_server.queries["udp"] >= len(cases)  # every name was looked up there, not elsewhere
    record("security", "refusals_loopback_names", len(outcomes), "cases", names=len(LOOPBACK_NAMES))


async def test_unusual_host_text_is_refused_or_rejected_never_dialled(tmp_path: Path) -> None:
    recorder = DialRecorder()
    with Listener() as listener, recorder.installed():
        cases = [case for host in EXOTIC_HOSTS for case in exotic_cases(host, listener.port)]
        outcomes = await run_cases(cases, recorder)
    wrong: dict[str, list[str]] = {}
    kinds = Counter[str]()
    for case, outcome in zip(cases, outcomes, strict=True):
        if outcome.message is not None:
            kinds["refused"] += 1
            if problems := refusal_problems(outcome, case.spelling, named=True):
                wrong[outcome.label] = problems
        elif outcome.is_error and outcome.text and outcome.dials == []:
            kinds["rejected as input"] += 1  # a TargetError: says what is wrong, nothing sent
        else:
            wrong[outcome.label] = [
                f"neither refused nor rejected: {outcome.text[:200]!r} dials={outcome.dials}"
            ]
    assert wrong == {}
    assert listener.hits == []
    assert kinds["refused"] > len(EXOTIC_HOSTS)  # most of them are real spellings of loopback
    record("security", "unusual_host_texts", len(outcomes), "cases", **kinds)
