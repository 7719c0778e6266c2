"""The audit trail: one JSON line per tool call, with secrets redacted.

Each line records when, which server and tool, the arguments (tokens, passwords, private keys,
credential headers and URL userinfo replaced by `***`), how long the call took and how it ended
(a verdict, or the error message). Lines go to stderr unless `MCP_MONITOR_AUDIT_LOG` names a file;
never to stdout, which belongs to the protocol.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from pathlib import Path
from typing import Any, TextIO, cast

from monitor_common.results import utc_now

__all__ = ["AuditLog", "redact"]

_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|auth(orization)?|cookie|api[-_]?key|private[-_]?key|key_pem|credential)",
    re.IGNORECASE,
)

REDACTED = "***"


def redact(value: Any, key: str | None = None) -> Any:
    """A copy of `value` safe to log: secret-named keys hidden, credentials in URLs removed."""
    if key is not None and _SECRET_KEY.search(key) and value not in (None, "", False):
        return REDACTED
    if isinstance(value, str):
        from monitor_common.targets import redact_url  # not needed to start the server

        return redact_url(value)
    if isinstance(value, dict):
        return {str(k): redact(v, str(k)) for k, v in cast("dict[Any, Any]", value).items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in cast("list[Any]", value)]
    return value


class AuditLog:
    """Writes audit lines to a file (appending) or to stderr; safe to share between threads."""

    def __init__(self, path: Path | None = None, *, stream: TextIO | None = None) -> None:
        self._path = path
        self._stream = stream
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
            "arguments": redact(arguments),
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
