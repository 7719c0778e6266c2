"""`mcp-http-monitor watch`, the headless runner, as a real process: it runs the stored watches,
stops cleanly on SIGTERM handing its leases back, applies the watches file at start and on SIGHUP,
and refuses a bad file with its line. Every wait is on a condition with a generous deadline (the
machine may be loaded), never a fixed sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from monitor_common.store import ResultRecord, Store, WatchSpec, open_store
from support.http_server import HttpServer

from e2e.helpers import LOOPBACK_ENV, child_env, run_cli

DEADLINE_S = 60.0  # for anything that happens within a second or two on an idle machine


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **LOOPBACK_ENV,
        "MCP_MONITOR_DB": str(tmp_path / "monitor.db"),
        "MCP_MONITOR_WATCH_MIN_INTERVAL_S": "0.1",
        "MCP_MONITOR_LOG_LEVEL": "info",
        **extra,
    }


class Runner:
    """`python -m http_monitor watch ARGS` with stdout captured (it must stay empty) and stderr in
    a file; `command="serve"` for a host's stdio server instead, serving while its stdin is open."""

    def __init__(self, env: dict[str, str], log: Path, *args: str, command: str = "watch") -> None:
        self.log = log
        self._err = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "http_monitor", command, *args],
            stdin=subprocess.PIPE if command == "serve" else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._err,
            env=child_env(env),
        )
        self.stdout = b""

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = DEADLINE_S) -> int:
        """Send `signum` and wait for the exit; its status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        self.stdout, _ = self.proc.communicate(timeout=timeout)
        return self.proc.returncode

    def end_input(self, timeout: float = DEADLINE_S) -> int:
        """Close a server's stdin (a host that leaves) and wait for the exit; its status."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()
        self.proc.wait(timeout)
        with self.proc.stdout:
            self.stdout = self.proc.stdout.read()
        return self.proc.returncode

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(DEADLINE_S)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        self._err.close()


@pytest.fixture
def runners() -> Iterator[list[Runner]]:
    started: list[Runner] = []
    yield started
    for runner in started:
        runner.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await open_store(str(tmp_path / "monitor.db"))
    assert opened is not None
    try:
        yield opened
    finally:
        await opened.close()


async def until(predicate: Callable[[], Awaitable[bool]], what: str, seconds: float = DEADLINE_S) -> None:
    """Poll another process's effects (no event to wait on) until `predicate` holds."""
    deadline = time.monotonic() + seconds
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:g} s: {what}")
        await anyio.sleep(0.1)


async def results(store: Store, name: str) -> list[ResultRecord]:
    return await store.results("http", name, 0)


