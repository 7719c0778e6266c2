"""The `*_many` tools of every server follow one rule set (monitor_common.bulk): the same rows
for targets that could not be checked or that ran out of time, the same limits on the list."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from http_monitor.bulk import http_check_many
from monitor_common.bulk import Unchecked
from monitor_common.context import CheckContext
from monitor_common.errors import InputError, LimitError, PolicyError, TargetError
from monitor_common.netpolicy import NetworkPolicy
from ssl_monitor.bulk import cert_check_many

LOOPBACK = CheckContext(policy=NetworkPolicy(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),)))


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never says a word."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


async def test_timed_out_rows_agree_across_servers(silent_port: int) -> None:
    # The call's deadline passes while each check still waits for an answer (a TLS handshake, an
    # HTTP response): both servers give the same row.
    http = await http_check_many([f"http://127.0.0.1:{silent_port}/"], LOOPBACK, timeout_s=5, deadline_s=0.5)
    ssl = await cert_check_many([f"127.0.0.1:{silent_port}"], LOOPBACK, timeout_s=5, deadline_s=0.5)
    (http_row,) = http.rows
    (ssl_row,) = ssl.rows
    expected = "unknown: no result: the call's deadline passed before it finished"
    assert (http_row.verdict.value, http_row.summary) == ("unknown", expected)
    assert (ssl_row.verdict, ssl_row.summary) == ("unknown", expected)
    assert [f.code for f in ssl_row.findings] == ["timeout"]


async def test_unchecked_rows_agree_across_servers() -> None:
    # 10.0.0.1 is outside the widened policy: refused before dialling, in both servers.
    http = await http_check_many(["http://10.0.0.1/", "http://exa mple.com/"], LOOPBACK, timeout_s=2)
    ssl = await cert_check_many(["10.0.0.1", "exa mple.com"], LOOPBACK, timeout_s=2)
    http_rows: list[Any] = sorted(http.rows, key=lambda row: row.url)
    ssl_rows: list[Any] = sorted(ssl.rows, key=lambda row: row.target)
    for http_row, ssl_row in zip(http_rows, ssl_rows, strict=True):
        assert http_row.verdict.value == ssl_row.verdict == "unknown"
        assert http_row.summary.startswith("unknown: not checked: ")
        assert ssl_row.summary.startswith("unknown: not checked: ")
    assert "refused to connect to 10.0.0.1" in http_rows[0].summary
    assert "refused to connect to 10.0.0.1" in ssl_rows[0].summary


@pytest.mark.parametrize("engine", ["http", "ssl"])
async def test_list_limits_are_one_rule(engine: str) -> None:
    ctx = LOOPBACK.replace(max_targets=2)
    targets = (
        ["http://a.example/", "http://b.example/", "http://c.example/"]
        if engine == "http"
        else ["a", "b", "c"]
    )
    name = "urls" if engine == "http" else "targets"

    async def run(items: list[str], context: CheckContext) -> object:
        if engine == "http":
            return await http_check_many(items, context)
        return await cert_check_many(items, context)

    with pytest.raises(
        LimitError, match=rf"^3 {name} exceed the limit of 2 per call: .*MCP_MONITOR_MAX_TARGETS"
    ):
        await run(targets, ctx)
    with pytest.raises(InputError, match=rf"^{name} is empty"):
        await run([], ctx)
    with pytest.raises(LimitError, match="concurrency=3 exceeds the server's maximum of 2"):
        await (
            http_check_many(targets[:1], ctx.replace(concurrency=2), concurrency=3)
            if engine == "http"
            else cert_check_many(targets[:1], ctx.replace(concurrency=2), concurrency=3)
        )


@pytest.mark.parametrize(
    ("unchecked", "summary", "code"),
    [
        (Unchecked.refused(TargetError("bad host")), "unknown: not checked: bad host", "target_invalid"),
        (
            Unchecked.refused(
                PolicyError("refused to connect to 10.0.0.1", address="10.0.0.1", category="private")
            ),
            "unknown: not checked: refused to connect to 10.0.0.1",
            "policy_refused",
        ),
        (
            Unchecked.timed_out("item_timeout", 7.0),
            "unknown: no result: it ran past its timeout of 7 s",
            "timeout",
        ),
        (
            Unchecked.timed_out("deadline", 7.0),
            "unknown: no result: the call's deadline passed before it finished",
            "timeout",
        ),
    ],
)
def test_unchecked_rows(unchecked: Unchecked, summary: str, code: str) -> None:
    assert unchecked.summary == summary
    finding = unchecked.finding()
    assert (finding.severity.value, finding.code, finding.message) == (
        "unknown",
        code,
        summary.split(": ", 1)[1],
    )
