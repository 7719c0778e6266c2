"""NaN, infinities and booleans given for numbers are invalid input, with a message naming the
parameter, on every path into a tool: an in-process MCP client, raw JSON over stdio (where `NaN`,
`Infinity` and `1e400` are literals the parser accepts) and the `call` command line.

pydantic took them: `interval_s=NaN` passed the watch's bounds (NaN compares false with each)
and reached the store, `port=true` became port 1. Every target here is one the default policy
refuses (TEST-NET, loopback), so before the fix a call ended on that refusal, not on the network.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from e2e.helpers import run_cli
from mcp import Client
from monitor_common.config import Settings
from monitor_common.server import MonitorServer
from support.stdio_lines import INIT, StdioServer

NAN, INF = float("nan"), float("inf")
URL = "https://192.0.2.1/"

# (server package, tool, arguments, the message's end). Booleans only: the in-process client
# serializes a NaN or an infinity as null before the server sees it (raw JSON below has them).
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    ("http_monitor", "http_watch", {"action": "add", "name": "w", "url": URL, "interval_s": True},
     "interval_s must be a number, not true"),
    ("http_monitor", "tcp_check", {"host": "192.0.2.1", "port": True}, "port must be a number, not true"),
    ("http_monitor", "http_check_many", {"urls": [URL], "concurrency": False}, "concurrency must be a number, not false"),
    ("http_monitor", "http_check", {"url": URL, "max_response_ms": True}, "max_response_ms must be a number, not true"),
    ("ssl_monitor", "cert_check", {"host": "192.0.2.1", "port": False}, "port must be a number, not false"),
    ("ssl_monitor", "cert_watch", {"action": "add", "name": "w", "host": "192.0.2.1", "interval_s": True},
     "interval_s must be a number, not true"),
    ("dns_monitor", "dns_lookup", {"name": "example.test", "server": "127.0.0.1", "timeout_s": True},
     "timeout_s must be a number, not true"),
    ("dns_monitor", "dns_watch", {"action": "add", "name": "w", "domain": "example.test", "server": "127.0.0.1", "failure_threshold": True},
     "failure_threshold must be a number, not true"),
    # Strings pydantic reads as NaN or infinity (the SDK passes a string it cannot parse into
    # a list or an object on as is): "NaN" reached the store as an interval.
    ("http_monitor", "http_watch", {"action": "add", "name": "w", "url": URL, "interval_s": "NaN"},
     'interval_s must be a finite number, not "NaN"'),
    ("http_monitor", "http_check", {"url": URL, "max_response_ms": "inf"},
     'max_response_ms must be a finite number, not "inf"'),
    ("dns_monitor", "dns_lookup", {"name": "example.test", "server": "127.0.0.1", "timeout_s": "1e400"},
     'timeout_s must be a finite number, not "1e400"'),
]  # fmt: skip


@pytest.fixture
def store_in_tmp(tmp_path: Path) -> Settings:
    from monitor_common.config import set_settings

    settings = Settings(db=str(tmp_path / "monitor.db"))
    set_settings(settings)
    return settings


@pytest.mark.parametrize(("package", "tool", "arguments", "message"), CASES)
async def test_unusable_numbers_are_refused_over_mcp(
    store_in_tmp: Settings, package: str, tool: str, arguments: dict[str, Any], message: str
) -> None:
    server = importlib.import_module(f"{package}.server").mcp
    assert isinstance(server, MonitorServer)
    async with Client(server) as client:
        result = await client.call_tool(tool, arguments)
        outcome = server.last_outcome
        watches = await client.call_tool(tool, {"action": "list"}) if tool.endswith("_watch") else None
    text = " ".join(c.text for c in result.content if c.type == "text")
    assert result.is_error
    assert text.endswith(message), text
    assert outcome == "input"
    if watches is not None:  # nothing reached the store
        assert not (watches.structured_content or {}).get("watches"), watches.structured_content


# Raw JSON, as a host writes it: `NaN`, `Infinity` and `1e400` are literals the parser reads as
# floats. (tools/call params, the message's end), one server process per package.
RAW: dict[str, list[tuple[bytes, str]]] = {
    "http_monitor": [
        (b'{"name":"http_watch","arguments":{"action":"add","name":"w","url":"https://192.0.2.1/","interval_s":NaN}}',
         "interval_s must be a finite number, not NaN"),
        (b'{"name":"http_check","arguments":{"url":"https://192.0.2.1/","timeout_s":-Infinity}}',
         "timeout_s must be a finite number, not -Infinity"),
        (b'{"name":"tcp_check","arguments":{"host":"192.0.2.1","port":true}}', "port must be a number, not true"),
        (b'{"name":"http_check_many","arguments":{"urls":["https://192.0.2.1/"],"max_response_ms":1e400}}',
         "max_response_ms must be a finite number, not Infinity"),
    ],
    "ssl_monitor": [
        (b'{"name":"cert_check","arguments":{"host":"192.0.2.1","port":1e400}}', "port must be a finite number, not Infinity"),
        (b'{"name":"cert_check","arguments":{"host":"192.0.2.1","warn_days":NaN}}', "warn_days must be a finite number, not NaN"),
        (b'{"name":"cert_watch","arguments":{"action":"add","name":"w","host":"192.0.2.1","interval_s":Infinity}}',
         "interval_s must be a finite number, not Infinity"),
    ],
    "dns_monitor": [
        (b'{"name":"dns_lookup","arguments":{"name":"example.test","server":"127.0.0.1","timeout_s":Infinity}}',
         "timeout_s must be a finite number, not Infinity"),
        (b'{"name":"dns_lookup","arguments":{"name":"example.test","server":"127.0.0.1","expect":["1.2.3.4"],"timeout_s":-1e400}}',
         "timeout_s must be a finite number, not -Infinity"),
        (b'{"name":"dns_watch","arguments":{"action":"add","name":"w","domain":"example.test","server":"127.0.0.1","interval_s":NaN}}',
         "interval_s must be a finite number, not NaN"),
    ],
}  # fmt: skip


@pytest.mark.parametrize("package", list(RAW))
def test_unusable_numbers_are_refused_over_stdio(tmp_path: Path, package: str) -> None:
    server = StdioServer(package, env={"MCP_MONITOR_DB": str(tmp_path / "monitor.db")})
    wrong: list[str] = []
    try:
        assert "result" in server.request(json.dumps(INIT).encode(), timeout=30)
        server.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        for number, (params, message) in enumerate(RAW[package], start=1):
            line = b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":%s}' % (number, params)
            answer = server.request(line, timeout=30)
            result = answer.get("result") or {}
            text = " ".join(c.get("text", "") for c in result.get("content", []))
            if answer.get("id") != number or result.get("isError") is not True or not text.endswith(message):
                wrong.append(f"{params[:70]!r}: expected ...{message}, got {answer}")
    finally:
        server.close()
    assert not wrong, "\n".join(wrong)


CLI = [
    ("http_monitor", ["http_watch", "action=add", "name=w", f"url={URL}", "interval_s=NaN"],
     "interval_s must be a finite number, not NaN"),
    ("http_monitor", ["tcp_check", "host=192.0.2.1", "port=true"], "port must be a number, not true"),
    ("ssl_monitor", ["cert_check", "host=192.0.2.1", "port=1e400"], "port must be a finite number, not Infinity"),
    ("dns_monitor", ["dns_lookup", "name=example.test", "server=127.0.0.1", "timeout_s=Infinity"],
     "timeout_s must be a finite number, not Infinity"),
    ("http_monitor", ["http_watch", "action=add", "name=w", f"url={URL}", 'interval_s="NaN"'],
     'interval_s must be a finite number, not "NaN"'),
]  # fmt: skip


@pytest.mark.parametrize(("package", "argv", "message"), CLI)
def test_unusable_numbers_are_refused_by_call(
    tmp_path: Path, package: str, argv: list[str], message: str
) -> None:
    done = run_cli(package, "call", *argv, env={"MCP_MONITOR_DB": str(tmp_path / "monitor.db")}, timeout=60)
    assert done.returncode == 64, done.stderr
    assert done.stdout == ""
    assert message in done.stderr
