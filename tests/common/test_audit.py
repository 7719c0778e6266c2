"""The audit trail: one JSON line per call, secrets redacted."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from monitor_common.audit import AuditLog, redact


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"url": "https://user:pw@example.com/x"}, {"url": "https://***:***@example.com/x"}),
        ({"auth_token": "abc"}, {"auth_token": "***"}),
        (
            {"headers": {"Authorization": "Bearer x", "Accept": "*/*"}},
            {"headers": {"Authorization": "***", "Accept": "*/*"}},
        ),
        ({"headers": {"Cookie": "sid=1"}}, {"headers": {"Cookie": "***"}}),
        ({"client_key_pem": "-----BEGIN"}, {"client_key_pem": "***"}),
        ({"targets": ["http://a:b@h", "plain"]}, {"targets": ["http://***:***@h", "plain"]}),
        ({"password": None}, {"password": None}),
        ({"host": "example.com", "port": 443}, {"host": "example.com", "port": 443}),
    ],
)
def test_redact(value: dict[str, object], expected: dict[str, object]) -> None:
    assert redact(value) == expected


def test_audit_line_to_stream() -> None:
    stream = io.StringIO()
    AuditLog(stream=stream).record(
        server="s", tool="t", arguments={"url": "http://u:p@h/"}, duration_ms=1.234, verdict="ok"
    )
    entry = json.loads(stream.getvalue())
    assert entry["server"] == "s" and entry["tool"] == "t" and entry["verdict"] == "ok"
    assert entry["arguments"] == {"url": "http://***:***@h/"}
    assert "p@h" not in stream.getvalue()


def test_audit_lines_append_to_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.record(server="s", tool="t", arguments={}, duration_ms=1, verdict="critical")
    log.record(server="s", tool="t", arguments={}, duration_ms=1, error="bad input")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line.get("verdict") for line in lines] == ["critical", None]
    assert lines[1]["error"] == "bad input"