async def test_the_runner_runs_stored_watches_and_hands_its_leases_back_on_sigterm(
    tmp_path: Path, http_server: HttpServer, store: Store, runners: list[Runner]
) -> None:
    env = env_for(tmp_path)
    url = http_server.url_for("/status/200?runner=1")
    added = run_cli(
        "http_monitor",
        "call",
        "http_watch",
        "action=add",
        "name=home",
        f"url={url}",
        "interval_s=0.3",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    # A watch whose check hangs, so that the runner holds its lease (600 s) when it is stopped.
    # Put in the store directly (add would run the hanging check first), then made due now.
    now = time.time()
    hang = http_server.url_for("/hang")
    first = ResultRecord(
        kind="http", watch="hang", tool="http_check", target=hang, checked_at=now, verdict="ok", summary="-",
        duration_ms=1.0,
    )  # fmt: skip
    await store.add_watch(WatchSpec("http", "hang", {"url": hang, "timeout_s": 60}, 600), first, now)
    await store.set_paused("http", "hang", True, now)
    await store.set_paused("http", "hang", False, now)  # resuming makes it due at once

    runner = Runner(env, tmp_path / "first.log")
    runners.append(runner)

    async def home_ran() -> bool:
        return sum(r.scheduled_at is not None for r in await results(store, "home")) >= 3

    await until(home_ran, "the runner runs the stored watch and records its results")
    await anyio.to_thread.run_sync(http_server.wait_for_request, "/hang", DEADLINE_S)
    held = await store.get_watch("http", "hang")
    assert held is not None and held.lease_until is not None and held.lease_until > time.time() + 300

    stopped_at = time.monotonic()
    assert runner.stop() == 0, runner.stderr()
    assert time.monotonic() - stopped_at < 30, "SIGTERM ends the runner promptly"
    assert runner.stdout == b"", "nothing but protocol messages on stdout, and the runner speaks none"
    released = await store.get_watch("http", "hang")
    assert released is not None and released.lease_until is not None
    assert released.lease_until <= time.time(), "the lease of the running check was handed back"

    second = Runner(env, tmp_path / "second.log")
    runners.append(second)

    async def taken_over() -> bool:
        return http_server.count("/hang") >= 2

    # Within the deadline, far less than the 600 s the lease would have run.
    await until(taken_over, "a second runner takes the hanging watch over at once")
    assert second.stop(signal.SIGINT) == 0, second.stderr()
    assert second.stdout == b""


def write_atomically(path: Path, text: str) -> None:
    """As an editor or a deployment does: the runner never reads half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


async def test_the_watches_file_is_applied_at_start_and_on_sighup(
    tmp_path: Path, http_server: HttpServer, store: Store, runners: list[Runner]
) -> None:
    path = tmp_path / "watches.yaml"
    base = http_server.url_for("/status/200")

    def entry(name: str, query: str, extra: str = "") -> str:
        return f"  - name: {name}\n    url: {base}?w={query}\n    interval_s: 0.3\n{extra}"

    write_atomically(path, "http:\n" + entry("a", "a") + entry("b", "b") + entry("c", "c"))
    env = env_for(tmp_path, MCP_MONITOR_WATCHES_FILE=str(path))
    runner = Runner(env, tmp_path / "runner.log")
    runners.append(runner)

    async def each_ran(names: set[str], runs: int = 2) -> bool:
        watches = {w.name: w for w in await store.list_watches("http")}
        return set(watches) == names and all(watches[n].runs >= runs for n in names)

    await until(lambda: each_ran({"a", "b", "c"}), "the file's watches exist and run")
    for watch in await store.list_watches("http"):
        assert watch.managed_by == str(path.resolve())

    # The tools refuse to remove or replace what the file declares, and say where to change it.
    for arguments in (["action=remove", "name=a"], ["action=add", "name=a", f"url={base}"]):
        refused = run_cli("http_monitor", "call", "http_watch", *arguments, env=env_for(tmp_path))
        assert refused.returncode == 64, refused.stderr
        assert f"declared in the watches file {path.resolve()}" in refused.stderr

    # Edit: a removed, b's thresholds and interval changed (history kept), c's URL changed
    # (history dropped), d added.
    b_before = len(await results(store, "b"))
    write_atomically(
        path,
        "http:\n"
        + entry("b", "b", "    failure_threshold: 3\n").replace("interval_s: 0.3", "interval_s: 0.4")
        + entry("c", "c2")
        + entry("d", "d"),
    )
    runner.send(signal.SIGHUP)

    async def applied() -> bool:
        watches = {w.name: w for w in await store.list_watches("http")}
        return (
            set(watches) == {"b", "c", "d"}
            and watches["b"].failure_threshold == 3
            and str(watches["c"].definition["url"]).endswith("?w=c2")
            and watches["d"].runs >= 1
            and watches["c"].runs >= 1
        )

    await until(applied, "SIGHUP applies the edited file")
    b = await store.get_watch("http", "b")
    assert b is not None and b.interval_s == 0.4
    assert len(await results(store, "b")) >= b_before, "b's history is kept"
    c_targets = {r.target for r in await results(store, "c")}
    assert c_targets == {f"{base}?w=c2"}, "c's history of the old URL is gone"
    assert await results(store, "a") == []

    # A bad edit: the watches in force stay, the log names the line.
    write_atomically(path, "http:\n  - name: b\n    url: http://127.0.0.1/\n    interval_s: soon\n")
    runner.send(signal.SIGHUP)

    async def logged() -> bool:
        return f"{path}:4: interval_s" in runner.stderr()

    await until(logged, "the bad file's line is logged")
    assert {w.name for w in await store.list_watches("http")} == {"b", "c", "d"}
    assert runner.proc.poll() is None, "a bad file on SIGHUP does not stop the runner"

    assert runner.stop() == 0, runner.stderr()
    assert runner.stdout == b""


@pytest.mark.parametrize("command", ["watch", "serve"])
def test_a_bad_watches_file_stops_start_up_with_its_line(tmp_path: Path, command: str) -> None:
    path = tmp_path / "watches.yaml"
    path.write_text(
        "http:\n  - name: home\n    url: https://example.com/\n    interval_s: 1\n", encoding="utf-8"
    )
    env = env_for(tmp_path, MCP_MONITOR_WATCHES_FILE=str(path), MCP_MONITOR_WATCH_MIN_INTERVAL_S="10")
    done = run_cli("http_monitor", command, env=env)
    assert done.returncode == 78, done.stderr
    assert f"{path}:4: interval_s=1 is below the minimum of 10 s" in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "monitor.db").exists(), "nothing was started"


async def test_one_runner_runs_the_watches_of_several_servers(
    tmp_path: Path, http_server: HttpServer, store: Store, runners: list[Runner]
) -> None:
    path = tmp_path / "watches.yaml"
    write_atomically(
        path,
        f"http:\n  - name: site\n    url: {http_server.url_for('/status/200?kinds=1')}\n    interval_s: 0.3\n"
        # a TLS check of a plain-HTTP port: it fails, and the failure is recorded like any result
        f"ssl:\n  - name: cert\n    host: 127.0.0.1\n    port: {http_server.port}\n    interval_s: 0.3\n",
    )
    env = env_for(tmp_path, MCP_MONITOR_WATCHES_FILE=str(path))
    runner = Runner(env, tmp_path / "runner.log", "--kinds", "http,ssl")
    runners.append(runner)

    async def both_ran() -> bool:
        http = await store.results("http", "site", 0)
        cert = await store.results("cert", "cert", 0)
        return len(http) >= 2 and len(cert) >= 2

    await until(both_ran, "the http and ssl watches both run in one process")
    assert {r.verdict for r in await store.results("http", "site", 0)} == {"ok"}
    assert runner.stop() == 0, runner.stderr()

    refused = run_cli("http_monitor", "watch", "--kinds", "http,smtp", env=env_for(tmp_path))
    assert refused.returncode == 78
    assert "--kinds names 'smtp', whose server is not installed here" in refused.stderr


def test_the_readmes_watches_file_declares_a_watch_per_server(tmp_path: Path) -> None:
    import re

    from dns_monitor.server import watch_service as dns
    from http_monitor.server import watch_service as http
    from monitor_common.config import Settings, set_settings
    from monitor_common.watches.declared import load_declared
    from ssl_monitor.server import watch_service as ssl

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    example = re.search(r"### Watches declared in a file.*?```yaml\n(.*?)```", readme, re.DOTALL)
    assert example is not None
    path = tmp_path / "watches.yaml"
    path.write_text(example.group(1), encoding="utf-8")
    set_settings(Settings())
    declared = load_declared(path, [http, ssl, dns])
    assert {kind: [s.name for s in specs] for kind, specs in declared.items()} == {
        "http": ["homepage"],
        "cert": ["example.com"],
        "dns": ["example.com"],
    }


async def test_serve_applies_the_watches_file_at_start_and_on_sighup(
    tmp_path: Path, http_server: HttpServer, store: Store, runners: list[Runner]
) -> None:
    path = tmp_path / "watches.yaml"
    base = http_server.url_for("/status/200")
    write_atomically(path, f"http:\n  - name: a\n    url: {base}?serve=a\n    interval_s: 0.3\n")
    env = env_for(tmp_path, MCP_MONITOR_WATCHES_FILE=str(path))
    server = Runner(env, tmp_path / "serve.log", command="serve")
    runners.append(server)

    async def ran(name: str) -> bool:
        watch = await store.get_watch("http", name)
        return watch is not None and watch.runs >= 2

    await until(lambda: ran("a"), "serve adds and runs the file's watch")
    write_atomically(path, f"http:\n  - name: b\n    url: {base}?serve=b\n    interval_s: 0.3\n")
    server.send(signal.SIGHUP)
    await until(lambda: ran("b"), "SIGHUP makes serve apply the edited file")
    assert [w.name for w in await store.list_watches("http")] == ["b"]
    assert server.proc.poll() is None, "SIGHUP does not end the server"
    assert server.end_input() == 0, server.stderr()
    assert server.stdout == b"", "no request came, so no protocol message was written"


def test_a_bad_setting_stops_the_runner_with_78(tmp_path: Path) -> None:
    done = run_cli("http_monitor", "watch", env=env_for(tmp_path, MCP_MONITOR_WATCH_CONCURRENCY="none"))
    assert done.returncode == 78 and "MCP_MONITOR_WATCH_CONCURRENCY" in done.stderr
    assert done.stdout == ""


async def test_the_runner_delivers_the_notifications_of_a_declared_watch(
    tmp_path: Path, http_server: HttpServer, store: Store, runners: list[Runner]
) -> None:
    from support.receivers import webhook_receiver

    with webhook_receiver() as hook:
        path = tmp_path / "watches.yaml"
        write_atomically(
            path,
            "http:\n"
            "  - name: site\n"
            f"    url: {http_server.url_for('/switch/runner')}\n"
            "    interval_s: 0.3\n"
            "    failure_threshold: 1\n"
            f"    notify: ['{hook.url('/hook/runner-s3cret-TOKEN')}']\n",
        )
        runner = Runner(env_for(tmp_path, MCP_MONITOR_WATCHES_FILE=str(path)), tmp_path / "runner.log")
        runners.append(runner)

        async def state(wanted: str) -> bool:
            watch = await store.get_watch("http", "site")
            return watch is not None and watch.state == wanted

        await until(lambda: state("up"), "the declared watch runs and is up")
        http_server.switch("runner", 503)
        (down,) = await anyio.to_thread.run_sync(hook.wait_for, 1, DEADLINE_S)
        assert down.title.startswith("DOWN: site"), down.title
        assert "503" in down.message and "hint: " in down.message  # http_check's finding, with its hint
        http_server.switch("runner", 200)
        resolved = (await anyio.to_thread.run_sync(hook.wait_for, 2, DEADLINE_S))[1]
        assert resolved.title.startswith("RESOLVED: site"), resolved.title
        assert runner.stop() == 0, runner.stderr()
        assert runner.stdout == b""
        assert len(hook.received) == 2, hook.titles()
        assert down.path == "/hook/runner-s3cret-TOKEN"
        assert "runner-s3cret-TOKEN" not in runner.stderr()  # the URL's secret stays out of the log


async def test_sigterm_lets_a_notification_in_flight_finish_and_records_it(
    tmp_path: Path, http_server: HttpServer, store: Store, runners: list[Runner]
) -> None:
    """A stop in the middle of a send waits for it: the service's answer is stored as delivered, so
    no process sends that message again when the lease would have expired."""
    from support.receivers import webhook_receiver

    with webhook_receiver() as hook:
        hook.delay_s = 2.0
        http_server.switch("inflight", 503)
        path = tmp_path / "watches.yaml"
        write_atomically(
            path,
            "http:\n"
            "  - name: site\n"
            f"    url: {http_server.url_for('/switch/inflight')}\n"
            "    interval_s: 0.3\n"
            "    failure_threshold: 1\n"
            f"    notify: ['{hook.url('/hook/inflight')}']\n",
        )
        runner = Runner(env_for(tmp_path, MCP_MONITOR_WATCHES_FILE=str(path)), tmp_path / "runner.log")
        runners.append(runner)
        assert await anyio.to_thread.run_sync(hook.arrived.wait, DEADLINE_S), "the DOWN notification is sent"
        assert runner.stop() == 0, runner.stderr()  # SIGTERM while the receiver holds the answer
        (down,) = hook.wait_for(1, 0)
        assert down.title.startswith("DOWN: site"), down.title
        (delivery,) = await store.deliveries("http", "site")
        assert delivery.status == "delivered", (delivery, runner.stderr())
        assert delivery.lease_owner is None
