"""Real results against the output schemas tools/list serves: abridged, never wrong, and still strict.

A client may validate `structuredContent` against the listed `outputSchema`. Every result a tool
really returns (good and bad targets, empty fields and full ones) must pass, and a result the full
model would refuse, such as an invented verdict, must not.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import dns.name
from http_monitor.session import close_shared_clients
from jsonschema import Draft202012Validator
from mcp import Client
from support.certs import CertAuthority, serve_tls
from support.dns_server import DNSServer, refused, zone
from support.http_server import HttpServer
from support.ports import free_port
from support.watch_helpers import watch_settings_in

Call = tuple[str, dict[str, Any]]


async def _results(module: str, calls: list[Call]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(tool, served output schema, structured result) for each call, in order."""
    server = importlib.import_module(f"{module}.server").mcp
    out: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    async with Client(server) as client:
        schemas = {t.name: t.output_schema for t in (await client.list_tools()).tools}
        for name, arguments in calls:
            result = await client.call_tool(name, arguments)
            assert not result.is_error, (name, [c.text for c in result.content if c.type == "text"])
            schema = schemas[name]
            assert result.structured_content is not None and schema is not None, name
            out.append((name, schema, result.structured_content))
    return out


def _assert_served_schemas_accept(results: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> None:
    for name, schema, result in results:
        Draft202012Validator.check_schema(schema)
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(result)]
        assert not errors, (name, errors)
        # The verdict is one of the four, not any string (what a client relies on to branch).
        assert not Draft202012Validator(schema).is_valid({**result, "verdict": "bogus"}), name


async def test_http_results_match_the_served_schemas(
    tmp_path: Path, http_server: HttpServer, https_server: HttpServer
) -> None:
    watch_settings_in(tmp_path)  # loopback allowed; the store in tmp_path
    tls = {"ca_bundle_pem": (https_server.ca_pem or b"").decode()}
    closed = f"http://127.0.0.1:{free_port()}/"
    calls: list[Call] = [
        ("http_check", {"url": https_server.url_for("/redirect/1"), **tls}),
        ("http_check", {"url": closed}),  # nothing answers: most fields null
        ("http_check", {"url": http_server.url_for("/json"), "expect_json": {"data.status": "down"}}),
        ("http_check_many", {"urls": [http_server.url, http_server.url_for("/status/500"), closed]}),
        ("http_timing", {"url": https_server.url, "samples": 2, **tls}),
        ("http_redirects", {"url": http_server.url_for("/redirect/2")}),
        ("http_security_headers", {"url": https_server.url, **tls}),
        ("http_security_headers", {"url": closed}),
        ("tcp_check", {"host": "127.0.0.1", "port": http_server.port, "send": "HEAD / HTTP/1.0\r\n\r\n"}),
        ("tcp_check", {"host": "127.0.0.1", "port": free_port()}),
        ("http_watch", {"action": "add", "name": "site", "url": http_server.url, "interval_s": 3600}),
        ("http_watch", {"action": "list"}),
        ("http_watch_report", {"window": "1h"}),
        ("http_watch", {"action": "remove", "name": "site"}),
    ]
    try:
        results = await _results("http_monitor", calls)
    finally:
        await close_shared_clients()  # the pool lives as long as the event loop, which ends with the test
    _assert_served_schemas_accept(results)


async def test_ssl_results_match_the_served_schemas(tmp_path: Path, ca: CertAuthority) -> None:
    watch_settings_in(tmp_path)
    good, expired = ca.with_intermediate(), ca.expired()
    async with (
        serve_tls(good.server_ssl_context()) as (_, port),
        serve_tls(expired.server_ssl_context()) as (_, bad_port),
    ):
        trust = {"ca_bundle_pem": ca.cert_pem}
        calls: list[Call] = [
            ("cert_check", {"host": "127.0.0.1", "port": port, **trust}),
            ("cert_check", {"host": "127.0.0.1", "port": bad_port}),  # expired and untrusted
            ("cert_check_many", {"targets": [f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}"], **trust}),
            ("cert_decode", {"pem": good.chain_pem + ca.cert_pem}),
            ("tls_scan", {"host": "127.0.0.1", "port": port}),
            ("cert_compare_endpoints", {"host": "localhost", "port": port, "connect_ips": ["127.0.0.1"]}),
            ("cert_watch", {"action": "add", "name": "tls", "host": "127.0.0.1", "port": port, **trust}),
            ("cert_watch_report", {"window": "1h"}),
            ("cert_watch", {"action": "remove", "name": "tls"}),
        ]
        results = await _results("ssl_monitor", calls)
    _assert_served_schemas_accept(results)


async def test_dns_results_match_the_served_schemas(tmp_path: Path, dns_server: DNSServer) -> None:
    watch_settings_in(tmp_path)
    server = f"127.0.0.1:{dns_server.port}"
    mail = zone(
        {
            ("www.example.com.", "A"): ["192.0.2.1"],
            ("example.com.", "MX"): ["10 mail.example.com."],
            ("example.com.", "TXT"): ['"v=spf1 -all"'],
            ("_dmarc.example.com.", "TXT"): ['"v=DMARC1; p=reject"'],
        }
    )
    ptr = zone({("1.2.0.192.in-addr.arpa.", "PTR"): ["www.example.com."]}, origin="2.0.192.in-addr.arpa.")
    arpa = dns.name.from_text("in-addr.arpa.")
    dns_server.handler = lambda request, transport: (
        ptr if request.question[0].name.is_subdomain(arpa) else mail
    )(request, transport)
    calls: list[Call] = [
        ("dns_lookup", {"name": "www.example.com", "record_types": ["A", "AAAA"], "server": server}),
        ("dns_lookup", {"name": "nothing.example.com", "server": server, "expect": ["192.0.2.9"]}),
        (
            "dns_propagation",
            {"name": "www.example.com", "resolvers": [server], "include_authoritative": False},
        ),
        ("reverse_dns", {"target": "192.0.2.1", "server": server}),
        ("email_auth_check", {"domain": "example.com", "server": server, "dkim_selectors": ["s1"]}),
        ("dns_watch", {"action": "list"}),
        ("dns_watch_report", {"window": "1h"}),
    ]
    results = await _results("dns_monitor", calls)
    dns_server.handler = refused
    results += await _results("dns_monitor", [("dns_lookup", {"name": "www.example.com", "server": server})])
    _assert_served_schemas_accept(results)
