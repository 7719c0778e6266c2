"""A widened policy allows exactly what it names, as the operator writes it (MCP_MONITOR_* variables).

tcp_check through the in-process client against listeners on 127.0.0.1, 127.0.0.2, 127.0.0.3,
127.0.0.4 and ::1 (one port): what the setting names is reached, everything else is refused with
the reason, and the listeners show which addresses were really dialled.
"""

from __future__ import annotations

from collections import Counter

from mcp import Client
from monitor_common.config import Settings, set_settings
from support.dns_server import DNSServer, zone
from support.reliability import record

from security.probe import Listener, refusal_in, servers

HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "::1")

# (environment, {host as the caller writes it: the listener it may reach, or None when refused})
POLICIES: list[tuple[dict[str, str], dict[str, str | None]]] = [
    (
        {"MCP_MONITOR_ALLOW_NETWORKS": "127.0.0.2/32"},
        {
            "127.0.0.2": "127.0.0.2",
            "0x7f000002": "127.0.0.2",
            "[::ffff:127.0.0.2]": "127.0.0.2",  # the same IPv4 address, IPv4-mapped
            "127.0.0.1": None,
            "127.0.0.3": None,
            "127.1": None,
            "[::1]": None,
            "[::ffff:127.0.0.3]": None,
            "ok2.test": "127.0.0.2",
            "ok1.test": None,
        },
    ),
    (
        {"MCP_MONITOR_ALLOW_NETWORKS": "::1/128"},
        {"[::1]": "::1", "::1": "::1", "127.0.0.1": None, "[::ffff:127.0.0.1]": None, "127.0.0.2": None},
    ),
    (
        {"MCP_MONITOR_ALLOW_NETWORKS": "127.0.0.2/31,::1/128"},
        {
            "127.0.0.2": "127.0.0.2",
            "127.0.0.3": "127.0.0.3",
            "[::1]": "::1",
            "127.0.0.1": None,
            "127.0.0.4": None,
        },
    ),
    (
        {"MCP_MONITOR_ALLOW_HOSTS": "ok1.test,.corp.test"},
        {
            "ok1.test": "127.0.0.1",
            "a.corp.test": "127.0.0.1",
            "b.a.corp.test": "127.0.0.1",
            "corp.test": None,  # ".corp.test" names what is below it, not itself
            "ok1.test.evil.test": None,
            "other.test": None,
            "127.0.0.1": None,  # a name on the list does not allow its address to everyone
        },
    ),
    (
        {"MCP_MONITOR_ALLOW_PRIVATE": "true"},
        {"127.0.0.1": "127.0.0.1", "127.0.0.4": "127.0.0.4", "[::1]": "::1", "ok1.test": "127.0.0.1"},
    ),
    ({}, {host: None for host in ("127.0.0.1", "127.0.0.2", "[::1]", "ok1.test", "ok2.test")}),
]


async def test_a_widened_policy_allows_exactly_what_it_names(dns_server: DNSServer) -> None:
    records = {
        (f"{name}.", "A"): "127.0.0.1" for name in ("ok1.test", "a.corp.test", "b.a.corp.test", "corp.test")
    }
    records |= {("ok1.test.evil.test.", "A"): "127.0.0.1", ("other.test.", "A"): "127.0.0.1"}
    records |= {("ok2.test.", "A"): "127.0.0.2"}
    dns_server.handler = zone(records, origin="test.", ttl=0)
    resolver = f"{dns_server.host}:{dns_server.port}"
    wrong: list[str] = []
    checked = Counter[str]()
    with Listener(HOSTS) as listener:
        async with Client(servers()["http"]) as client:
            for environ, expected in POLICIES:
                set_settings(Settings.load(environ={**environ, "MCP_MONITOR_RESOLVER": resolver}))
                for host, reaches in expected.items():
                    listener.hits.clear()
                    result = await client.call_tool(
                        "tcp_check", {"host": host, "port": listener.port, "timeout_s": 2}
                    )
                    texts = [c.text for c in result.content if c.type == "text"]
                    message = refusal_in(texts)
                    if reaches is not None:
                        await listener.wait_for_hit()
                    tcp_hits = [hit for hit in listener.hits if hit.startswith("tcp")]
                    if reaches is None:
                        said = message or ""
                        good = result.is_error and not tcp_hits
                        good = good and "network policy" in said and "To allow it set" in said
                        checked["refused"] += 1
                    else:
                        structured = result.structured_content or {}
                        good = not result.is_error and structured.get("verdict") == "ok"
                        good = good and tcp_hits == [f"tcp to {reaches}"]
                        checked["allowed"] += 1
                    if not good:
                        wrong.append(
                            f"{environ} {host}: {texts or result.structured_content} hits={tcp_hits}"
                        )
    assert wrong == []
    record("security", "widened_policy_cases", sum(checked.values()), "cases", **checked)
