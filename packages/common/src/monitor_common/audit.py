"""The audit trail: one JSON line per tool call, with secrets redacted.

Each line records when, which server and tool, the arguments (tokens, passwords, private keys,
the values of headers whose names suggest a credential, URL userinfo and, unless
`MCP_MONITOR_AUDIT_SEND_PAYLOAD` is on, tcp_check's `send` payload replaced by `***`), how long the call took and how it ended
(a verdict, or the error message). Lines go to stderr unless `MCP_MONITOR_AUDIT_LOG` names a file;
never to stdout, which belongs to the protocol.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from pathlib import Path
from typing import Any, TextIO, cast

from monitor_common.results import utc_now

__all__ = ["AuditLog", "RedactUrls", "redact"]

# A rule, not a list of names: a key (an argument, or a header's name) that says it holds a
# credential. Header names are the operator's and the target's choice (`X-Session-Id`,
# `My-Signature`, `X-Goog-Api-Key`), so any name containing one of these words is hidden.
_SECRET_KEY = re.compile(
    r"auth|key|token|secret|session|signature|pass(word|wd)|cookie|credential",
    re.IGNORECASE,
)
# Arguments sent to a target verbatim (tcp_check's `send`), which may carry a login or a token.
_PAYLOAD_KEYS = frozenset({"send"})

REDACTED = "***"


def redact(value: Any, key: str | None = None, *, keep_payloads: bool = False) -> Any:
    """A copy of `value` safe to log: the values of secret-named keys hidden (at any depth, so
    headers too), credentials in URLs removed, and payloads sent to a target (tcp_check's `send`)
    hidden unless `keep_payloads`."""
    if key == "notify" and value:
        # Apprise URLs hold their secrets in the path and host too (tgram://TOKEN/chat).
        from monitor_common.notify.targets import shown_entry

        entries = cast("list[Any]", value) if isinstance(value, list | tuple) else [value]
        return [shown_entry(str(entry)) for entry in entries]
    secret = key is not None and (_SECRET_KEY.search(key) or (key in _PAYLOAD_KEYS and not keep_payloads))
    if secret and value not in (None, "", False):
        return REDACTED
    if isinstance(value, str):
        from monitor_common.targets import redact_url  # not needed to start the server

        return redact_url(value)
    if isinstance(value, dict):
        return {
            str(k): redact(v, str(k), keep_payloads=keep_payloads)
            for k, v in cast("dict[Any, Any]", value).items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, keep_payloads=keep_payloads) for v in cast("list[Any]", value)]
    return value


class RedactUrls(logging.Filter):
    """Hides the password of every URL in a log record's message.

    The HTTP client logs each request's URL as it was given, password included; so may any
    library's message. Installed on the HTTP client's logger and on the handlers `serve` sets up.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        from monitor_common.targets import redact_url

        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: left to the handler
            return True
        shown = redact_url(message)
        if shown != message:
            record.msg, record.args = shown, None
        return True


class AuditLog:
    """Writes audit lines to a file (appending) or to stderr; safe to share between threads."""

    def __init__(
        self, path: Path | None = None, *, stream: TextIO | None = None, send_payload: bool = False
    ) -> None:
        """`send_payload`: write what tcp_check sends verbatim (MCP_MONITOR_AUDIT_SEND_PAYLOAD);
        by default it is hidden like a password, since a protocol's login may be in it."""
        self._path = path
        self._stream = stream
        self._send_payload = send_payload
        self._lock = threading.Lock()

    def record(
        self,
        *,
        server: str,
        tool: str,
        arguments: dict[str, Any],
        duration_ms: float,
        verdict: str | None = None,
        error: str | None = None,
    ) -> None:
        entry: dict[str, Any] = {
            "time": utc_now(),
            "server": server,
            "tool": tool,
            "arguments": redact(arguments, keep_payloads=self._send_payload),
            "duration_ms": round(duration_ms, 2),
        }
        if error is not None:
            entry["error"] = redact(error)
        else:
            entry["verdict"] = verdict
        line = json.dumps(entry, default=str, separators=(",", ":")) + "\n"
        with self._lock:
            if self._path is not None:
                with self._path.open("a", encoding="utf-8") as fh:
                    fh.write(line)
            else:
                stream = self._stream or sys.stderr
                stream.write(line)
                stream.flush()
