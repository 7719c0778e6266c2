"""The headless runner (`mcp-X-monitor watch`) and the watches file's reload on SIGHUP.

    mcp-http-monitor watch                       run http-monitor's stored watches until stopped
    mcp-http-monitor watch --kinds http,ssl,dns  one process for the three servers' watches

Rules:

1. `watch` runs the same watch service `serve` runs (scheduler, leases, recording, and what the
   service does on a transition, such as notifications), without MCP: nothing is read from
   stdin and nothing is written to stdout; logs go to stderr.
2. One process may run several kinds: `--kinds` names the servers (`http`, `ssl`, `dns`, the
   watches file's sections); a kind is found through the `mcp_monitor.watches` entry points each
   server package declares, so only installed servers can be named (else exit 78, naming those
   that are). All kinds share the process's settings (policy, store, timeouts).
3. SIGTERM and SIGINT stop it: running checks are cancelled and their leases handed back at
   once (`Scheduler`), so another process takes the watches over without waiting for the
   leases to expire; the exit status is 0.
4. With `MCP_MONITOR_WATCHES_FILE`, the file is read before anything starts (a bad file: exit 78,
   the line and the problem on stderr) and the store is brought to it; SIGHUP reads it again
   and applies it, or, if it is bad, logs the error with its line and keeps the watches in
   force. `serve` does the same (`declared_reloader`).
"""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from monitor_common.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from monitor_common.toolset import ToolSet
    from monitor_common.watches.service import WatchService

__all__ = ["ENTRY_POINTS", "declare", "declared_reloader", "kinds_of", "run_watches"]

logger = logging.getLogger("monitor_common.runner")

ENTRY_POINTS = "mcp_monitor.watches"  # name: the kind's section; value: the server's ToolSet


def kinds_of(own: Sequence[WatchService], kinds: str | None) -> list[WatchService]:
    """The watch services `--kinds` names (None: this server's own). ConfigError for a kind
    whose server is not installed here."""
    if kinds is None:
        return list(own)
    from importlib.metadata import entry_points

    installed = {ep.name: ep for ep in entry_points(group=ENTRY_POINTS)}
    services: list[WatchService] = []
    for name in dict.fromkeys(k.strip() for k in kinds.split(",") if k.strip()):
        mine = [s for s in own if s.kind.section == name]
        if mine:
            services.extend(mine)
            continue
        if name not in installed:
            raise ConfigError(
                f"--kinds names {name!r}, whose server is not installed here: the kinds installed are "
                f"{', '.join(sorted(installed)) or 'none'} (install mcp-{name}-monitor beside this one)"
            )
        tools: ToolSet = installed[name].load()
        services.extend(s for s in tools.watches if s not in services)
    if not services:
        raise ConfigError("--kinds names no kind: e.g. --kinds http,ssl,dns")
    return services


def declare(services: Sequence[WatchService], path: Path | None) -> None:
    """Read the watches file into each service's `declared`; WatchesFileError (a ConfigError)."""
    if path is None:
        return
    from monitor_common.watches.declared import load_declared

    declared = load_declared(path, services)
    for service in services:
        service.declared = declared[service.kind.kind]


async def _reload(services: Sequence[WatchService], path: Path) -> None:
    from monitor_common.watches.declared import WatchesFileError

    logger.info("SIGHUP: reading the watches file %s again", path)
    try:
        declare(services, path)
    except WatchesFileError as exc:
        logger.error("%s; the watches in force are kept", exc)
        return
    for service in services:
        try:
            await service.apply_declared()
        except StoreError as exc:
            logger.error("watches file: the store cannot be reached: %s; send SIGHUP again later", exc)
            await service.handle.reset()


def declared_reloader(
    services: Sequence[WatchService], path: Path | None
) -> Callable[[bool], AbstractAsyncContextManager[None]]:
    """For `serve`: a server service that applies the watches file again on SIGHUP."""

    @asynccontextmanager
    async def reloader(run_background: bool) -> AsyncGenerator[None]:
        if path is None or not run_background or not hasattr(signal, "SIGHUP"):
            yield
            return
        file = path
        async with anyio.create_task_group() as tg:
            with anyio.open_signal_receiver(signal.SIGHUP) as signals:

                async def listen() -> None:
                    async for _ in signals:
                        await _reload(services, file)

                tg.start_soon(listen)
                try:
                    yield
                finally:
                    tg.cancel_scope.cancel()

    return reloader


def run_watches(services: Sequence[WatchService], path: Path | None) -> int:
    """The `watch` subcommand, once the settings are in force and the file is read: run until
    SIGTERM or SIGINT; 0 then."""
    return anyio.run(_run, services, path)


async def _run(services: Sequence[WatchService], path: Path | None) -> int:
    stop = [getattr(signal, name) for name in ("SIGTERM", "SIGINT") if hasattr(signal, name)]
    hup = [signal.SIGHUP] if path is not None and hasattr(signal, "SIGHUP") else []
    kinds = ", ".join(s.kind.kind for s in services)
    async with anyio.create_task_group() as tg:
        with anyio.open_signal_receiver(*stop, *hup) as signals:
            for service in services:
                tg.start_soon(_run_service, service)
            logger.info("running the %s watches until SIGTERM", kinds)
            async for signum in signals:
                if signum in hup:
                    assert path is not None
                    await _reload(services, path)
                    continue
                logger.info(
                    "%s: stopping; the leases of running checks are handed back", signal.Signals(signum).name
                )
                tg.cancel_scope.cancel()
                break
    logger.info("stopped running the %s watches", kinds)
    return 0


async def _run_service(service: WatchService) -> None:
    service.start_delay_s = 0.0  # no MCP host to answer first
    async with service.running(True):
        await anyio.sleep_forever()
