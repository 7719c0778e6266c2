"""Watches for a server: two tools, the watch resources and the scheduler, around its main check.

    register_watches(mcp, WatchKind(kind="http", check=http_check, target="url", figures=http_figures))

adds to `mcp`:

- `http_watch`: `action` = add | remove | list | pause | resume, `name`, `interval_s` (default 300,
  at least `MCP_MONITOR_WATCH_MIN_INTERVAL_S`, 10), `failure_threshold`, `success_threshold`, and
  every parameter of the main check (a parameter whose name collides is renamed, e.g. dns_lookup's
  `name` becomes `domain`). `add` runs the check once at once and returns that result with the
  watch; a check that cannot run (bad input, refused address) refuses the watch.
- `http_watch_report`: per watch (or all, worst first) over a window: uptime, latency percentiles,
  incidents, the last result and trends of the key figures (e.g. a certificate's days left).
- resources `monitor://watches` and `monitor://watches/{name}` with their subscriptions
  (`monitor_common.resources`).
- a service that runs the `Scheduler` while the server runs and closes the store after.
- when `MCP_MONITOR_RECORD=true`, every on-demand check's result is stored too, and the report
  tool answers "what did we see last time?" for a target that is not watched.

Watched checks run through the server's own tool machinery (argument validation, error
containment), so a watch runs exactly what the tool would run.

    kind.py           WatchKind: the main check and how to read its results
    registration.py   the two tools, built from the check's signature
    service.py        WatchService: runs, records, the tools' actions, the scheduler's lifetime
    report.py         report building, pure
    models.py         the tools' result models
"""

from __future__ import annotations

from monitor_common.watches.kind import WatchKind
from monitor_common.watches.models import WatchActionResult, WatchReport, WatchReportItem
from monitor_common.watches.registration import register_watches
from monitor_common.watches.service import WatchService

__all__ = [
    "WatchActionResult",
    "WatchKind",
    "WatchReport",
    "WatchReportItem",
    "WatchService",
    "register_watches",
]
