"""Phase timings of one request from httpx2's `trace` extension.

httpcore2 reports `connection.connect_tcp.started/complete`, `connection.start_tls.*`,
`http11.send_request_headers.*` / `http2.send_request_headers.*`,
`http11.receive_response_headers.*` and so on to the callable in `request.extensions["trace"]`.
`PhaseTrace` notes when each step started and ended and knows which phase the request is in,
so a timeout can say where it struck. DNS is not among the events (the guarded backend resolves
inside `connect_tcp`), which is why the checks resolve first and time that themselves.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["PhaseTrace"]

# The phase a request is in once a step has started, as named in timeout findings.
_PHASE_OF_STEP = {
    "connect_tcp": "connect",
    "start_tls": "tls",
    "send_connection_init": "tls",
    "send_request_headers": "sending the request",
    "send_request_body": "sending the request",
    "receive_response_headers": "first byte",
    "receive_remote_settings": "first byte",
    "receive_response_body": "body",
}


# Event names split once (httpcore2 sends a few dozen distinct ones, about ten per request,
# and a bulk check makes thousands of requests); capped in case a version sends unique ones.
_EVENTS: dict[str, tuple[str, str]] = {}
_EVENTS_CAP = 256


def _parse(name: str) -> tuple[str, str]:
    # "connection.connect_tcp.started" -> ("connect_tcp", "started")
    step, _, stage = name.partition(".")[2].rpartition(".")
    return step, stage


class PhaseTrace:
    """Collects the trace events of one request; pass it as `extensions={"trace": trace}`."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.completed: dict[str, float] = {}
        self.phase = "waiting for a connection"
        self.first: float | None = None
        """When the first step started: the request's clock starts there, not while it was built."""
        self.stream: object = None
        """The connection this request opened (None on a reused one), for what it read first."""

    async def __call__(self, name: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        parsed = _EVENTS.get(name)
        if parsed is None:
            parsed = _parse(name)
            if len(_EVENTS) < _EVENTS_CAP:
                _EVENTS[name] = parsed
        step, stage = parsed
        if stage == "started":
            self.started.setdefault(step, now)
            self.phase = _PHASE_OF_STEP.get(step, self.phase)
        elif stage == "complete":
            self.completed[step] = now
            if step == "connect_tcp":
                self.stream = info.get("return_value")

    def span_ms(self, step: str) -> float:
        """How long `step` took, 0.0 when it did not happen (a reused connection, plain http)."""
        start, end = self.started.get(step), self.completed.get(step)
        if start is None or end is None:
            return 0.0
        return round((end - start) * 1000, 2)

    def ttfb_ms(self) -> float | None:
        """From the first byte of the request to the complete response headers."""
        start = self.started.get("send_request_headers")
        end = self.completed.get("receive_response_headers")
        if start is None or end is None:
            return None
        return round((end - start) * 1000, 2)
