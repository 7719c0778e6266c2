"""Redirects to refused addresses, and a name whose answer changes between the check and the connect.

The policy is widened to exactly one loopback address, 127.0.0.2, where the test's HTTP server
runs; 127.0.0.1 (and ::1) stay refused, and a `Listener` there records anything that reaches it.
Names are answered by the local DNS server, the servers' configured resolver.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import dns.message
import dns.rdatatype
import dns.rrset
import pytest
from mcp import Client
from monitor_common.config import Settings, set_settings
from support.dns_server import DNSServer, Transport, zone
from support.http_server import HttpServer
from support.reliability import record

from security.probe import (
    Case,
    DialRecorder,
    Listener,
    Spelling,
    refusal_problems,
    run_cases,
    servers,
    watched,
)

ALLOWED = (ipaddress.ip_network("127.0.0.2/32"),)


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer(host="127.0.0.2") as running:
        yield running


def settings(tmp_path: Path, dns: DNSServer) -> str:
    resolver = f"{dns.host}:{dns.port}"
    # The campaign sends over a hundred requests to one local server: the per-host rate limit (tested in
    # test_rate_limits.py) would only stretch it from 4 s to 12 s.
    set_settings(
        Settings(
            allow_networks=ALLOWED, resolver=resolver, db=str(tmp_path / "monitor.db"), rate_limit_per_host=0
        )
    )
    return resolver


REDIRECT_TOOLS = ("http_check", "http_redirects", "http_security_headers", "http_check_many", "http_watch")


def redirect_case(tool: str, url: str, spelling: Spelling, variant: str) -> Case:
    arguments: dict[str, Any] = {"timeout_s": 3}
    if tool == "http_check_many":
        arguments["urls"] = [url]
    else:
        arguments["url"] = url
    if tool == "http_watch":
        arguments["action"] = "add"
    return Case("http", tool, arguments, spelling, variant)


async def test_redirects_to_refused_addresses_are_refused(
    tmp_path: Path, server: HttpServer, dns_server: DNSServer
) -> None:
    dns_server.handler = zone(
        {
            ("loop4.test.", "A"): "127.0.0.1",
            ("loop6.test.", "AAAA"): "::1",
            ("allowed.test.", "A"): "127.0.0.2",
        },
        ttl=0,
    )
    resolver = settings(tmp_path, dns_server)
    with Listener() as listener:
        port = listener.port
        targets = [
            (Spelling("127.0.0.1", "loopback", "127.0.0.1"), f"http://127.0.0.1:{port}/"),
            (Spelling("2130706433", "loopback", "127.0.0.1"), f"http://2130706433:{port}/"),
            (Spelling("[::1]", "loopback", "::1"), f"http://[::1]:{port}/"),
            (
                Spelling("[::ffff:127.0.0.1]", "loopback", "::ffff:7f00:1"),
                f"http://[::ffff:127.0.0.1]:{port}/",
            ),
            (Spelling("loop4.test", "loopback", "127.0.0.1"), f"http://loop4.test:{port}/x"),
            (Spelling("loop6.test", "loopback", "::1"), f"http://loop6.test:{port}/x"),
            (Spelling("0x7f.1", "loopback", "127.0.0.1"), f"http://0x7f.1:{port}/"),
            (Spelling("017700000001", "loopback", "127.0.0.1"), f"http://017700000001:{port}/"),
            (Spelling("127.0.0.1.", "loopback", "127.0.0.1"), f"http://127.0.0.1.:{port}/"),
            (Spelling("[::FFFF:7F00:1]", "loopback", "::ffff:7f00:1"), f"http://[::FFFF:7F00:1]:{port}/"),
            (Spelling("127.0.0.1", "loopback", "127.0.0.1"), f"http://user:secret@127.0.0.1:{port}/"),
            (Spelling("127.0.0.1", "loopback", "127.0.0.1"), f"HTTP://127.0.0.1:{port}/"),
        ]
        cases: list[Case] = []
        for (spelling, target), status, tool in itertools.product(
            targets, (301, 302, 303, 307, 308), REDIRECT_TOOLS
        ):
            url = server.url_for(f"/redirect-to?status={status}&url={quote(target, safe='')}")
            cases.append(redirect_case(tool, url, spelling, str(status)))
        # A host change (to a name that is allowed), then a relative redirect: a network-path
        # reference to 127.0.0.1 is resolved against the new URL and refused there.
        relative = (
            f"http://allowed.test:{server.port}/redirect-to?url={quote(f'//127.0.0.1:{port}/', safe='')}"
        )
        first = server.url_for(f"/redirect-to?status=302&url={quote(relative, safe='')}")
        for tool in REDIRECT_TOOLS:
            cases.append(
                redirect_case(tool, first, Spelling("127.0.0.1", "loopback", "127.0.0.1"), "relative")
            )
        # And after a host change to a refused name, the relative redirect it would send is never asked for.
        changed = f"http://loop4.test:{port}/redirect/1"
        first = server.url_for(f"/redirect-to?status=301&url={quote(changed, safe='')}")
        for tool in REDIRECT_TOOLS:
            cases.append(
                redirect_case(tool, first, Spelling("loop4.test", "loopback", "127.0.0.1"), "host-change")
            )

        recorder = DialRecorder()
        with recorder.installed():
            outcomes = await run_cases(cases, recorder, infrastructure=[resolver, f"127.0.0.2:{server.port}"])
    problems = {
        f"{o.label} [{c.variant}]": found
        for c, o in zip(cases, outcomes, strict=True)
        if (found := refusal_problems(o, c.spelling))
    }
    assert problems == {}
    assert listener.hits == []
    # The first hop was really fetched from the allowed server each time.
    assert server.count() >= len(cases)
    record(
        "security",
        "refusals_redirects",
        len(cases),
        "cases",
        statuses=[301, 302, 303, 307, 308],
        tools=list(REDIRECT_TOOLS),
    )


def rebinding(name: str, answers: list[str]) -> Any:
    """A handler that answers `name`'s A queries with each of `answers` in turn, TTL 0."""
    turn = itertools.cycle(answers)
    served: list[str] = []

    def handler(request: dns.message.Message, transport: Transport) -> dns.message.Message:
        response = dns.message.make_response(request)
        question = request.question[0]
        if question.name.to_text() == f"{name}." and question.rdtype == dns.rdatatype.A:
            address = next(turn)
            served.append(address)
            response.answer.append(dns.rrset.from_text(question.name, 0, "IN", "A", address))
        return response

    handler.served = served  # type: ignore[attr-defined]
    return handler


