"""Watches for a server: two tools, three resources and the scheduler, around the server's main check.

    register_watches(mcp, WatchKind(kind="http", check=http_check, target="url", figures=http_figures))

adds to `mcp`:

- `http_watch`: `action` = add | remove | list | pause | resume, `name`, `interval_s` (default 300,
  at least `MCP_MONITOR_WATCH_MIN_INTERVAL_S`, 10), `failure_threshold`, `success_threshold`, and
  every parameter of the main check (a parameter whose name collides is renamed, e.g. dns_lookup's
  `name` becomes `domain`). `add` runs the check once at once and returns that result with the
  watch; a check that cannot run (bad input, refused address) refuses the watch.
- `http_watch_report`: per watch (or all, worst first) over a window: uptime, latency percentiles,
  incidents, the last result and trends of the key figures (e.g. a certificate's days left).
- resources `monitor://config`, `monitor://watches` and `monitor://watches/{name}`; a watch's state
  change publishes `resources/updated` for both watch resources to `subscriptions/listen` streams.
- a service that runs the `Scheduler` while the server runs and closes the store after.
- when `MCP_MONITOR_RECORD=true`, every on-demand check's result is stored too, and the report
  tool answers "what did we see last time?" for a target that is not watched.

This is the only module of `monitor_common` besides `serve` that knows MCP. Watched checks run
through the server's own tool machinery (argument validation, error containment), so a watch
runs exactly what the tool would run.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
import typing
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, cast

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.shared.subscriptions import ResourceUpdated
from mcp_types import (
    CallToolResult,
    EmptyResult,
    PromptReference,
    ResourceTemplateReference,
    SubscribeRequestParams,
    ToolAnnotations,
    UnsubscribeRequestParams,
)
from pydantic import Field

from monitor_common._sdk import lowlevel_server
from monitor_common._watch_models import (
    Action,
    LatencyStats,
    WatchActionResult,
    WatchInfo,
    WatchReport,
    WatchReportItem,
    Window,
    envelope,
    incident_info,
    iso,
    last_result,
    trends,
    verdict_of,
    watch_uri,
)
from monitor_common.audit import redact
from monitor_common.config import get_settings, setting_specs
from monitor_common.errors import InputError, LimitError, MonitorError, StoreError
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.serve import MonitorServer

if TYPE_CHECKING:
    from mcp.server.session import ServerSession

    # The store and scheduler load when the first watch tool runs or the server starts, not
    # when the server is imported: start-up stays as fast as without watches.
    from monitor_common.scheduler import Scheduler, StoreHandle
    from monitor_common.store import Completion, ResultRecord, Store, Watch

__all__ = [
    "WatchActionResult",
    "WatchKind",
    "WatchReport",
    "WatchReportItem",
    "WatchService",
    "register_watches",
]

logger = logging.getLogger("monitor_common.watches")

DEFAULT_INTERVAL_S = 300.0
MAX_INTERVAL_S = 86400.0
MAX_LEGACY_SUBSCRIBERS = 256
WATCH_TEMPLATE = "monitor://watches/{name}"
WINDOWS = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
_WATCH_PARAMS = ("action", "name", "interval_s", "failure_threshold", "success_threshold")

WATCH_ANNOTATIONS = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)
REPORT_ANNOTATIONS = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)

# A check result (as JSON) to its key figures; `latency_ms`, when present, feeds the percentiles.
Figures = Callable[[Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class WatchKind:
    """What a server watches: its main check tool and how to read its results."""

    kind: str
    check: Callable[..., Awaitable[Any]]
    target: str
    figures: Figures
    noun: str = "target"
    rename: Mapping[str, str] = field(default_factory=lambda: dict[str, str]())
    # The figures whose trend the report shows (first, last, min, max, change per day); None: all.
    trends: tuple[str, ...] | None = None

    @property
    def check_name(self) -> str:
        return self.check.__name__


def _optional(annotation: Any) -> Any:
    """`Annotated[T, ...]` (or `T`) made to accept None as well."""
    if typing.get_origin(annotation) is Annotated:
        base, *metadata = typing.get_args(annotation)
        return Annotated[(base | None, *metadata)]  # pyright: ignore[reportInvalidTypeArguments]
    return annotation | None


def _check_parameters(kind: WatchKind) -> list[inspect.Parameter]:
    """The main check's parameters as the watch tool shows them (renamed, all optional)."""
    from mcp.server.mcpserver import Context

    parameters: list[inspect.Parameter] = []
    for parameter in inspect.signature(kind.check, eval_str=True).parameters.values():
        annotation = parameter.annotation
        if inspect.isclass(annotation) and issubclass(annotation, Context):
            continue
        if any(inspect.isclass(a) and issubclass(a, Context) for a in typing.get_args(annotation)):
            continue
        shown = kind.rename.get(parameter.name, parameter.name)
        if shown in _WATCH_PARAMS:
            raise ValueError(f"{kind.check_name}'s parameter {parameter.name!r} collides: pass rename=")
        default = parameter.default
        if default is inspect.Parameter.empty:
            annotation, default = _optional(annotation), None
        parameters.append(
            inspect.Parameter(shown, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        )
    return parameters


# --- the service -----------------------------------------------------------------------------------


class WatchService:
    """The watches of one server: store handle, scheduler and the tool implementations."""

    def __init__(self, server: MonitorServer, kind: WatchKind) -> None:
        self.server = server
        self.kind = kind
        self._handle: StoreHandle | None = None
        self.scheduler: Scheduler | None = None
        self.poll_s = 1.0
        self.start_delay_s = 0.5
        # Clients on the 2025 protocol that sent resources/subscribe, per URI: a session of
        # each (the SDK makes one per request; all of a connection's share its client_params).
        self.legacy_subscribers: dict[str, list[ServerSession]] = {}
        self._parameters = _check_parameters(kind)
        self._defaults = {
            p.name: p.default
            for p in inspect.signature(kind.check).parameters.values()
            if p.default is not inspect.Parameter.empty
        }

    @property
    def handle(self) -> StoreHandle:
        """The store of `MCP_MONITOR_DB`, opened on first use."""
        if self._handle is None:
            from monitor_common.scheduler import StoreHandle

            self._handle = StoreHandle(lambda: get_settings().db)
        return self._handle

    # -- running checks ----------------------------------------------------------------------

    async def run_check(
        self, definition: Mapping[str, Any], *, deadline: float, strict: bool
    ) -> dict[str, Any]:
        """The check's result as JSON. `strict`: a check that cannot run raises InputError; else
        it becomes an `unknown` result (a scheduled run must still be stored)."""
        started = time.time()
        try:
            with anyio.fail_after(deadline):
                # Validation and error containment as for a host's call, but no audit line or hook.
                outcome = await self.server.call_tool_quietly(self.kind.check_name, dict(definition))
        except TimeoutError:
            message = f"{self.kind.check_name} did not finish within {deadline:.0f} s"
            finding = Finding(
                severity=Verdict.UNKNOWN,
                code="watch_check_timeout",
                message=message,
                hint="lower the check's timeout_s or raise interval_s",
            )
            return envelope(Verdict.UNKNOWN, message, [finding], started)
        except ToolError as exc:
            # The check's own MonitorError (refused address, bad argument) arrives as the cause.
            cause = exc.__cause__
            if strict:
                if isinstance(cause, MonitorError):
                    raise cause from None
                raise InputError(
                    str(exc).removeprefix(f"Error executing tool {self.kind.check_name}: ")
                ) from exc
            message = str(cause) if isinstance(cause, MonitorError) else str(exc)
            finding = Finding(severity=Verdict.UNKNOWN, code="watch_check_failed", message=message)
            return envelope(
                Verdict.UNKNOWN, f"{self.kind.check_name} could not run: {message}", [finding], started
            )
        if isinstance(outcome, CallToolResult) and outcome.structured_content is not None:
            return cast("dict[str, Any]", outcome.structured_content)
        message = f"{self.kind.check_name} returned no structured result"
        finding = Finding(severity=Verdict.UNKNOWN, code="watch_check_failed", message=message)
        return envelope(Verdict.UNKNOWN, message, [finding], started)

    def record_of(
        self,
        result: Mapping[str, Any],
        *,
        watch: str | None,
        tool: str,
        target: str,
        started: float,
        scheduled_at: float | None = None,
        main_check: bool = True,
    ) -> ResultRecord:
        figures = dict(self.kind.figures(result)) if main_check else {}
        duration = float(result.get("duration_ms") or 0.0)
        latency = figures.pop("latency_ms", None)
        findings = cast("list[dict[str, Any]]", result.get("findings") or [])
        from monitor_common.store import ResultRecord

        return ResultRecord(
            kind=self.kind.kind,
            watch=watch,
            tool=tool,
            target=target,
            checked_at=started,
            scheduled_at=scheduled_at,
            verdict=str(result.get("verdict", "unknown")),
            summary=str(result.get("summary", ""))[:1000],
            duration_ms=duration,
            latency_ms=float(latency) if isinstance(latency, int | float) else duration,
            figures=figures,
            codes=tuple(str(f.get("code")) for f in findings if f.get("code")),
        )

    async def run_watch(self, watch: Watch) -> ResultRecord:
        """One scheduled run (the scheduler's `RunWatch`)."""
        settings = get_settings()
        # The check has its own timeout; this bound only guarantees that no run hangs. Its lease
        # is renewed meanwhile, so a slow check delays the watch but never runs twice.
        deadline = settings.max_timeout_s + 5
        started = time.time()
        result = await self.run_check(watch.definition, deadline=deadline, strict=False)
        return self.record_of(
            result,
            watch=watch.name,
            tool=self.kind.check_name,
            target=self._target(watch.definition),
            started=started,
            scheduled_at=watch.next_run,
        )

    def _target(self, definition: Mapping[str, Any]) -> str:
        return str(definition.get(self.kind.target, ""))

    # -- notifications -----------------------------------------------------------------------

    async def publish(self, name: str | None) -> None:
        uris = ["monitor://watches"] + ([watch_uri(name)] if name is not None else [])
        for uri in uris:
            await self.server.events.publish(ResourceUpdated(uri=uri))
            for session in list(self.legacy_subscribers.get(uri, ())):
                try:
                    await session.send_resource_updated(uri)
                except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                    self.legacy_subscribers[uri].remove(session)  # the client has gone

    async def on_completion(self, completion: Completion) -> None:
        if completion.change is not None:
            await self.publish(completion.watch.name)

    # -- the watch tool ----------------------------------------------------------------------

    async def watch(self, arguments: Mapping[str, Any]) -> WatchActionResult:
        """The `<kind>_watch` tool."""
        try:
            return await self._watch(arguments)
        except StoreError:
            await self.handle.reset()  # a lost connection is opened afresh by the next call
            raise

    async def _watch(self, arguments: Mapping[str, Any]) -> WatchActionResult:
        action = cast("Action", arguments["action"])
        name = cast("str | None", arguments.get("name"))
        if action == "add":
            return await self._add(arguments, name)
        store = await self.handle.require()
        now = time.time()
        if action == "list":
            watches = [self.info(w) for w in await store.list_watches(self.kind.kind)]
            return self._listing(watches)
        if not name:
            raise InputError(
                f"action={action} needs the watch's name: see {self.kind.kind}_watch action=list"
            )
        if action == "remove":
            if not await store.remove_watch(self.kind.kind, name):
                raise self._no_such(name)
            await self.publish(name)
            return self._done(action, f"stopped watching {name!r} and removed its history", None)
        paused = action == "pause"
        watch = await store.set_paused(self.kind.kind, name, paused, now)
        if watch is None:
            raise self._no_such(name)
        if not paused and self.scheduler is not None:
            self.scheduler.wake()
        await self.publish(name)
        return self._done(action, f"{name!r} {'paused' if paused else 'resumed'}", self.info(watch))

    async def _add(self, arguments: Mapping[str, Any], name: str | None) -> WatchActionResult:
        settings = get_settings()
        definition: dict[str, Any] = {}
        for parameter in self._parameters:
            value = arguments.get(parameter.name)
            original = next((k for k, v in self.kind.rename.items() if v == parameter.name), parameter.name)
            if value is not None and (original not in self._defaults or value != self._defaults[original]):
                definition[original] = value
        target = self._target(definition)
        shown = self.kind.rename.get(self.kind.target, self.kind.target)
        if not target:
            raise InputError(f"action=add needs {shown}, the {self.kind.noun} to watch")
        interval = arguments.get("interval_s")
        interval_s = DEFAULT_INTERVAL_S if interval is None else float(interval)
        if interval_s < settings.watch_min_interval_s:
            raise LimitError(
                f"interval_s={interval_s:g} is below the minimum of {settings.watch_min_interval_s:g} s: "
                f"pass interval_s={settings.watch_min_interval_s:g} or more"
            )
        if interval_s > MAX_INTERVAL_S:
            raise LimitError(f"interval_s={interval_s:g} is above one day ({MAX_INTERVAL_S:g} s)")
        name = (name or target).strip()
        if not name or len(name) > 200:
            raise InputError("name must be 1 to 200 characters, e.g. name=homepage")
        store = await self.handle.require()
        if await store.get_watch(self.kind.kind, name) is not None:
            raise InputError(f"a watch named {name!r} already exists: pick another name, or remove it first")
        from monitor_common.store import WatchSpec

        spec = WatchSpec(
            kind=self.kind.kind,
            name=name,
            definition=definition,
            interval_s=interval_s,
            failure_threshold=int(arguments.get("failure_threshold") or 2),
            success_threshold=int(arguments.get("success_threshold") or 1),
        )
        started = time.time()
        deadline = settings.max_timeout_s + 5
        result = await self.run_check(definition, deadline=deadline, strict=True)
        record = self.record_of(result, watch=name, tool=self.kind.check_name, target=target, started=started)
        completion = await store.add_watch(spec, record, time.time())
        if self.scheduler is not None:
            self.scheduler.wake()
        await self.publish(name)
        return WatchActionResult(
            verdict=verdict_of(result.get("verdict")),
            summary=f"watching {target} as {name!r} every {interval_s:g} s; first check: {result.get('summary', '')}",
            findings=[Finding.model_validate(f) for f in cast("list[Any]", result.get("findings") or [])],
            checked_at=iso(started) or "",
            duration_ms=round((time.time() - started) * 1000, 2),
            action="add",
            watch=self.info(completion.watch),
            result=result,
            result_id=completion.result_id,
        )

    def _no_such(self, name: str) -> InputError:
        return InputError(f"no {self.kind.kind} watch named {name!r}: see {self.kind.kind}_watch action=list")

    def _done(self, action: Action, summary: str, watch: WatchInfo | None) -> WatchActionResult:
        now = time.time()
        return WatchActionResult(
            verdict=Verdict.OK,
            summary=summary,
            checked_at=iso(now) or "",
            duration_ms=0.0,
            action=action,
            watch=watch,
        )

    def _listing(self, watches: list[WatchInfo]) -> WatchActionResult:
        down = [w for w in watches if w.state == "down" and not w.paused]
        paused = [w for w in watches if w.paused]
        failing = [w for w in watches if w.last_verdict in (Verdict.WARNING,) and w.state != "down"]
        findings = [
            Finding(
                severity=Verdict.CRITICAL,
                code="watch_down",
                message=f"{w.name} ({w.target}) is down since {w.state_since}",
            )
            for w in down
        ]
        counts = {
            state: sum(1 for w in watches if w.state == state and not w.paused)
            for state in ("up", "down", "pending")
        }
        summary = (
            f"{len(watches)} {self.kind.kind} watches: {counts['up']} up, {counts['down']} down, "
            f"{counts['pending']} pending, {len(paused)} paused"
        )
        result = self._done("list", summary, None)
        verdict = Verdict.CRITICAL if down else Verdict.WARNING if failing else Verdict.OK
        return result.model_copy(update={"verdict": verdict, "findings": findings, "watches": watches})

    def info(self, watch: Watch) -> WatchInfo:
        return WatchInfo(
            name=watch.name,
            target=self._target(watch.definition),
            state=watch.state,
            paused=watch.paused,
            interval_s=watch.interval_s,
            failure_threshold=watch.failure_threshold,
            success_threshold=watch.success_threshold,
            state_since=iso(watch.state_since),
            last_checked=iso(watch.last_checked),
            last_verdict=verdict_of(watch.last_verdict) if watch.last_verdict else None,
            next_run=None if watch.paused else iso(watch.next_run),
            runs=watch.runs,
            uri=watch_uri(watch.name),
            # Credentials the check needs (an Authorization header, a URL's password) stay in
            # the store; what callers and resources see is redacted.
            definition=cast("dict[str, Any]", redact(watch.definition)),
        )

    # -- the report tool ---------------------------------------------------------------------

    async def report(self, name: str | None, window: Window) -> WatchReport:
        """The `<kind>_watch_report` tool."""
        try:
            return await self._report(name, window)
        except StoreError:
            await self.handle.reset()
            raise

    async def _report(self, name: str | None, window: Window) -> WatchReport:
        stopwatch = Stopwatch()
        store = await self.handle.require()
        now = time.time()
        since = now - WINDOWS[window]
        if name is not None:
            watch = await store.get_watch(self.kind.kind, name)
            if watch is None:
                recorded = await store.recorded(self.kind.kind, name)
                if not recorded:
                    raise InputError(
                        f"no {self.kind.kind} watch named {name!r} and no recorded check of it: see "
                        f"{self.kind.kind}_watch action=list (on-demand checks are kept when MCP_MONITOR_RECORD=true)"
                    )
                last = recorded[0]
                return WatchReport(
                    verdict=verdict_of(last.verdict),
                    summary=f"{name} is not watched; last checked {iso(last.checked_at)}: {last.summary}",
                    checked_at=iso(now) or "",
                    duration_ms=round((time.time() - now) * 1000, 2),
                    window=window,
                    recorded=[last_result(r) for r in recorded],
                )
            watches = [watch]
        else:
            watches = await store.list_watches(self.kind.kind)
        items = [await self.summarize(store, w, since, now, window) for w in watches]
        items.sort(
            key=lambda i: (
                -i.verdict.rank,
                i.uptime_percent if i.uptime_percent is not None else 101.0,
                i.name,
            )
        )
        findings: list[Finding] = []
        for item in items:
            if item.state == "down" and not item.paused:
                cause = item.incidents[-1].cause if item.incidents else "failing"
                findings.append(
                    Finding(
                        severity=Verdict.CRITICAL, code="watch_down", message=f"{item.name} is down: {cause}"
                    )
                )
            elif item.verdict == Verdict.WARNING:
                summary = item.last_result.summary if item.last_result else ""
                findings.append(
                    Finding(
                        severity=Verdict.WARNING, code="watch_degraded", message=f"{item.name}: {summary}"
                    )
                )
        if not items:
            summary = f"no {self.kind.kind} watches yet: add one with {self.kind.kind}_watch action=add"
        else:
            parts = [
                f"{i.name} {i.uptime_percent:.2f}% up"
                if i.uptime_percent is not None
                else f"{i.name} no data"
                for i in items[:5]
            ]
            summary = (
                f"{window}: " + ", ".join(parts) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")
            )
        return WatchReport.build(
            summary=summary, findings=findings, started=stopwatch, window=window, watches=items
        )

    async def summarize(
        self, store: Store, watch: Watch, since: float, now: float, window: Window
    ) -> WatchReportItem:
        from monitor_common.store import FAILING_VERDICTS, percentile

        stats = await store.window(self.kind.kind, watch.name, since)
        rollups = await store.rollups(self.kind.kind, watch.name, since)
        incidents = await store.incidents(self.kind.kind, watch.name, since)
        counts = dict(stats.counts)
        for rollup in rollups:
            for key, value in rollup.counts.items():
                counts[key] += int(value)
        total = sum(counts.values())
        uptime = round(100.0 * (counts["ok"] + counts["warning"]) / total, 3) if total else None
        latencies = stats.latencies
        latency = (
            LatencyStats(
                samples=len(latencies),
                p50_ms=percentile(latencies, 50),
                p95_ms=percentile(latencies, 95),
                p99_ms=percentile(latencies, 99),
                max_ms=latencies[-1],
            )
            if latencies
            else None
        )
        series: list[tuple[float, Mapping[str, Any]]] = [(r.hour, r.figures) for r in rollups]
        series += stats.series
        last = stats.last
        if watch.state == "down":
            verdict = Verdict.CRITICAL
        elif watch.last_verdict in FAILING_VERDICTS or watch.last_verdict == "warning":
            verdict = Verdict.WARNING
        else:
            verdict = Verdict.OK
        return WatchReportItem(
            name=watch.name,
            target=self._target(watch.definition),
            state=watch.state,
            paused=watch.paused,
            verdict=verdict,
            checks=total,
            counts=counts,
            uptime_percent=uptime,
            latency=latency,
            incidents=[incident_info(i, now) for i in incidents],
            last_result=last_result(last) if last is not None else None,
            trends={
                k: v for k, v in trends(series).items() if self.kind.trends is None or k in self.kind.trends
            },
        )

    # -- on-demand recording -----------------------------------------------------------------

    async def record_call(self, tool: str, arguments: dict[str, Any], result: CallToolResult) -> None:
        """The server's call hook: store an on-demand check's result when MCP_MONITOR_RECORD is on."""
        if not get_settings().record or tool.startswith(f"{self.kind.kind}_watch"):
            return
        structured = cast("dict[str, Any]", result.structured_content or {})
        if "verdict" not in structured:
            return
        main = tool == self.kind.check_name
        target = arguments.get(self.kind.target) if main else None
        shown = str(target) if target is not None else json.dumps(redact(arguments), sort_keys=True)[:500]
        started = time.time() - float(structured.get("duration_ms") or 0.0) / 1000
        record = self.record_of(
            structured, watch=None, tool=tool, target=shown, started=started, main_check=main
        )
        try:
            store = await self.handle.require()
            await store.record(record)
        except StoreError as exc:
            logger.warning("could not record the result of %s: %s", tool, exc)
            await self.handle.reset()

    # -- lifecycle ---------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self, run_background: bool) -> AsyncGenerator[None]:
        """While the server runs: the scheduler (when `run_background`); after: the store closed."""
        try:
            if not run_background:
                yield
                return
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._schedule)
                try:
                    yield
                finally:
                    tg.cancel_scope.cancel()
        finally:
            self.scheduler = None
            if self._handle is not None:
                await self._handle.close()

    async def _schedule(self) -> None:
        # A moment's grace: the host's first requests (initialize, tools/list) are answered before
        # the scheduler loads the store, so watches cost nothing at start-up.
        await anyio.sleep(self.start_delay_s)
        from monitor_common.scheduler import Scheduler

        settings = get_settings()
        self.scheduler = Scheduler(
            self.kind.kind,
            self.handle,
            self.run_watch,
            concurrency=settings.watch_concurrency,
            poll_s=self.poll_s,
            on_completion=self.on_completion,
            retention=lambda: (get_settings().retention_days, get_settings().rollup_retention_days),
        )
        await self.scheduler.run()


