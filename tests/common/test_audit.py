"""The audit trail: one JSON line per call, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from monitor_common.audit import AuditLog, RedactUrls, redact


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
        # Credential headers by a rule on the name, whatever the operator called them.
        (
            {
                "headers": {
                    "X-Api-Key": "k",
                    "X-Session-Id": "s",
                    "My-Signature": "g",
                    "X-Auth-User": "u",
                    "X-Client-Credential": "c",
                    "x-csrf-token": "t",
                    "X-Secret": "x",
                    "X-Password": "p",
                    "Set-Cookie": "c",
                    "Accept": "*/*",
                    "User-Agent": "probe",
                }
            },
            {
                "headers": {
                    "X-Api-Key": "***",
                    "X-Session-Id": "***",
                    "My-Signature": "***",
                    "X-Auth-User": "***",
                    "X-Client-Credential": "***",
                    "x-csrf-token": "***",
                    "X-Secret": "***",
                    "X-Password": "***",
                    "Set-Cookie": "***",
                    "Accept": "*/*",
                    "User-Agent": "probe",
                }
            },
        ),
        ({"send": "LOGIN bob hunter2\r\n"}, {"send": "***"}),
        ({"url": "https://user:p/a#s?s@example.com/x"}, {"url": "https://***:***@example.com/x"}),
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


def test_the_send_payload_is_written_only_when_the_operator_asks() -> None:
    hidden, shown = io.StringIO(), io.StringIO()
    for stream, send_payload in ((hidden, False), (shown, True)):
        AuditLog(stream=stream, send_payload=send_payload).record(
            server="s", tool="tcp_check", arguments={"send": "LOGIN bob hunter2"}, duration_ms=1
        )
    assert json.loads(hidden.getvalue())["arguments"]["send"] == "***"
    assert json.loads(shown.getvalue())["arguments"]["send"] == "LOGIN bob hunter2"


def test_log_records_lose_url_passwords() -> None:
    record = logging.LogRecord(
        "httpx2", logging.INFO, __file__, 1, "HTTP Request: %s %s", ("GET", "https://u:p/s@h/x"), None
    )
    assert RedactUrls().filter(record)
    assert record.getMessage() == "HTTP Request: GET https://***:***@h/x"
