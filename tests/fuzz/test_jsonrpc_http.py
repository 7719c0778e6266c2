"""Malformed JSON-RPC posted to a real streamable-HTTP server: errors as JSON-RPC 2.0 says.

The same table as over stdio, in one session of a server subprocess: not JSON -32700, not a
Request -32600 (with the request's id when it has a usable one), unknown method -32601, bad
parameters -32602; a 10 MB body is refused with 413; a flood of notifications is accepted
(202, no answer). After each case the server answers a valid request.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from support.mcp_http import INIT, MCP_HEADERS, Served, serving
from support.reliability import record
from support.stdio_lines import PING

from fuzz.conftest import PROFILE
from fuzz.test_jsonrpc_stdio import CASES


class Session:
    def __init__(self, served: Served, http: httpx2.AsyncClient, session_id: str) -> None:
        self.served = served
        self.http = http
        self.headers = {**MCP_HEADERS, "mcp-session-id": session_id, "mcp-protocol-version": "2025-06-18"}

    async def post(self, body: bytes) -> tuple[int, dict[str, Any] | None]:
        """The HTTP status and the JSON-RPC message of the answer (plain JSON or one SSE event)."""
        response = await self.http.post(self.served.mcp_url, content=body, headers=self.headers)
        if not response.content:
            return response.status_code, None
        kind = response.headers.get("content-type", "")
        if kind.startswith("text/event-stream"):
            data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
            return response.status_code, json.loads(data[-1])
        return response.status_code, response.json() if kind.startswith("application/json") else None

    async def answers_ping(self) -> bool:
        return await self.post(PING) == (200, {"jsonrpc": "2.0", "id": "ping", "result": {}})


@pytest.fixture(scope="module")
def served() -> Any:
    with serving("dns_monitor") as running:
        yield running


@pytest.fixture
async def session(served: Served) -> AsyncIterator[Session]:
    async with httpx2.AsyncClient(timeout=60) as http:
        response = await http.post(served.mcp_url, json=INIT, headers=MCP_HEADERS)
        assert response.status_code == 200
        opened = Session(served, http, response.headers["mcp-session-id"])
        status, _ = await opened.post(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
        assert status == 202
        yield opened


async def test_malformed_bodies_get_the_specified_errors(session: Session) -> None:
    wrong: list[str] = []
    for body, code, request_id in CASES:
        status, answer = await session.post(body)
        error = (answer or {}).get("error") or {}
        if (error.get("code"), (answer or {}).get("id")) != (code, request_id) or not error.get("message"):
            wrong.append(f"{body[:50]!r}: expected {code} id={request_id}, got HTTP {status} {answer}")
        # Errors about the request itself are HTTP 400; a method's own errors come as a response.
        if code in (-32700, -32600) and status != 400:
            wrong.append(f"{body[:50]!r}: HTTP {status}, expected 400")
        assert await session.answers_ping(), body
    assert not wrong, "\n".join(wrong)
    assert session.served.alive()
    record("fuzz", "http malformed messages answered", len(CASES), "cases")


async def test_ten_megabyte_body_is_refused(session: Session) -> None:
    for body in (
        b" " * (10 * 1024 * 1024),
        json.dumps({**INIT, "id": 2, "pad": "a" * (10 * 1024 * 1024)}).encode(),
    ):
        status, _ = await session.post(body)
        assert status == 413
        assert await session.answers_ping()


async def test_a_flood_of_notifications_then_a_request(session: Session) -> None:
    # One POST each (MCP has no batches): 10000 take half a minute here, so CI sends 2000.
    count, senders = (10_000 if PROFILE == "deep" else 2_000), 50
    body = b'{"jsonrpc":"2.0","method":"notifications/no_such_thing","params":{"a":[1,2,3]}}'
    statuses: list[int] = []

    async def sender(n: int) -> None:
        for _ in range(n):
            statuses.append((await session.post(body))[0])

    started = time.monotonic()
    with anyio.fail_after(120):
        async with anyio.create_task_group() as group:
            for _ in range(senders):
                group.start_soon(sender, count // senders)
    elapsed = time.monotonic() - started
    assert statuses == [202] * count
    assert await session.answers_ping()
    record("fuzz", "http notification flood", count, "notifications", seconds=round(elapsed, 1))
