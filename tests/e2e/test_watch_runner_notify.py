"""The headless runner sends notifications as `serve` does: `mcp-http-monitor watch` with a watch
declared in the watches file (its `notify` naming a local JSON webhook), a target that turns from
200 to 503 and back, and the real Apprise deliveries: one DOWN, with http_check's findings and
hints, and one RESOLVED. Waits are on conditions with generous deadlines.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import anyio
import anyio.to_thread
from monitor_common.store import Store, Watch, open_store
from support.http_server import HttpServer
from support.receivers import webhook_receiver

from e2e.helpers import LOOPBACK_ENV, child_env

SECRET = "runner-Webhook-s3cret"


def start_runner(env: dict[str, str], err: BinaryIO) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "http_monitor", "watch"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=err,
        env=child_env(env),
    )


async def watch_where(store: Store, holds: Callable[[Watch], bool]) -> Watch:
    """Poll the runner's writes (another process: no event to wait on) until `holds`."""
    with anyio.fail_after(60):
        while (watch := await store.get_watch("http", "site")) is None or not holds(watch):  # noqa: ASYNC110
            await anyio.sleep(0.2)
    return watch


async def test_the_runner_notifies_down_and_resolved_once(tmp_path: Path, http_server: HttpServer) -> None:
    with webhook_receiver() as hook:
        watches = tmp_path / "watches.yaml"
        watches.write_text(
            "http:\n"
            "  - name: site\n"
            f"    url: {http_server.url_for('/switch/site')}\n"
            "    interval_s: 0.3\n"
            "    failure_threshold: 2\n"
            f"    notify: ['{hook.url(f'/hook/{SECRET}')}']\n",
            encoding="utf-8",
        )
        env = {
            **LOOPBACK_ENV,
            "MCP_MONITOR_DB": str(tmp_path / "monitor.db"),
            "MCP_MONITOR_WATCH_MIN_INTERVAL_S": "0.1",
            "MCP_MONITOR_WATCHES_FILE": str(watches),
            "MCP_MONITOR_LOG_LEVEL": "info",
        }
        log = tmp_path / "runner.log"
        with log.open("wb") as err:
            runner = start_runner(env, err)
            try:
                store = None
                with anyio.fail_after(60):
                    while store is None or (await store.get_watch("http", "site")) is None:
                        await anyio.sleep(0.2)  # the runner creates the store and syncs the file
                        store = store or await open_store(str(tmp_path / "monitor.db"), create=False)
                assert store is not None
                try:
                    await watch_where(store, lambda w: w.state == "up")
                    http_server.switch("site", 503)
                    (down,) = await anyio.to_thread.run_sync(lambda: hook.wait_for(1, timeout=60))
                    http_server.switch("site", 200)
                    _, up = await anyio.to_thread.run_sync(lambda: hook.wait_for(2, timeout=60))
                    runs = (await watch_where(store, lambda w: w.state == "up")).runs
                    # More runs after the recovery: nothing more is sent.
                    await watch_where(store, lambda w: w.runs >= runs + 8)
                    deliveries = await store.deliveries("http", "site")
                finally:
                    await store.close()
            finally:
                runner.send_signal(signal.SIGTERM)
                stdout, _ = runner.communicate(timeout=60)
        assert runner.returncode == 0
        assert stdout == b""
        assert [r.title for r in hook.received] == [down.title, up.title]
        assert down.title == "DOWN: site (critical)" and up.title.startswith("RESOLVED: site (down ")
        assert down.path == f"/hook/{SECRET}"
        assert "503" in down.message and "hint: " in down.message  # http_check's finding, with its hint
        assert sorted((d.event, d.status) for d in deliveries) == [
            ("opened", "delivered"),
            ("resolved", "delivered"),
        ]
        stderr = log.read_text(encoding="utf-8", errors="replace")
        assert "notification of http watch 'site'" in stderr and "delivered" in stderr
        assert SECRET not in stderr
