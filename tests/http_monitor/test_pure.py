"""Pure helpers of http-monitor: status specifications, JSON paths, trace phases."""

from __future__ import annotations

from typing import Any

import pytest
from http_monitor._trace import PhaseTrace
from http_monitor.assertions import json_path
from http_monitor.status import parse_status_spec
from monitor_common.errors import InputError


@pytest.mark.parametrize(
    ("spec", "inside", "outside"),
    [
        ("200-399", [200, 301, 399], [199, 400, 503]),
        ("2xx,301,404", [200, 299, 301, 404], [300, 302, 500]),
        (" 5xx ", [500, 599], [404]),
    ],
)
def test_status_spec(spec: str, inside: list[int], outside: list[int]) -> None:
    parsed = parse_status_spec(spec)
    assert all(code in parsed for code in inside)
    assert not any(code in parsed for code in outside)


@pytest.mark.parametrize("spec", ["", "abc", "600", "300-200", "6xx", ","])
def test_bad_status_spec(spec: str) -> None:
    with pytest.raises(InputError, match="expect_status"):
        parse_status_spec(spec)


DOCUMENT: dict[str, Any] = {"data": {"status": "ok", "items": [{"id": 1}, {"id": 2}]}, "flag": True}


@pytest.mark.parametrize(
    ("path", "found", "value"),
    [
        ("data.status", True, "ok"),
        ("data.items.1.id", True, 2),
        ("data.items[0].id", True, 1),
        ("flag", True, True),
        ("data.items.5", False, None),
        ("data.status.deeper", False, None),
        ("missing", False, None),
    ],
)
def test_json_path(path: str, found: bool, value: Any) -> None:
    assert json_path(DOCUMENT, path) == (found, value)


async def test_trace_phases_from_events() -> None:
    trace = PhaseTrace()
    assert trace.phase == "waiting for a connection"
    await trace("connection.connect_tcp.started", {})
    assert trace.phase == "connect"
    await trace("connection.connect_tcp.complete", {})
    await trace("connection.start_tls.started", {})
    assert trace.phase == "tls"
    await trace("connection.start_tls.complete", {})
    await trace("http11.send_request_headers.started", {})
    await trace("http11.receive_response_headers.started", {})
    assert trace.phase == "first byte"
    await trace("http11.receive_response_headers.complete", {})
    assert trace.span_ms("connect_tcp") >= 0 and trace.ttfb_ms() is not None
    assert trace.span_ms("never_happened") == 0.0
