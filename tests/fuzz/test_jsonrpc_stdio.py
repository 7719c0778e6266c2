"""Malformed JSON-RPC written byte for byte to a real stdio server: errors as JSON-RPC 2.0 says.

Section 5 of the JSON-RPC 2.0 specification: a line that is not JSON gets -32700 (id null); JSON
that is not a Request gets -32600 (the request's id when it has a usable one, else null); an
unknown method -32601; parameters the method cannot take -32602. Notifications get no answer.
After each case the server must still answer a valid request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.reliability import record
from support.stdio_lines import StdioServer

# (line, expected error code, expected id)
CASES: list[tuple[bytes, int, Any]] = [
    (b'{"jsonrpc":"2.0","id":2,"method":"tools/li', -32700, None),  # truncated
    (b"{", -32700, None),
    (b"\xff\xfe\x00garbage", -32700, None),  # not UTF-8
    (b'{"jsonrpc":"2.0","id":3,"method":"ping","x":"\\ud800"}', -32700, None),  # lone surrogate
    (b"[1,2]", -32600, None),  # not an object (and MCP has no batches)
    (b"42", -32600, None),
    (b'"tools/list"', -32600, None),
    (b"null", -32600, None),
    (b"{}", -32600, None),
    (b'{"jsonrpc":"2.0","id":4,"method":5}', -32600, 4),  # method of the wrong type
    (b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":"x"}', -32600, 5),  # params not structured
    (b'{"jsonrpc":"1.0","id":6,"method":"tools/list"}', -32600, 6),
    # Requests whose id is no string or integer: the SDK took them for notifications (no answer).
    (b'{"jsonrpc":"2.0","id":{},"method":"tools/list"}', -32600, None),
    (b'{"jsonrpc":"2.0","id":[1],"method":"tools/list"}', -32600, None),
    (b'{"jsonrpc":"2.0","id":true,"method":"tools/list"}', -32600, None),
    (b'{"jsonrpc":"2.0","id":false,"method":"ping"}', -32600, None),
    (b'{"jsonrpc":"2.0","id":null,"method":"tools/list"}', -32600, None),
    (b'{"jsonrpc":"2.0","id":NaN,"method":"tools/list"}', -32600, None),
    (b'{"jsonrpc":"2.0","id":-Infinity,"method":"ping"}', -32600, None),
    (b'{"jsonrpc":"2.0","id":1e400,"method":"tools/list"}', -32600, None),
    (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', -32600, None),
    (b'{"method":"ping","jsonrpc":"2.0","id":{"id":1}}', -32600, None),
    # Nested deeper than the parser goes (200 levels): json.loads raised RecursionError on these.
    (b"[" * 100_000, -32700, None),
    (b"[" * 100_000 + b"]" * 100_000, -32700, None),
    (b'{"a":' * 100_000, -32700, None),
    (b'{"jsonrpc":"2.0","id":13,"method":"ping","params":{"x":' + b"[" * 100_000, -32700, None),
    (b'{"jsonrpc":"2.0","id":7,"method":"no/such/method"}', -32601, 7),
    (b'{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":5}}', -32602, 8),
    (b'{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"arguments":{}}}', -32602, 9),
    (b'{"jsonrpc":"2.0","id":10,"method":"resources/read","params":{"uri":7}}', -32602, 10),
]


# One process per server for the module: each test also checks it survived the ones before.
@pytest.fixture(scope="module", params=["http_monitor", "ssl_monitor", "dns_monitor"])
def server(request: pytest.FixtureRequest) -> Iterator[StdioServer]:
    with StdioServer.started(request.param) as served:
        yield served


def test_malformed_lines_get_the_specified_errors(server: StdioServer) -> None:
    wrong: list[str] = []
    for line, code, request_id in CASES:
        answer = server.request(line)
        error = answer.get("error") or {}
        if (error.get("code"), answer.get("id")) != (code, request_id) or not error.get("message"):
            wrong.append(f"{line[:50]!r}: expected {code} id={request_id}, got {answer}")
        assert server.answers_ping(), line
    assert not wrong, "\n".join(wrong)
    assert server.process.poll() is None
    record("fuzz", "stdio malformed messages answered", len(CASES), "cases")


def test_ten_megabyte_lines_are_answered_and_survived(server: StdioServer) -> None:
    garbage = b"x" * (10 * 1024 * 1024)
    assert server.request(garbage, timeout=60)["error"]["code"] == -32700
    huge = {"jsonrpc": "2.0", "id": 11, "method": "tools/call",
            "params": {"name": "no_such_tool", "arguments": {"value": "a" * (10 * 1024 * 1024)}}}  # fmt: skip
    answer = server.request(json.dumps(huge).encode(), timeout=60)
    assert answer["id"] == 11 and answer["error"]["code"] == -32602  # Unknown tool
    assert server.answers_ping()


def test_a_flood_of_notifications_then_a_request(server: StdioServer) -> None:
    kinds = [
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
        b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":424242}}',
        b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"x","progress":1}}',
        b'{"jsonrpc":"2.0","method":"notifications/no_such_thing","params":{"a":[1,2,3]}}',
        b'{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}',
    ]
    flood = b"\n".join(kinds[i % len(kinds)] for i in range(10_000))
    started = time.monotonic()
    server.send(flood)
    assert server.answers_ping()  # nothing was answered before (notifications get no answer)
    elapsed = time.monotonic() - started
    assert server.request(b'{"jsonrpc":"2.0","id":12,"method":"tools/list"}')["result"]["tools"]
    record(
        "fuzz", "stdio notification flood", 10_000, "notifications", seconds_to_next_answer=round(elapsed, 2)
    )