def effective_settings() -> dict[str, Any]:
    """The settings in force as JSON, secrets hidden (the `monitor://config` resource)."""
    from monitor_common.targets import redact_url

    settings = get_settings()
    shown: dict[str, Any] = {}
    for spec in setting_specs():
        value = getattr(settings, spec.attr)
        if spec.secret and value is not None:
            value = redact_url(str(value)) if spec.attr == "db" else "***"
        elif isinstance(value, tuple):
            value = [str(v) for v in cast("tuple[Any, ...]", value)]
        elif value is not None and not isinstance(value, bool | int | float | str):
            value = str(value)
        shown[spec.env] = value
    return shown


# --- registration ----------------------------------------------------------------------------------


def register_watches(server: MonitorServer, kind: WatchKind) -> WatchService:
    """Add `<kind>_watch`, `<kind>_watch_report`, the monitor:// resources, the recording hook and the
    scheduler service to `server`."""
    service = WatchService(server, kind)
    check = kind.check_name
    target_param = kind.rename.get(kind.target, kind.target)

    async def watch_tool(**arguments: Any) -> WatchActionResult:
        return await service.watch(arguments)

    own = [
        inspect.Parameter(
            "action",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[
                Action,
                Field(description="remove also drops the history"),
            ],
        ),
        inspect.Parameter(
            "name",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                str | None,
                Field(description=f"add: defaults to the {target_param}"),
            ],
        ),
        inspect.Parameter(
            "interval_s",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[float | None, Field(description="Default 300")],
        ),
        inspect.Parameter(
            "failure_threshold",
            inspect.Parameter.KEYWORD_ONLY,
            default=2,
            annotation=Annotated[
                int,
                Field(ge=1, le=100, description="Failures in a row before it is down"),
            ],
        ),
        inspect.Parameter(
            "success_threshold",
            inspect.Parameter.KEYWORD_ONLY,
            default=1,
            annotation=Annotated[
                int, Field(ge=1, le=100, description="Successes in a row before it is up again")
            ],
        ),
    ]
    watch_tool.__signature__ = inspect.Signature(  # pyright: ignore[reportFunctionMemberAccess]
        [*own, *service._parameters],  # pyright: ignore[reportPrivateUsage]
        return_annotation=WatchActionResult,
    )
    watch_tool.__name__ = f"{kind.kind}_watch"
    # The check's parameters are described in the check's own listing; saying it twice would cost
    # every prompt of every host (the full schema keeps them: monitor://schemas/<tool>).
    server.brief_parameters[watch_tool.__name__] = frozenset(p.name for p in service._parameters)  # pyright: ignore[reportPrivateUsage]
    server.add_tool(
        watch_tool,
        name=f"{kind.kind}_watch",
        description=(
            f"Monitor a {kind.noun} continuously: add, remove, list, pause or resume watches running {check}.\n\n"
            f"add takes {check}'s parameters and returns its first result."
        ),
        annotations=WATCH_ANNOTATIONS,
        structured_output=True,
    )

    async def report_tool(**arguments: Any) -> WatchReport:
        return await service.report(arguments.get("name"), arguments.get("window", "24h"))

    # Built by hand like the watch tool's: the descriptions name this server's target.
    report_tool.__signature__ = inspect.Signature(  # pyright: ignore[reportFunctionMemberAccess]
        [
            inspect.Parameter(
                "name",
                inspect.Parameter.KEYWORD_ONLY,
                default=None,
                annotation=Annotated[
                    str | None,
                    Field(description=f"A watch or recorded {kind.noun}; none: all, worst first"),
                ],
            ),
            inspect.Parameter(
                "window",
                inspect.Parameter.KEYWORD_ONLY,
                default="24h",
                annotation=Window,
            ),
        ],
        return_annotation=WatchReport,
    )
    report_tool.__name__ = f"{kind.kind}_watch_report"
    server.add_tool(
        report_tool,
        name=f"{kind.kind}_watch_report",
        description=(
            f'Answer "has it been up, since when is it broken?" for watched {kind.noun}s: uptime, incidents.'
        ),
        annotations=REPORT_ANNOTATIONS,
        structured_output=True,
    )

    @server.resource(
        "monitor://config",
        name="config",
        description="The server's effective settings (secrets hidden)",
        mime_type="application/json",
    )
    def config_resource() -> str:
        return json.dumps(effective_settings(), indent=2)

    @server.resource(
        "monitor://watches",
        name="watches",
        description=f"Every {kind.kind} watch of this server with its state; updated when one changes state",
        mime_type="application/json",
    )
    async def watches_resource() -> str:
        try:
            store = await service.handle.require()
            watches = await store.list_watches(kind.kind)
        except StoreError as exc:
            await service.handle.reset()
            raise ResourceError(str(exc)) from exc
        return json.dumps([service.info(w).model_dump(mode="json") for w in watches], indent=2)

    @server.resource(
        WATCH_TEMPLATE,
        name="watch",
        description="One watch's last 24 hours: uptime, latency, incidents, last result",
        mime_type="application/json",
    )
    async def watch_resource(name: str) -> str:
        try:
            report = await service.report(name, "24h")
        except InputError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except StoreError as exc:
            raise ResourceError(str(exc)) from exc
        return report.model_dump_json(indent=2)

    del config_resource, watches_resource, watch_resource

    # Hosts on the 2025 protocol subscribe with resources/subscribe (the 2026 protocol's
    # subscriptions/listen is served by the SDK from `server.events`). MCPServer has no
    # decorator for it, so the handlers go on its low-level server.
    def same_client(a: ServerSession, b: ServerSession) -> bool:
        return a.client_params is not None and a.client_params is b.client_params

    async def subscribe(ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams) -> EmptyResult:
        subscribers = service.legacy_subscribers.setdefault(str(params.uri), [])
        if not any(same_client(s, ctx.session) for s in subscribers):
            subscribers.append(ctx.session)
            # The SDK drops sends to a client that has gone without telling us; the oldest
            # subscriptions make way so that a long-running HTTP server does not collect them.
            del subscribers[:-MAX_LEGACY_SUBSCRIBERS]
        return EmptyResult()

    async def unsubscribe(
        ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        subscribers = service.legacy_subscribers.get(str(params.uri), [])
        subscribers[:] = [s for s in subscribers if not same_client(s, ctx.session)]
        return EmptyResult()

    async def complete(
        ref: PromptReference | ResourceTemplateReference, argument: str, value: str
    ) -> list[str] | None:
        # The watch resource's name: the watches' names. A prompt's target argument (url, host,
        # domain): what is watched, as the user most likely asks about something they watch.
        names = (
            isinstance(ref, ResourceTemplateReference) and ref.uri == WATCH_TEMPLATE and argument == "name"
        )
        targets = isinstance(ref, PromptReference) and argument == target_param
        if not (names or targets):
            return None
        try:
            store = await service.handle.require()
            watches = await store.list_watches(kind.kind)
        except StoreError:
            await service.handle.reset()
            return []
        if names:
            return [w.name for w in watches]
        return [t for t in (service._target(w.definition) for w in watches) if t]  # pyright: ignore[reportPrivateUsage]

    server.completers.append(complete)
    lowlevel = lowlevel_server(server)
    lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    server.call_hooks.append(service.record_call)
    server.add_service(service.running)
    return service
