"""The watch service of one server: runs its check on schedule and on demand, records results,
and carries out the watch tool's actions (add, remove, list, pause, resume) and the report.

The store and the scheduler load when the first watch tool runs or the scheduler starts, not
when the server is imported: start-up stays as fast as without watches. Who must hear of a
watch's change (the MCP resources' subscribers) registers a listener (`on_change`).
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol, cast

import anyio

from monitor_common.audit import redact
from monitor_common.config import get_settings
from monitor_common.errors import InputError, LimitError, MonitorError, StoreError
from monitor_common.notify.targets import shown_entry
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import redact_url
from monitor_common.watches.models import (
    Action,
    WatchActionResult,
    WatchInfo,
    WatchReport,
    WatchReportItem,
    Window,
    envelope,
    iso,
    verdict_of,
    watch_uri,
)
from monitor_common.watches.report import WINDOWS, not_watched, report_of, summarize, timeline

if TYPE_CHECKING:
    from monitor_common.notify.outbox import Notifier
    from monitor_common.scheduler import Scheduler, StoreHandle
    from monitor_common.store import Completion, ResultRecord, Store, Watch, WatchSpec
    from monitor_common.watches.kind import WatchKind

__all__ = ["DEFAULT_INTERVAL_S", "MAX_INTERVAL_S", "CheckRunner", "WatchService"]

logger = logging.getLogger("monitor_common.watches")

DEFAULT_INTERVAL_S = 300.0
MAX_INTERVAL_S = 86400.0

# Runs a tool by name with JSON arguments as a host's call would (validation, error containment)
# and returns its structured result; raises MonitorError for input the check refuses.
CheckRunner = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]

# Told the name of a watch that changed (added, removed, paused, resumed, went up or down).
ChangeListener = Callable[[str], Awaitable[None]]


class DeclaredTool(Protocol):
    """The watch tool as the service sees it (a `toolset.ToolSpec`, which imports this module)."""

    @property
    def fn(self) -> Callable[..., Any]: ...
    def validate(self, arguments: Mapping[str, Any]) -> dict[str, Any]: ...


def _shown_name(name: str | None) -> str | None:
    return redact_url(name) if name else name


class WatchService:
    """The watches of one server: store handle, scheduler and the tool implementations."""

    def __init__(self, kind: WatchKind, run_tool: CheckRunner) -> None:
        self.kind = kind
        self.run_tool = run_tool
        self._handle: StoreHandle | None = None
        self.scheduler: Scheduler | None = None
        self.poll_s = 1.0
        self.start_delay_s = 0.5
        self.listeners: list[ChangeListener] = []
        self.parameters = kind.check_parameters()
        self._defaults = kind.check_defaults()
        # The watch tool (set where it is registered): watches-file entries go through its
        # argument validation too.
        self.tool_spec: DeclaredTool | None = None
        # What the watches file declares for this kind; None: no file, the file-managed watches
        # in the store stay as they are (another process may have the file).
        self.declared: list[WatchSpec] | None = None
        self._owner: str | None = None
        self._notifier: Notifier | None = None

    @property
    def handle(self) -> StoreHandle:
        """The store of `MCP_MONITOR_DB`, opened on first use."""
        if self._handle is None:
            from monitor_common.scheduler import StoreHandle

            self._handle = StoreHandle(lambda: get_settings().db)
        return self._handle

    @property
    def owner(self) -> str:
        """This process's id in the store: it leases watches and the notifications it records."""
        if self._owner is None:
            from monitor_common.scheduler import new_owner

            self._owner = new_owner()
        return self._owner

    @property
    def notifier(self) -> Notifier:
        """The notifications of this kind's incidents (`monitor_common.notify`)."""
        if self._notifier is None:
            from monitor_common.notify.outbox import Notifier

            self._notifier = Notifier(self.kind.kind, self.kind.target_of, self.handle, self.owner)
        return self._notifier

    # -- running checks ----------------------------------------------------------------------

    async def run_check(
        self, definition: Mapping[str, Any], *, deadline: float, strict: bool
    ) -> dict[str, Any]:
        """The check's result as JSON. `strict`: a check that cannot run raises its MonitorError
        (InputError for arguments it refuses); else it becomes an `unknown` result (a scheduled
        run must still be stored)."""
        started = time.time()
        check = self.kind.check_name
        try:
            with anyio.fail_after(deadline):
                return await self.run_tool(check, dict(definition))
        except TimeoutError:
            message = f"{check} did not finish within {deadline:.0f} s"
            finding = Finding(
                severity=Verdict.UNKNOWN,
                code="watch_check_timeout",
                message=message,
                hint="lower the check's timeout_s or raise interval_s",
            )
            return envelope(Verdict.UNKNOWN, message, [finding], started)
        except MonitorError as exc:
            if strict:
                raise
            finding = Finding(severity=Verdict.UNKNOWN, code="watch_check_failed", message=str(exc))
            return envelope(Verdict.UNKNOWN, f"{check} could not run: {exc}", [finding], started)

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
        from monitor_common.store import ResultRecord

        figures = dict(self.kind.figures(result)) if main_check else {}
        duration = float(result.get("duration_ms") or 0.0)
        latency = figures.pop("latency_ms", None)
        findings = cast("list[dict[str, Any]]", result.get("findings") or [])
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
            findings=tuple(findings[:5]),
        )

    async def run_watch(self, watch: Watch) -> ResultRecord:
        """One scheduled run (the scheduler's `RunWatch`)."""
        # The check has its own timeout; this bound only guarantees that no run hangs. Its lease
        # is renewed meanwhile, so a slow check delays the watch but never runs twice.
        deadline = get_settings().max_timeout_s + 5
        started = time.time()
        result = await self.run_check(watch.definition, deadline=deadline, strict=False)
        return self.record_of(
            result,
            watch=watch.name,
            tool=self.kind.check_name,
            target=self.kind.target_of(watch.definition),
            started=started,
            scheduled_at=watch.next_run,
        )

    async def record_call(self, tool: str, arguments: dict[str, Any], result: Mapping[str, Any]) -> None:
        """After an on-demand call: store its result when MCP_MONITOR_RECORD is on."""
        if not get_settings().record or tool.startswith(f"{self.kind.kind}_watch") or "verdict" not in result:
            return
        main = tool == self.kind.check_name
        target = arguments.get(self.kind.target) if main else None
        shown = (
            redact_url(str(target))
            if target is not None
            else json.dumps(redact(arguments), sort_keys=True)[:500]
        )
        started = time.time() - float(result.get("duration_ms") or 0.0) / 1000
        record = self.record_of(result, watch=None, tool=tool, target=shown, started=started, main_check=main)
        try:
            store = await self.handle.require()
            await store.record(record)
        except StoreError as exc:
            logger.warning("could not record the result of %s: %s", tool, exc)
            await self.handle.reset()

    async def publish(self, name: str) -> None:
        for listener in self.listeners:
            await listener(name)

    async def on_completion(self, completion: Completion) -> None:
        if completion.deliveries:
            await self.notifier.hand(completion.deliveries)
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
        # Names are shown everywhere (listings, resource URIs), so a URL's password never is one:
        # a name written with it finds the watch named without it.
        name = _shown_name(cast("str | None", arguments.get("name")))
        if action == "add":
            return await self._add(arguments)
        store = await self.handle.require()
        if action == "list":
            return self._listing([self.info(w) for w in await store.list_watches(self.kind.kind)])
        if not name:
            raise InputError(
                f"action={action} needs the watch's name: see {self.kind.kind}_watch action=list"
            )
        if action == "test_notify":
            return await self._test_notify(store, name)
        if action == "remove":
            existing = await store.get_watch(self.kind.kind, name)
            if existing is not None and existing.managed_by is not None:
                raise InputError(
                    f"the watch {name!r} is declared in the watches file {existing.managed_by}: remove "
                    "it from that file (then send the server SIGHUP) rather than with action=remove"
                )
            if not await store.remove_watch(self.kind.kind, name):
                raise self._no_such(name)
            await self.publish(name)
            return self._done(action, f"stopped watching {name!r} and removed its history", None)
        paused = action == "pause"
        watch = await store.set_paused(self.kind.kind, name, paused, time.time())
        if watch is None:
            raise self._no_such(name)
        if not paused and self.scheduler is not None:
            self.scheduler.wake()
        await self.publish(name)
        return self._done(action, f"{name!r} {'paused' if paused else 'resumed'}", self.info(watch))

    def _definition(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The check's arguments of an `add`, by their own names, defaults left out."""
        definition: dict[str, Any] = {}
        for parameter in self.parameters:
            value = arguments.get(parameter.name)
            original = next((k for k, v in self.kind.rename.items() if v == parameter.name), parameter.name)
            if value is not None and (original not in self._defaults or value != self._defaults[original]):
                definition[original] = value
        return definition

    def spec_of(self, arguments: Mapping[str, Any], managed_by: str | None = None) -> WatchSpec:
        """The watch an `add` (or a watches file's entry) describes, from the watch tool's
        validated arguments; InputError or LimitError for a value the tool refuses."""
        from monitor_common.store import WatchSpec

        settings = get_settings()
        definition = self._definition(arguments)
        target = self.kind.target_of(definition)
        if not target:
            raise InputError(f"action=add needs {self.kind.target_parameter}, the {self.kind.noun} to watch")
        interval = arguments.get("interval_s")
        interval_s = DEFAULT_INTERVAL_S if interval is None else float(interval)
        if interval_s < settings.watch_min_interval_s:
            raise LimitError(
                f"interval_s={interval_s:g} is below the minimum of {settings.watch_min_interval_s:g} s: "
                f"pass interval_s={settings.watch_min_interval_s:g} or more"
            )
        if interval_s > MAX_INTERVAL_S:
            raise LimitError(f"interval_s={interval_s:g} is above one day ({MAX_INTERVAL_S:g} s)")
        name = (_shown_name(cast("str | None", arguments.get("name"))) or target).strip()
        if not name or len(name) > 200:
            raise InputError("name must be 1 to 200 characters, e.g. name=homepage")
        repeat = arguments.get("notify_repeat_s")
        if repeat is not None and float(repeat) < settings.watch_min_interval_s:
            raise LimitError(
                f"notify_repeat_s={float(repeat):g} is below the minimum of {settings.watch_min_interval_s:g} s"
            )
        return WatchSpec(
            kind=self.kind.kind,
            name=name,
            definition=definition,
            interval_s=interval_s,
            failure_threshold=int(arguments.get("failure_threshold") or 2),
            success_threshold=int(arguments.get("success_threshold") or 1),
            managed_by=managed_by,
            notify=self._notify_entries(arguments),
            notify_repeat_s=float(repeat) if repeat is not None else None,
        )

    def entry_keys(self) -> tuple[str, ...]:
        """The keys a watches-file entry may have: the watch tool's parameters but `action`."""
        assert self.tool_spec is not None, "register_watches sets the tool"
        return tuple(name for name in inspect.signature(self.tool_spec.fn).parameters if name != "action")

    def declared_spec(self, entry: Mapping[str, Any], source: str) -> WatchSpec:
        """The watch a watches-file entry declares, by the rules of `action=add` (InputError,
        LimitError as the tool would raise)."""
        assert self.tool_spec is not None, "register_watches sets the tool"
        return self.spec_of(self.tool_spec.validate({**entry, "action": "add"}), managed_by=source)

    async def apply_declared(self) -> None:
        """Bring the store to the watches file (`declared`); StoreError if it cannot be reached."""
        if self.declared is None:
            return
        store = await self.handle.require()
        outcome = await store.sync_declared(self.kind.kind, self.declared, time.time())
        logger.info("watches file, %s watches: %s", self.kind.kind, outcome)
        if self.scheduler is not None:
            self.scheduler.wake()
        for name in {*outcome.added, *outcome.changed, *outcome.updated, *outcome.removed}:
            await self.publish(name)

    async def _add(self, arguments: Mapping[str, Any]) -> WatchActionResult:
        settings = get_settings()
        spec = self.spec_of(arguments)
        name, definition = spec.name, spec.definition
        target = self.kind.target_of(definition)
        interval_s = spec.interval_s
        store = await self.handle.require()
        existing = await store.get_watch(self.kind.kind, name)
        if existing is not None and existing.managed_by is not None:
            raise InputError(
                f"the watch {name!r} is declared in the watches file {existing.managed_by}: change it "
                "there (then send the server SIGHUP), or add this one under another name"
            )
        if existing is not None:
            raise InputError(f"a watch named {name!r} already exists: pick another name, or remove it first")
        await self._check_notify(spec.notify)
        started = time.time()
        result = await self.run_check(definition, deadline=settings.max_timeout_s + 5, strict=True)
        record = self.record_of(result, watch=name, tool=self.kind.check_name, target=target, started=started)
        completion = await store.add_watch(
            spec, record, time.time(), announce=self.notifier.announce, sender=self.owner
        )
        if self.scheduler is not None:
            self.scheduler.wake()
        await self.notifier.hand(completion.deliveries)
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

    def _notify_entries(self, arguments: Mapping[str, Any]) -> tuple[str, ...]:
        """The `notify` of an add or a watches-file entry: names the operator declared, or Apprise
        URLs (whose destination `_check_notify` checks for a caller)."""
        from monitor_common.notify.targets import MAX_NOTIFY, is_url

        entries = [str(e).strip() for e in cast("list[Any]", arguments.get("notify") or []) if str(e).strip()]
        if len(entries) > MAX_NOTIFY:
            raise LimitError(f"notify has {len(entries)} entries, at most {MAX_NOTIFY} are allowed")
        named = dict(get_settings().notify_targets)
        for entry in entries:
            if not is_url(entry) and entry not in named:
                known = ", ".join(sorted(named)) or "none are declared"
                raise InputError(
                    f"notify entry {entry!r} is neither an Apprise URL (scheme://...) nor a target "
                    f"named in MCP_MONITOR_NOTIFY_TARGETS ({known})"
                )
        return tuple(dict.fromkeys(entries))

    async def _check_notify(self, entries: tuple[str, ...]) -> None:
        """A caller's notify URLs: Apprise URLs of network services whose destination the network
        policy permits, like any target (InputError, PolicyError)."""
        from monitor_common.context import get_context
        from monitor_common.notify.targets import check_caller_url, is_url

        ctx = get_context()
        for entry in entries:
            if is_url(entry):
                await check_caller_url(entry, ctx.policy, ctx.resolver)

    async def _test_notify(self, store: Store, name: str) -> WatchActionResult:
        """`action=test_notify`: a test message to every target of the watch, the outcome of each."""
        watch = await store.get_watch(self.kind.kind, name)
        if watch is None:
            raise self._no_such(name)
        started = time.time()
        if not self.notifier.targets(watch):
            finding = Finding(
                severity=Verdict.WARNING,
                code="notify_not_configured",
                message=f"{name!r} notifies nobody",
                hint="add the watch with notify=[...], or set MCP_MONITOR_NOTIFY",
            )
            return self._done(
                "test_notify", f"{name!r} has no notification target", self.info(watch)
            ).model_copy(update={"verdict": Verdict.WARNING, "findings": [finding]})
        findings: list[Finding] = []
        for target, outcome in await self.notifier.test(watch):
            if outcome.delivered:
                findings.append(
                    Finding(
                        severity=Verdict.OK, code="notify_delivered", message=f"{target.shown}: delivered"
                    )
                )
            else:
                findings.append(
                    Finding(
                        severity=Verdict.CRITICAL,
                        code="notify_failed",
                        message=f"{target.shown}: {outcome.detail}",
                        hint="check the URL and that the service accepts it (MCP_MONITOR_NOTIFY, the watch's notify)",
                    )
                )
        failed = sum(1 for f in findings if f.code == "notify_failed")
        summary = (
            f"test notification of {name!r}: {len(findings) - failed} of {len(findings)} targets delivered"
        )
        return WatchActionResult(
            verdict=Verdict.CRITICAL if failed else Verdict.OK,
            summary=summary,
            findings=findings,
            checked_at=iso(started) or "",
            duration_ms=round((time.time() - started) * 1000, 2),
            action="test_notify",
            watch=self.info(watch),
        )

    def _no_such(self, name: str) -> InputError:
        return InputError(f"no {self.kind.kind} watch named {name!r}: see {self.kind.kind}_watch action=list")

    def _done(self, action: Action, summary: str, watch: WatchInfo | None) -> WatchActionResult:
        return WatchActionResult(
            verdict=Verdict.OK,
            summary=summary,
            checked_at=iso(time.time()) or "",
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
            target=self.kind.target_of(watch.definition),
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
            file=watch.managed_by,
            notify=[shown_entry(entry) for entry in watch.notify],
            notify_repeat_s=watch.notify_repeat_s,
        )

    # -- the report tool ---------------------------------------------------------------------

    async def report(self, name: str | None, window: Window, *, drawn: bool = False) -> WatchReport:
        """The `<kind>_watch_report` tool; `drawn`: with each watch's timeline, for a host that
        draws the report (the MCP Apps view)."""
        try:
            return await self._report(name, window, drawn)
        except StoreError:
            await self.handle.reset()
            raise

    async def _report(self, name: str | None, window: Window, drawn: bool) -> WatchReport:
        stopwatch = Stopwatch()
        name = _shown_name(name)
        store = await self.handle.require()
        kind = self.kind.kind
        now = time.time()
        since = now - WINDOWS[window]
        if name is not None:
            watch = await store.get_watch(kind, name)
            if watch is None:
                recorded = await store.recorded(kind, name)
                if not recorded:
                    raise InputError(
                        f"no {kind} watch named {name!r} and no recorded check of it: see "
                        f"{kind}_watch action=list (on-demand checks are kept when MCP_MONITOR_RECORD=true)"
                    )
                return not_watched(name, recorded, window, now)
            watches = [watch]
        else:
            watches = await store.list_watches(kind)
        items: list[WatchReportItem] = []
        for w in watches:
            rollups = await store.rollups(kind, w.name, since)
            slices = (
                timeline(window, await store.points(kind, w.name, since), rollups, now) if drawn else None
            )
            items.append(
                summarize(
                    self.kind,
                    w,
                    await store.window(kind, w.name, since),
                    rollups,
                    await store.incidents(kind, w.name, since),
                    now,
                    slices,
                )
            )
        return report_of(kind, items, window, stopwatch)

    # -- lifecycle ---------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self, run_background: bool) -> AsyncGenerator[None]:
        """While the server runs: the scheduler and the notification outbox (when
        `run_background`); after: the store closed."""
        try:
            if not run_background:
                yield
                return
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._schedule)
                tg.start_soon(self._send_notifications)
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
        from monitor_common.scheduler import MAX_BACKOFF_S, Scheduler

        backoff = 1.0
        while True:
            try:
                await self.apply_declared()
                break
            except StoreError as exc:
                logger.warning(
                    "watches file, %s watches: the store cannot be reached: %s; retrying in %.0f s",
                    self.kind.kind,
                    exc,
                    backoff,
                )
                await self.handle.reset()
                await anyio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)

        settings = get_settings()
        self.scheduler = Scheduler(
            self.kind.kind,
            self.handle,
            self.run_watch,
            concurrency=settings.watch_concurrency,
            poll_s=self.poll_s,
            on_completion=self.on_completion,
            retention=lambda: (get_settings().retention_days, get_settings().rollup_retention_days),
            owner=self.owner,
            announce=self.notifier.announce,
        )
        await self.scheduler.run()

    async def _send_notifications(self) -> None:
        await anyio.sleep(self.start_delay_s)
        await self.notifier.run()