async def test_a_name_that_rebinds_is_judged_by_the_address_dialled(
    tmp_path: Path, dns_server: DNSServer
) -> None:
    handler = rebinding("rebind.test", ["127.0.0.2", "127.0.0.1"])
    dns_server.handler = handler
    resolver = settings(tmp_path, dns_server)
    spelling = Spelling("rebind.test", "loopback", "127.0.0.1")
    # A rebound dial would go to the same port on 127.0.0.1, where the listener waits.
    with watched(lambda: HttpServer(host="127.0.0.2"), ("127.0.0.1",)) as (server, listener):
        url = f"http://rebind.test:{server.port}/"
        t = {"timeout_s": 3}
        cases = [
            *(Case("http", "http_check", {"url": url, **t}, spelling, str(i)) for i in range(6)),
            Case("http", "http_timing", {"url": url, "samples": 6, **t}, spelling),  # a fresh connection each
            Case("http", "http_redirects", {"url": f"{url}redirect/4", **t}, spelling),
            Case("http", "http_check_each_ip", {"url": url, **t}, spelling),
            *(
                Case("http", "tcp_check", {"host": "rebind.test", "port": server.port, **t}, spelling, str(i))
                for i in range(4)
            ),
            *(
                Case("ssl", "cert_check", {"host": "rebind.test", "port": server.port, **t}, spelling, str(i))
                for i in range(2)
            ),
            Case(
                "ssl", "cert_compare_endpoints", {"host": "rebind.test", "port": server.port, **t}, spelling
            ),
        ]
        recorder = DialRecorder()
        with recorder.installed():
            outcomes = await run_cases(cases, recorder, infrastructure=[resolver, f"127.0.0.2:{server.port}"])
        reached = server.count()
    # Whatever the answer of the moment, nothing reached 127.0.0.1 ...
    assert listener.hits == []
    assert all(o.dials == [] for o in outcomes), [o.dials for o in outcomes if o.dials]
    # ... the answers did alternate, some calls reached the allowed address and others were refused,
    # each refusal naming the address it would have dialled and where it came from.
    served = Counter(handler.served)
    assert served["127.0.0.1"] >= 3 and served["127.0.0.2"] >= 3
    refused = [o for o in outcomes if o.message is not None]
    assert refused and reached > 0
    assert all(refusal_problems(o, spelling) == [] for o in refused)
    record(
        "security",
        "rebinding_calls",
        len(outcomes),
        "calls",
        refused=len(refused),
        answers=dict(served),
        reached_allowed=reached,
    )


@pytest.mark.parametrize(
    ("server_name", "tool", "arguments"),
    [
        ("http", "http_watch", {"url": "http://site.test:{port}/"}),
        ("ssl", "cert_watch", {"host": "site.test", "port": "{port}"}),
    ],
)
async def test_a_watch_whose_name_moves_inside_is_refused_on_its_next_run(
    tmp_path: Path, dns_server: DNSServer, server_name: str, tool: str, arguments: dict[str, str]
) -> None:
    dns_server.handler = zone({("site.test.", "A"): "127.0.0.2"}, ttl=0)
    resolver = f"{dns_server.host}:{dns_server.port}"
    set_settings(
        Settings(
            allow_networks=ALLOWED,
            resolver=resolver,
            db=str(tmp_path / "monitor.db"),
            watch_min_interval_s=0.1,
        )
    )
    mcp = servers()[server_name]
    service = watch_service(server_name)
    service.poll_s, service.start_delay_s = 0.1, 0.0
    with watched(lambda: HttpServer(host="127.0.0.2"), ("127.0.0.1",)) as (server, listener):
        filled = {
            k: int(v.format(port=server.port)) if k == "port" else v.format(port=server.port)
            for k, v in arguments.items()
        }
        async with Client(mcp) as client:
            added = await client.call_tool(
                tool, {"action": "add", "name": "site", "interval_s": 0.2, "timeout_s": 2, **filled}
            )
            assert not added.is_error, added.content  # allowed at first: the check ran against 127.0.0.2
            dns_server.handler = zone({("site.test.", "A"): "127.0.0.1"}, ttl=0)  # the owner moves it inside
            summary = ""
            for _ in range(100):
                await anyio.sleep(0.1)
                report = await client.call_tool(f"{tool}_report", {"name": "site", "window": "1h"})
                assert report.structured_content is not None
                summary = report.structured_content["watches"][0]["last_result"]["summary"]
                if "refused to connect to" in summary:
                    break
    assert "refused to connect to 127.0.0.1 (loopback address, resolved from 'site.test')" in summary
    assert listener.hits == []
    record("security", "watch_runs_refused_after_rebinding", 1, "watch", tool=tool)


def watch_service(server_name: str) -> Any:
    """The watch service a server registered (its scheduler's poll interval is set by the tests)."""
    if server_name == "http":
        from http_monitor.server import watch_service
    else:
        from ssl_monitor.server import watch_service
    return watch_service
