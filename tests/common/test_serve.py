"""MonitorServer: error mapping, audit, progress notifications, and the call-argument parser."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver import Context
from monitor_common.audit import AuditLog
from monitor_common.errors import ConfigError, InputError, PolicyError
from monitor_common.fanout import fanout
from monitor_common.results import CheckResult, Finding, Stopwatch, Verdict
from monitor_common.serve import parse_call_arguments
from monitor_common.server import MonitorServer
from monitor_common.toolset import progress_reporter


def make_server(stream: io.StringIO) -> MonitorServer:
    server = MonitorServer("test-monitor", version="0", instructions="for tests")
    server.audit = AuditLog(stream=stream)

    @server.tool()
    async def judge(severity: str, ctx: Context) -> CheckResult:
        """Return a result with one finding of `severity`."""
        started = Stopwatch()
        finding = Finding(severity=Verdict(severity), code="judged", message="m")
        return CheckResult.build(summary=severity, findings=[finding], started=started)

    @server.tool()
    async def refuse(kind: str) -> CheckResult:
        """Raise the error named by `kind`."""
        if kind == "input":
            raise InputError("port 0 is out of range: use 1 to 65535, e.g. example.com:443")
        if kind == "policy":
            raise PolicyError("refused 10.0.0.1 (private)", address="10.0.0.1", category="private")
        raise RuntimeError("secret internals")

    @server.tool()
    async def many(n: int, ctx: Context) -> CheckResult:
        """Fan out over n items, reporting progress."""

        async def check(i: int) -> int:
            return i

        await fanout(list(range(n)), check, on_timeout=lambda i, _: -1, progress=progress_reporter(ctx))
        return CheckResult.build(summary="done", findings=[], started=Stopwatch())

    return server


async def test_monitor_errors_reach_the_model_with_their_message() -> None:
    stream = io.StringIO()
    async with Client(make_server(stream)) as client:
        bad_input = await client.call_tool("refuse", {"kind": "input"})
        refused = await client.call_tool("refuse", {"kind": "policy"})
        crash = await client.call_tool("refuse", {"kind": "crash"})
    texts = [" ".join(c.text for c in r.content if c.type == "text") for r in (bad_input, refused, crash)]
    assert all(r.is_error for r in (bad_input, refused, crash))
    assert texts[0] == "port 0 is out of range: use 1 to 65535, e.g. example.com:443"
    assert texts[1] == "refused 10.0.0.1 (private)"
    assert "secret internals" not in texts[2]  # a crash says nothing of its internals
    audit = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [a["error"][:20] for a in audit] == [texts[0][:20], texts[1][:20], "internal error: Runt"]


@pytest.mark.parametrize("severity", ["ok", "warning", "critical", "unknown"])
async def test_audit_records_the_verdict(severity: str) -> None:
    stream = io.StringIO()
    async with Client(make_server(stream)) as client:
        result = await client.call_tool("judge", {"severity": severity})
    assert result.structured_content is not None and result.structured_content["verdict"] == severity
    (entry,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entry["verdict"] == severity and entry["tool"] == "judge" and entry["server"] == "test-monitor"


async def test_fanout_progress_becomes_notifications() -> None:
    seen: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total))

    async with Client(make_server(io.StringIO())) as client:
        result = await client.call_tool("many", {"n": 5}, progress_callback=on_progress)
    assert not result.is_error
    assert seen == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        (["url=https://example.com/?a=b"], {"url": "https://example.com/?a=b"}),
        (["timeout_s=5", "verify=false", "x=null"], {"timeout_s": 5, "verify": False, "x": None}),
        (['headers={"a": "b"}', "list=[1,2]"], {"headers": {"a": "b"}, "list": [1, 2]}),
        (['quoted="404"', "name=example.com"], {"quoted": "404", "name": "example.com"}),
        (["empty="], {"empty": ""}),
    ],
)
def test_parse_call_arguments(pairs: list[str], expected: dict[str, Any]) -> None:
    assert parse_call_arguments(pairs) == expected


@pytest.mark.parametrize("pair", ["novalue", "=x"])
def test_parse_call_arguments_rejects(pair: str) -> None:
    with pytest.raises(ConfigError, match="key=value"):
        parse_call_arguments([pair])


def test_parse_call_arguments_keeps_the_text_of_string_parameters() -> None:
    pairs = ["expect_status=200", "timeout_s=5", "body_contains=null", "port=443"]
    assert parse_call_arguments(pairs, strings={"expect_status", "body_contains"}) == {
        "expect_status": "200",
        "timeout_s": 5,
        "body_contains": None,
        "port": 443,
    }
