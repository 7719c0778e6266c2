"""Secrets never echoed (issue 19): every tool and every watch action of the three servers is fed
planted secrets, and every output is searched for them.

The secrets are URL passwords (with unencoded `/`, `#`, `?` and `@` in them), credential header
values under names that only a rule recognizes (`X-Session-Id`, `My-Signature`), a tcp_check
`send` payload and the password of a DoH server's URL. Each secret is made of fragments
`zz<secret>q<fragment>` between its delimiters, so a partial echo (what a parser left of a
password it split at `/`) is caught as surely as a whole one.

The places searched: each call's structured result, its text content and its error message; the
resources `monitor://watches`, `monitor://watches/{name}` and `monitor://config`; every log record
of the run; and the audit file.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, MCPError
from monitor_common.audit import AuditLog
from support.dns_server import DNSServer, zone
from support.encrypted_dns import DnsOverHttps
from support.http_server import HttpServer
from support.reliability import record
from support.watch_helpers import watch_settings_in

from security.probe import servers

_FRAGMENT = re.compile(r"zz(\d+)q\d+")


def _secret(number: int, delimiters: str) -> str:
    """`zz<n>q0<d1>zz<n>q1<d2>...`: one fragment more than there are delimiters."""
    parts = [f"zz{number}q{i}" for i in range(len(delimiters) + 1)]
    return "".join(p + d for p, d in zip(parts, [*delimiters, ""], strict=True))


# The planted secrets and where each goes.
URL_SLASH_HASH_QUERY = _secret(0, "/#?")  # https://user:p/a#s?s@host/path
URL_AT = _secret(1, "@")  # a password with an "@": the userinfo ends at the last one
URL_PLAIN = _secret(2, "")  # an ordinary password, for the URLs the checks really fetch
HEADER_VALUES = {
    "X-Api-Key": _secret(3, ""),
    "Authorization": "Bearer " + _secret(4, ""),
    "X-Session-Id": _secret(5, ""),
    "Cookie": "sid=" + _secret(6, ""),
    "My-Signature": _secret(7, ""),
}
SEND_PAYLOAD = _secret(8, "") + "\r\n"
DOH_PASSWORD = _secret(9, "")
DOH_PASSWORD_SLASH = _secret(10, "/?")
SECRETS = 11


def _url(server: HttpServer, password: str, path: str = "/") -> str:
    return f"http://user:{password}@127.0.0.1:{server.port}{path}"


@pytest.fixture
def http() -> Iterator[HttpServer]:
    with HttpServer() as server:
        yield server


@pytest.fixture
def dns() -> Iterator[DNSServer]:
    with DNSServer(zone({("example.com.", "A"): ["192.0.2.1"]})) as server:
        yield server


def _calls(http: HttpServer, dns: DNSServer, doh: DnsOverHttps) -> list[tuple[str, str, dict[str, Any]]]:
    bad_url = _url(http, URL_SLASH_HASH_QUERY, "/path")
    at_url = _url(http, URL_AT)
    good_url = _url(http, URL_PLAIN)
    doh_url = doh.url.replace("https://", f"https://doh:{DOH_PASSWORD}@")
    doh_bad = doh.url.replace("https://", f"https://doh:{DOH_PASSWORD_SLASH}@")
    resolver = f"127.0.0.1:{dns.port}"
    port = http.port
    watch_url = {"url": good_url, "headers": HEADER_VALUES}
    calls: list[tuple[str, str, dict[str, Any]]] = []
    for url in (bad_url, at_url, good_url):
        calls += [
            ("http", "http_check", {"url": url, "headers": HEADER_VALUES, "follow_redirects": True}),
            ("http", "http_check_many", {"urls": [url, good_url]}),
            ("http", "http_timing", {"url": url, "samples": 1}),
            ("http", "http_check_each_ip", {"url": url}),
            ("http", "http_redirects", {"url": url}),
            ("http", "http_security_headers", {"url": url}),
            ("ssl", "cert_check", {"host": url}),
            ("ssl", "cert_check_many", {"targets": [url]}),
            ("ssl", "cert_decode", {"pem": url}),
            ("ssl", "tls_scan", {"host": url}),
            ("ssl", "cert_compare_endpoints", {"host": url}),
            ("ssl", "cert_revocation", {"host": url}),
            ("dns", "dns_lookup", {"name": url}),
            ("dns", "reverse_dns", {"target": url}),
            ("dns", "dns_delegation", {"domain": url}),
            ("dns", "dnssec_check", {"domain": url}),
            ("dns", "email_auth_check", {"domain": url}),
            ("dns", "domain_expiry", {"domain": url}),
            ("http", "http_watch_report", {"name": url}),
        ]
    calls += [
        ("http", "tcp_check", {"host": "127.0.0.1", "port": port, "send": SEND_PAYLOAD}),
        (
            "http",
            "tcp_check",
            {"host": "127.0.0.1", "port": port, "send": SEND_PAYLOAD, "expect_regex": "x("},
        ),
        ("http", "http_check", {"url": f"http://127.0.0.1:{port}/", "headers": HEADER_VALUES}),
        ("http", "http_check", {"url": f"http://127.0.0.1:{port}/", "headers": {"X-Api-Key": "a\nb"}}),
        ("http", "http_check", {"url": good_url, "headers": HEADER_VALUES, "max_response_ms": -1}),
    ]
    for server in (doh_url, doh_bad):
        calls += [
            ("dns", "dns_lookup", {"name": "example.com", "server": server}),
            ("dns", "dns_lookup", {"name": "example.com", "server": server, "record_types": ["A", "MX"]}),
            ("dns", "dns_propagation", {"name": "example.com", "resolvers": [server, resolver]}),
            ("dns", "reverse_dns", {"target": "192.0.2.1", "server": server}),
            ("dns", "email_auth_check", {"domain": "example.com", "server": server}),
        ]
    # Every watch action, each server; names given and defaulted (the default is the target).
    calls += [
        ("http", "http_watch", {"action": "add", **watch_url, "interval_s": 3600}),
        ("http", "http_watch", {"action": "add", "name": "site", **watch_url, "interval_s": 3600}),
        ("http", "http_watch", {"action": "add", "url": bad_url, "interval_s": 3600}),
        ("http", "http_watch", {"action": "add", "url": at_url, "name": "at", "interval_s": 3600}),
        ("http", "http_watch", {"action": "add", **watch_url, "interval_s": 0.001}),
        ("ssl", "cert_watch", {"action": "add", "host": bad_url, "interval_s": 3600}),
        (
            "dns",
            "dns_watch",
            {"action": "add", "domain": "example.com", "server": doh_url, "interval_s": 3600},
        ),
        (
            "dns",
            "dns_watch",
            {"action": "add", "domain": "example.com", "server": doh_bad, "interval_s": 3600},
        ),
    ]
    for server, kind in (("http", "http"), ("ssl", "cert"), ("dns", "dns")):
        for action in ("list", "pause", "resume", "list"):
            for name in ("site", good_url, "example.com", bad_url):
                calls.append((server, f"{kind}_watch", {"action": action, "name": name}))
        calls += [
            (server, f"{kind}_watch_report", {}),
            (server, f"{kind}_watch_report", {"name": "site"}),
            (server, f"{kind}_watch_report", {"name": good_url}),
            (server, f"{kind}_watch_report", {"name": "example.com"}),
        ]
    for server, kind in (("http", "http"), ("ssl", "cert"), ("dns", "dns")):
        calls.append((server, f"{kind}_watch", {"action": "remove", "name": good_url}))
    return calls


def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


def _resource_text(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.contents)


def found(places: dict[str, str]) -> dict[int, list[str]]:
    """The planted secrets (by number) that appear in `places`, with where."""
    leaks: dict[int, list[str]] = {}
    for where, text in places.items():
        for match in _FRAGMENT.finditer(text):
            places_of = leaks.setdefault(int(match.group(1)), [])
            if where not in places_of:
                places_of.append(where)
    return leaks


async def test_no_planted_secret_is_echoed(
    tmp_path: Path, http: HttpServer, dns: DNSServer, caplog: pytest.LogCaptureFixture
) -> None:
    audit_path = tmp_path / "audit.jsonl"
    watch_settings_in(tmp_path, record=True, dns_resolvers=(f"127.0.0.1:{dns.port}",), audit_log=audit_path)
    caplog.set_level(logging.DEBUG)
    places: dict[str, str] = {}
    mcp = servers()
    saved = {name: server.audit for name, server in mcp.items()}
    with DnsOverHttps(zone({("example.com.", "A"): ["192.0.2.1"]})) as doh:
        try:
            for server in mcp.values():
                server.audit = AuditLog(audit_path)
            async with AsyncExitStack() as stack:
                clients = {
                    name: await stack.enter_async_context(Client(server)) for name, server in mcp.items()
                }
                timed = {
                    tool.name
                    for client in clients.values()
                    for tool in (await client.list_tools()).tools
                    if "timeout_s" in tool.input_schema.get("properties", {})
                }
                planned = _calls(http, dns, doh)
                calls = len(planned)
                for i, (server, tool, arguments) in enumerate(planned):
                    if tool in timed and arguments.get("action", "add") == "add":
                        arguments = {"timeout_s": 2, **arguments}
                    where = f"{i}:{tool}({', '.join(arguments)})"
                    result = await clients[server].call_tool(tool, arguments)  # a refusal is a result
                    places[f"{where} structured"] = json.dumps(result.structured_content)
                    places[f"{where} text"] = _text(result)
                for server, client in clients.items():
                    places[f"{server} monitor://watches"] = _resource_text(
                        await client.read_resource("monitor://watches")
                    )
                    places[f"{server} monitor://config"] = _resource_text(
                        await client.read_resource("monitor://config")
                    )
                    for name in ("site", "at", "example.com"):
                        try:
                            text = _resource_text(await client.read_resource(f"monitor://watches/{name}"))
                        except MCPError as exc:  # not found is an output too
                            text = str(exc)
                        places[f"{server} monitor://watches/{name}"] = text
        finally:
            for name, server in mcp.items():
                server.audit = saved[name]
    for i, entry in enumerate(caplog.records):
        places[f"log {i} {entry.name}"] = f"{entry.getMessage()} {entry.exc_text or ''}"
    places["audit"] = audit_path.read_text(encoding="utf-8")
    assert len(places["audit"].splitlines()) > 100  # the calls were audited

    leaks = found(places)
    record(
        "security",
        "secrets planted and found",
        f"{SECRETS} planted, {len(leaks)} found",
        places_checked=len(places),
        calls=calls,
    )
    assert leaks == {}, "\n".join(
        f"secret {n}: {len(where)} places: {where}" for n, where in sorted(leaks.items())
    )
    # The secrets went where they are shown, redacted: the calls did reach the code that shows them.
    shown = "\n".join(places.values())
    assert f"http://***:***@127.0.0.1:{http.port}/" in places["http monitor://watches"]
    assert '"X-Session-Id": "***"' in places["http monitor://watches"]
    assert '"My-Signature": "***"' in places["http monitor://watches"]
    assert '"send":"***"' in places["audit"]
    assert f"https://***:***@127.0.0.1:{doh.port}/dns-query" in shown
    assert "percent-encode them" in shown  # the password with '/', '?' or '#' was refused, not dialled


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zz1q0", {1: ["x"]}),
        ("nothing here", {}),
    ],
)
def test_the_search_finds_a_fragment(text: str, expected: dict[int, list[str]]) -> None:
    assert found({"x": text}) == expected
