"""Watch load: 500 watches at a 10 s interval against local targets, one process, then two, on one store.

Starts a throw-away PostgreSQL cluster on 127.0.0.1 (tests/support/postgres.py), a loopback HTTP
target process (bench/http_servers.py), stores the watches directly (their first runs spread
over one interval, as watches added one by one would be), then runs the server over stdio with
nothing but its scheduler working, for `--seconds`, first one process and then two on a fresh
database. `--flap` of the watches (10 % by default) check a target that answers 200 and 503 in
turn, with both thresholds at 1, so they open or close an incident at every run; every watch
notifies a local JSON webhook (Apprise `json://`, a receiver thread in this process). Reports,
from the stored results and deliveries after a warm-up of one interval:

- scheduling lag: how long after its slot each run started (p50, p99; target p99 under 1 s);
- runs per watch and interval, slots run twice (must be 0);
- delivery lag: from the transition's record in the store (its notification is recorded in the
  same transaction) to the webhook's receipt (p50, p99; target p99 under 1 s); transitions
  notified twice or not at all (must be 0). The baseline, measured in the same run: one Apprise
  send to the same webhook from this process (its plugins loaded), 50 times in a row; the
  delivery lag is printed as a ratio of it too;
- CPU (percent of one core) and peak memory (RSS) of each server process.

    uv run python bench/watch_load.py [--watches 500] [--interval 10] [--seconds 60] [--server http]
                                      [--store postgresql|sqlite] [--flap 0.1]

`--server http` runs mcp-http-monitor's `http_watch` (http_check on every run); `--server probe`
the tests' minimal watch server (a bare GET), to separate the scheduler from the check.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

from http_servers import serve  # noqa: E402
from monitor_common.store import ResultRecord, WatchSpec, open_store, percentile  # noqa: E402
from support.postgres import PostgresCluster, pg_bin_dir  # noqa: E402  # pyright: ignore[reportMissingImports]
from support.receivers import WebhookReceiver  # noqa: E402  # pyright: ignore[reportMissingImports]

SERVERS = {
    "http": ("http", [sys.executable, "-m", "http_monitor", "serve"]),
    "probe": ("probe", [sys.executable, "-m", "support.watch_server", "serve"]),
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def direct_sends(url: str, count: int = 50) -> tuple[float, float]:
    """(p50, p99) seconds of one Apprise send to `url` from here: the baseline of delivery lag."""
    from monitor_common.notify._apprise import load_apprise

    apprise = load_apprise()
    times: list[float] = []
    for index in range(count):
        sender = apprise.Apprise()
        sender.add(url)
        started = time.perf_counter()
        assert sender.notify(body="baseline", title=f"BASELINE: b{index}")
        times.append(time.perf_counter() - started)
    times.sort()
    return percentile(times, 50) or 0.0, percentile(times, 99) or 0.0


def flapping(index: int, count: int, share: float) -> bool:
    """Whether watch `index` of `count` flaps: `share` of them, spread evenly."""
    every = round(1 / share) if share > 0 else 0
    return every > 0 and index % every == 0 and index // every < round(count * share)


async def seed(db: str, kind: str, url: str, count: int, interval: float, share: float, hook: str) -> float:
    store = await open_store(db)
    assert store is not None
    start = time.time()
    try:
        for i in range(count):
            # Watch i's first slot comes at start + interval * (i / count), as if added then.
            added = start - interval + interval * i / count
            first = ResultRecord(
                kind=kind, watch=f"w{i}", tool="seed", target=url, checked_at=added, verdict="ok",
                summary="seeded", duration_ms=0.0,
            )  # fmt: skip
            flaps = flapping(i, count, share)
            target = f"{url}flap/w{i}" if flaps else f"{url}?watch={i}"
            # Thresholds of 1: a flapping watch opens or closes an incident at every run.
            spec = WatchSpec(
                kind,
                f"w{i}",
                {"url": target},
                interval,
                failure_threshold=1,
                success_threshold=1,
                notify=(hook,),
            )
            await store.add_watch(spec, first, added)
        # The first-run jitter is for watches added together; here they are spread already.
        async with store._conn.transaction(write=True) as tx:  # pyright: ignore[reportPrivateUsage]
            for i in range(count):
                await tx.run(
                    "UPDATE watches SET next_run = ? WHERE kind = ? AND name = ?",
                    (start + 2.0 + interval * i / count, kind, f"w{i}"),
                )
    finally:
        await store.close()
    return start + 2.0


async def measure(
    db: str, kind: str, since: float, until: float, interval: float, hook: WebhookReceiver
) -> dict[str, float]:
    store = await open_store(db)
    assert store is not None
    try:
        async with store._conn.transaction(write=False) as tx:  # pyright: ignore[reportPrivateUsage]
            rows = await tx.fetch(
                "SELECT watch, scheduled_at, checked_at, verdict FROM results WHERE kind = ? AND scheduled_at IS NOT NULL",
                (kind,),
            )
            sent = await tx.fetch(
                "SELECT watch, created_at, status, attempts FROM deliveries WHERE kind = ? ORDER BY created_at, id",
                (kind,),
            )
    finally:
        await store.close()
    # Each watch has one target: its n-th notification recorded is its n-th received (the
    # message names the watch in its title: "DOWN: w12 (critical)", "RESOLVED: w12 (...)").
    received: dict[str, list[float]] = {}
    for item in sorted(hook.received, key=lambda r: r.at):
        received.setdefault(item.title.split(": ", 1)[1].split(" ", 1)[0], []).append(item.at)
    recorded: dict[str, list[float]] = {}
    retried = sum(1 for row in sent if since <= float(row[1]) < until and int(row[3]) > 1)
    for watch, created_at, _status, _attempts in sent:
        recorded.setdefault(str(watch), []).append(float(created_at))
    delivery_lags: list[float] = []
    missing = duplicated = 0
    for watch, times in recorded.items():
        got = received.get(watch, [])
        duplicated += max(0, len(got) - len(times))
        for index, at in enumerate(times):
            if not since <= at < until:
                continue  # before the warm-up ended, or so late that the processes stopped first
            if index < len(got):
                delivery_lags.append(got[index] - at)
            else:
                missing += 1
    delivery_lags.sort()
    window = [r for r in rows if since <= r[1] < until]
    lags = sorted(max(0.0, float(r[2]) - float(r[1])) for r in window)
    slots = {(r[0], r[1]) for r in rows}
    watches = {r[0] for r in rows}
    return {
        "runs": len(window),
        "p50": percentile(lags, 50) or 0.0,
        "p99": percentile(lags, 99) or 0.0,
        "max": lags[-1] if lags else 0.0,
        "duplicates": len(rows) - len(slots),
        "runs_per_interval": len(window) / max(1, len(watches)) / ((until - since) / interval),
        "not_ok": sum(1 for r in window if r[3] != "ok"),
        "notified": len(delivery_lags),
        "delivery_p50": percentile(delivery_lags, 50) or 0.0,
        "delivery_p99": percentile(delivery_lags, 99) or 0.0,
        "delivery_max": delivery_lags[-1] if delivery_lags else 0.0,
        "not_delivered": missing,
        "delivered_twice": duplicated,
        "retried": retried,
    }


def run_phase(
    cluster: PostgresCluster | None, processes: int, args: argparse.Namespace, url: str
) -> tuple[dict[str, float], list[tuple[float, float]]]:
    hook = WebhookReceiver()
    try:
        return _run_phase(cluster, processes, args, url, hook)
    finally:
        hook.close()


def _run_phase(
    cluster: PostgresCluster | None, processes: int, args: argparse.Namespace, url: str, hook: WebhookReceiver
) -> tuple[dict[str, float], list[tuple[float, float]]]:
    kind, command = SERVERS[args.server]
    if cluster is not None:
        db = cluster.create_database()
    else:
        db = tempfile.mkdtemp(prefix="watch-load-") + "/monitor.db"
    first_slot = asyncio.run(seed(db, kind, url, args.watches, args.interval, args.flap, hook.url("/hook")))
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT / "tests"),
        MCP_MONITOR_DB=db,
        MCP_MONITOR_ALLOW_NETWORKS="127.0.0.0/8",
        MCP_MONITOR_LOG_LEVEL="warning",
        MCP_MONITOR_RATE_LIMIT_PER_HOST="0",  # every watch checks one local host: measure the scheduler
    )
    children = [
        subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
        for _ in range(processes)
    ]
    try:
        # Measure after one interval of warm-up (imports, first connections).
        measure_from = first_slot + args.interval
        measure_to = first_slot + args.seconds
        time.sleep(max(0.0, measure_from - time.time()))
        cpu0 = [cpu_seconds(c.pid) for c in children]
        t0 = time.time()
        time.sleep(max(0.0, measure_to - time.time()))
        elapsed = time.time() - t0
        usage = [
            ((cpu_seconds(c.pid) - before) / elapsed * 100, peak_rss_mib(c.pid))
            for c, before in zip(children, cpu0, strict=True)
        ]
        time.sleep(4.0)  # let the last runs of the window finish and their notifications arrive
    finally:
        for child in children:
            assert child.stdin is not None
            child.stdin.close()
        for child in children:
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    figures = asyncio.run(measure(db, kind, measure_from, measure_to - 1.0, args.interval, hook))
    return figures, usage


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--watches", type=int, default=500)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--server", choices=sorted(SERVERS), default="http")
    parser.add_argument("--store", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument(
        "--processes", type=lambda t: [int(n) for n in t.split(",")], default=[1, 2], help="phases, e.g. 1,2"
    )
    parser.add_argument(
        "--flap", type=float, default=0.1, help="share of the watches that flap every interval"
    )
    args = parser.parse_args()
    cluster: PostgresCluster | None = None
    store = "SQLite (WAL)"
    if args.store == "postgresql":
        bin_dir = pg_bin_dir()
        if bin_dir is None:
            print("PostgreSQL is not installed (apt-get install postgresql)", file=sys.stderr)
            return 1
        started = PostgresCluster(bin_dir)
        started.start()
        cluster = started
        store = f"PostgreSQL {bin_dir.parent.name}"
    target, port = serve(["127.0.0.1"])
    try:
        url = f"http://127.0.0.1:{port}/"
        hook = WebhookReceiver()
        try:
            base_p50, base_p99 = direct_sends(hook.url("/baseline"))
        finally:
            hook.close()
        print(
            f"{args.watches} watches every {args.interval:g} s for {args.seconds:g} s, {args.flap:.0%} flapping "
            f"(notified to a local webhook), server {args.server}, {store}, {os.cpu_count()} CPUs; measured after "
            f"{args.interval:g} s warm-up"
        )
        for processes in args.processes:
            figures, usage = run_phase(cluster, processes, args, url)
            print(
                f"{processes} process{'es' if processes > 1 else ''}: lag p50 {figures['p50'] * 1000:.0f} ms, "
                f"p99 {figures['p99'] * 1000:.0f} ms, max {figures['max'] * 1000:.0f} ms "
                f"(target p99 < 1000 ms: {'met' if figures['p99'] < 1.0 else 'NOT met'}); "
                f"{figures['runs']:.0f} runs, {figures['runs_per_interval']:.3f} per watch and interval, "
                f"{figures['duplicates']:.0f} slots run twice, {figures['not_ok']:.0f} not ok"
            )
            print(
                f"  notifications: {figures['notified']:.0f} transitions notified, delivery lag p50 "
                f"{figures['delivery_p50'] * 1000:.0f} ms, p99 {figures['delivery_p99'] * 1000:.0f} ms, max "
                f"{figures['delivery_max'] * 1000:.0f} ms (target p99 < 1000 ms: "
                f"{'met' if figures['delivery_p99'] < 1.0 else 'NOT met'}); "
                f"{figures['not_delivered']:.0f} not delivered, {figures['delivered_twice']:.0f} delivered twice, "
                f"{figures['retried']:.0f} after a failed attempt"
            )
            print(
                f"  baseline (one direct Apprise send to the webhook, same run): p50 {base_p50 * 1000:.1f} ms, "
                f"p99 {base_p99 * 1000:.1f} ms; delivery lag p50 {figures['delivery_p50'] / base_p50:.1f}x, "
                f"p99 {figures['delivery_p99'] / base_p99:.1f}x of it"
            )
            print(
                f"  machine load average (1 min) after the phase: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
            )
            for index, (cpu, rss) in enumerate(usage, 1):
                print(f"  process {index}: CPU {cpu:.1f}% of one core, peak RSS {rss:.0f} MiB")
    finally:
        assert target.stdin is not None
        target.stdin.close()
        target.wait(10)
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
