"""A tiny MonitorServer with a real HTTP check and watches, for the generic watch tests.

`probe_check(url)` does one GET with httpx2 (through the network policy's guarded client) and
returns ok for a 2xx/3xx answer, critical otherwise or when the connection fails. `build()` makes
a fresh server (own tools, own watch service) so that every test, or every subprocess, has its own.

    python -m support.watch_server [serve]      the same server over stdio (PYTHONPATH=tests)
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Annotated, Any

from monitor_common.context import get_context
from monitor_common.results import CheckResult, Finding, Stopwatch, Verdict
from monitor_common.serve import main as serve_main
from monitor_common.server import MonitorServer, server_for
from monitor_common.toolset import ToolSet
from monitor_common.watches import WatchKind, WatchService, register_watches
from pydantic import Field

__all__ = ["ProbeResult", "build", "probe_figures"]


class ProbeResult(CheckResult):
    url: str
    status: int | None = None
    latency_ms: float | None = None


def probe_figures(result: Mapping[str, Any]) -> Mapping[str, Any]:
    # The pid tells the multi-process tests which server ran a watch.
    return {"latency_ms": result.get("latency_ms"), "status": result.get("status"), "pid": os.getpid()}


def build(name: str = "watch-test-server") -> tuple[MonitorServer, WatchService]:
    tools = ToolSet(name, version="0.0.0", instructions="A test server with one HTTP check and watches.")

    @tools.tool()
    async def probe_check(
        url: Annotated[str, Field(description="http URL on loopback")],
        timeout_s: Annotated[float | None, Field(description="seconds")] = None,
    ) -> ProbeResult:
        """GET `url` once: ok for 2xx/3xx, critical otherwise."""
        import httpx2
        from monitor_common.httpclient import guarded_client

        context = get_context()
        started = Stopwatch()
        t0 = time.perf_counter()
        try:
            async with guarded_client(context, timeout=context.timeout(timeout_s)) as client:
                response = await client.get(url)
        except httpx2.HTTPError as exc:
            finding = Finding(
                severity=Verdict.CRITICAL, code="http_unreachable", message=str(exc) or type(exc).__name__
            )
            return ProbeResult.build(
                summary=f"{url} unreachable", findings=[finding], started=started, url=url
            )
        latency = round((time.perf_counter() - t0) * 1000, 2)
        findings = []
        if response.status_code >= 400:
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL, code="http_status", message=f"status {response.status_code}"
                )
            )
        return ProbeResult.build(
            summary=f"{url} answered {response.status_code}",
            findings=findings,
            started=started,
            url=url,
            status=response.status_code,
            latency_ms=latency,
        )

    service = register_watches(
        tools, WatchKind(kind="probe", check=probe_check, target="url", figures=probe_figures, noun="URL")
    )
    return server_for(tools), service


if __name__ == "__main__":
    serve_main(build()[0])
