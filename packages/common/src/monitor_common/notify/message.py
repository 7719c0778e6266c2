"""What a notification says: a title and a plain-text body short enough for chat services.

    compose("opened", kind="http", watch="homepage", target="https://example.com/", ...)

- opened: which watch and target, since when, the verdict, the summary, the first findings with
  their hints;
- resolved: how long it was down, and what the cause had been;
- reminder: still down, for how long;
- test: a test message, so that an operator sees where the real ones will arrive.

Titles stay under `MAX_TITLE` characters and bodies under `MAX_BODY` (Slack shows a couple of
thousand, Telegram 4096, an SMS far less: the first lines carry what matters). A link to the
watch's status page ends the body when the operator set `MCP_MONITOR_STATUS_URL`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import quote

__all__ = [
    "MAX_BODY",
    "MAX_FINDINGS",
    "MAX_TITLE",
    "Event",
    "Message",
    "compose",
    "duration_text",
    "status_link",
]

Event = Literal["opened", "resolved", "reminder", "test"]

MAX_TITLE: Final = 120
MAX_BODY: Final = 1000
MAX_FINDINGS: Final = 3


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def duration_text(seconds: float) -> str:
    """`45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`: what a person reads at a glance."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def status_link(base: str | None, watch: str) -> str | None:
    """`<base>/status/<watch>` (the name percent-encoded), or None without a base URL."""
    return f"{base.rstrip('/')}/status/{quote(watch, safe='')}" if base else None


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split()) if "\n" not in text else text
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _finding_lines(findings: Sequence[Mapping[str, Any]]) -> list[str]:
    lines: list[str] = []
    for finding in list(findings)[:MAX_FINDINGS]:
        line = f"- {finding.get('code', '?')}: {_clip(str(finding.get('message', '')), 200)}"
        hint = finding.get("hint")
        if hint:
            line += f" (hint: {_clip(str(hint), 160)})"
        lines.append(line)
    if len(findings) > MAX_FINDINGS:
        lines.append(f"- and {len(findings) - MAX_FINDINGS} more")
    return lines


def compose(
    event: Event,
    *,
    kind: str,
    watch: str,
    target: str,
    opened_at: float | None = None,
    closed_at: float | None = None,
    now: float | None = None,
    verdict: str = "critical",
    summary: str = "",
    findings: Sequence[Mapping[str, Any]] = (),
    cause: str = "",
    status_url: str | None = None,
) -> Message:
    """The title and body of one notification (see the module docstring)."""
    link = status_link(status_url, watch)
    if event == "opened":
        since = _iso(opened_at) if opened_at is not None else "now"
        title = f"DOWN: {watch} ({verdict})"
        lines = [
            f"{kind} watch {watch!r} is down since {since}: {verdict}",
            f"target: {target}",
            _clip(summary, 300),
            *_finding_lines(findings),
        ]
    elif event == "resolved":
        took = duration_text((closed_at or 0.0) - (opened_at or 0.0))
        title = f"RESOLVED: {watch} (down {took})"
        lines = [
            f"{kind} watch {watch!r} is up again after {took} down",
            f"target: {target}",
            f"down from {_iso(opened_at or 0.0)} to {_iso(closed_at or 0.0)}",
            f"cause: {_clip(cause, 300)}" if cause else "",
        ]
    elif event == "reminder":
        took = duration_text((now or 0.0) - (opened_at or 0.0))
        title = f"STILL DOWN: {watch} ({took})"
        lines = [
            f"{kind} watch {watch!r} is still down, for {took} (since {_iso(opened_at or 0.0)})",
            f"target: {target}",
            f"cause: {_clip(cause, 300)}" if cause else "",
        ]
    else:
        title = f"TEST: {watch}"
        lines = [
            f"A test notification for the {kind} watch {watch!r} ({target}).",
            "Incidents of this watch will be sent here.",
        ]
    if link:
        lines.append(link)
    body = "\n".join(line for line in lines if line)
    if len(body) > MAX_BODY and link:
        # The link is the line a reader follows: keep it, cut what comes before.
        body = _clip(body[: -len(link) - 1], MAX_BODY - len(link) - 1) + "\n" + link
    return Message(_clip(title, MAX_TITLE), _clip(body, MAX_BODY))
