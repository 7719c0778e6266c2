"""Watch load: 500 watches at a 10 s interval against local targets, one process, then two, on one store.

Starts a throw-away PostgreSQL cluster on 127.0.0.1 (tests/support/postgres.py), a loopback HTTP
target process (bench/http_servers.py), stores the watches directly (their first runs spread
over one interval, as watches added one by one would be), then runs the server over stdio with
nothing but its scheduler working, for `--seconds`, first one process and then two on a fresh
database. Reports, from the stored results after a warm-up of one interval:

- scheduling lag: how long after its slot each run started (p50, p99; target p99 under 1 s);
- runs per watch and interval, slots run twice (must be 0);
- CPU (percent of one core) and peak memory (RSS) of each server process.

    uv run python bench/watch_load.py [--watches 500] [--interval 10] [--seconds 60] [--server http]
                                      [--store postgresql|sqlite]

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


async def seed(db: str, kind: str, url: str, count: int, interval: float) -> float:
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
            spec = WatchSpec(kind, f"w{i}", {"url": f"{url}?watch={i}"}, interval)
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


async def measure(db: str, kind: str, since: float, until: float, interval: float) -> dict[str, float]:
    store = await open_store(db)
    assert store is not None
    try:
        async with store._conn.transaction(write=False) as tx:  # pyright: ignore[reportPrivateUsage]
            rows = await tx.fetch(
                "SELECT watch, scheduled_at, checked_at, verdict FROM results WHERE kind = ? AND scheduled_at IS NOT NULL",
                (kind,),
            )
    finally:
        await store.close()
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
    }


def run_phase(
    cluster: PostgresCluster | None, processes: int, args: argparse.Namespace, url: str
) -> tuple[dict[str, float], list[tuple[float, float]]]:
    kind, command = SERVERS[args.server]
    if cluster is not None:
        db = cluster.create_database()
    else:
        db = tempfile.mkdtemp(prefix="watch-load-") + "/monitor.db"
    first_slot = asyncio.run(seed(db, kind, url, args.watches, args.interval))
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
        time.sleep(2.0)  # let the last runs of the window finish
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
    figures = asyncio.run(measure(db, kind, measure_from, measure_to - 1.0, args.interval))
    return figures, usage


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--watches", type=int, default=500)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--server", choices=sorted(SERVERS), default="http")
    parser.add_argument("--store", choices=["postgresql", "sqlite"], default="postgresql")
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
        print(
            f"{args.watches} watches every {args.interval:g} s for {args.seconds:g} s, server {args.server}, "
            f"{store}, {os.cpu_count()} CPUs; measured after {args.interval:g} s warm-up"
        )
        for processes in (1, 2):
            figures, usage = run_phase(cluster, processes, args, url)
            print(
                f"{processes} process{'es' if processes > 1 else ''}: lag p50 {figures['p50'] * 1000:.0f} ms, "
                f"p99 {figures['p99'] * 1000:.0f} ms, max {figures['max'] * 1000:.0f} ms "
                f"(target p99 < 1000 ms: {'met' if figures['p99'] < 1.0 else 'NOT met'}); "
                f"{figures['runs']:.0f} runs, {figures['runs_per_interval']:.3f} per watch and interval, "
                f"{figures['duplicates']:.0f} slots run twice, {figures['not_ok']:.0f} not ok"
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
