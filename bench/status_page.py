"""The status page and /metrics with many watches: time to first byte, page weight, scrape time.

A store of `--watches` http watches (500) with `--days` (30) of results each, one every
`--interval` seconds (900: 2,880 a watch, 1.44 million rows), written through the store API
(`Store.record_many`), a few of them down with an open incident and some with closed ones. A real
`mcp-http-monitor serve --transport http` process serves it; requests go to it over loopback.

The baseline is the same server answering a trivial route of the same stack (`GET /status?window=x`:
the Host check, the router and a 400 before any store read), measured in the same run,
interleaved request by request so that machine noise hits both alike. Targets: `/status` first
byte under 200 ms and its body under 300 KB, `/metrics` under 100 ms.

The server gathers the page at most once per `PAGE_TTL_S` (5 s; `monitor_common.web.app`) and
answers from what it gathered while it gathers anew (stale-while-revalidate): only the first
request waits for the store. So three figures are given: that first request, the requests after
it (what readers get; the target is checked against it), and gathering plus rendering the page
in this process from the same store (what each refresh costs), with its CPU time.

    uv run python bench/status_page.py [--watches 500] [--days 30] [--interval 600] [--requests 20]
                                       [--fresh 5] [--db postgresql://...]   (default: SQLite in a temp dir)
                                       [--store PATH]

`--store PATH` keeps the SQLite file: written there when it does not exist, reused as it is when it
does (seeding takes minutes on a loaded machine). A reused store's newest results are as old as
the run that wrote it, which the figures do not depend on; its watches fall due a day after it was
written (the server then checks them while it is timed): delete the file to start afresh.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TTFB_TARGET_MS = 200.0
WEIGHT_TARGET = 300 * 1024
SCRAPE_TARGET_MS = 100.0
DAY = 86400.0


async def seed(db: str, watches: int, days: int, interval: float) -> int:
    from monitor_common.store import ResultRecord, WatchSpec, open_store

    store = await open_store(db)
    assert store is not None
    rng = random.Random(500)
    now = time.time()
    start = now - days * DAY
    rows = 0
    try:
        for w in range(watches):
            name = f"site-{w:03d}"
            url = f"https://site-{w:03d}.example.test/"

            def result(at: float, verdict: str, name: str = name, url: str = url) -> ResultRecord:
                bad = verdict != "ok"
                return ResultRecord(
                    kind="http",
                    watch=name,
                    tool="http_check",
                    target=url,
                    checked_at=at,
                    verdict=verdict,
                    summary=f"{url} answered {503 if bad else 200}",
                    duration_ms=80.0,
                    latency_ms=40 + 60 * rng.random(),
                    figures={"status_code": 503 if bad else 200, "days_left": 60.0},
                    codes=("http_status_unexpected",) if bad else (),
                )

            spec = WatchSpec("http", name, {"url": url}, interval_s=DAY, failure_threshold=1)
            # Added now, so first due in most of a day: the server's scheduler runs none of them
            # while the routes are timed (added at `start`, all 500 were overdue and it checked
            # them then, resolving every site-NNN.example.test through the system resolver).
            await store.add_watch(spec, result(start, "ok"), now)
            outage = rng.random() < 0.1  # one watch in ten had an outage of a few hours
            outage_at = start + rng.random() * (days - 1) * DAY
            batch = [
                result(at, "critical" if outage and outage_at <= at < outage_at + 4 * 3600 else "ok")
                for at in (start + interval * (i + 1) for i in range(int(days * DAY / interval) - 1))
            ]
            await store.record_many(batch)
            rows += len(batch) + 1
            watch = await store.get_watch("http", name)
            assert watch is not None
            if outage:  # its incident: opened and closed by runs, as the scheduler's would be
                done = await store.complete(watch, "bench", result(outage_at, "critical"), now)
                if rng.random() < 0.7 and done is not None:
                    await store.complete(done.watch, "bench", result(outage_at + 4 * 3600, "ok"), now)
            if w % 50 == 0:
                print(f"  seeded {w + 1} watches, {rows:,} results", file=sys.stderr, flush=True)
    finally:
        await store.close()
    return rows


async def gather_and_render(db: str, times: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of gathering and rendering the overview in this process."""
    from http_monitor.server import watch_service
    from monitor_common.store import open_store
    from monitor_common.web.app import served_links
    from monitor_common.web.render import render_overview
    from monitor_common.web.status import collect

    store = await open_store(db)
    assert store is not None
    walls: list[float] = []
    cpus: list[float] = []
    try:
        for _ in range(times + 1):  # the first warms the templates
            wall, cpu = time.perf_counter(), time.process_time()
            render_overview(await collect(store, [watch_service.kind]), served_links(), title="bench")
            walls.append((time.perf_counter() - wall) * 1000)
            cpus.append((time.process_time() - cpu) * 1000)
    finally:
        await store.close()
    return statistics.median(walls[1:]), statistics.median(cpus[1:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(client: object, url: str) -> tuple[float, float, bytes]:
    """(ms to the response head, ms to the last byte, body) of one GET."""
    import httpx2

    assert isinstance(client, httpx2.Client)
    started = time.perf_counter()
    with client.stream("GET", url) as response:
        head = (time.perf_counter() - started) * 1000
        body = response.read()
    assert response.status_code in (200, 400), (url, response.status_code)
    return head, (time.perf_counter() - started) * 1000, body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--watches", type=int, default=500)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--interval", type=float, default=900.0)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--fresh", type=int, default=5, help="in-process gatherings to time")
    parser.add_argument("--db", default=None, help="a postgresql:// URL (default: SQLite in a temp dir)")
    parser.add_argument(
        "--store", type=Path, default=None, help="a SQLite file to keep: written when missing, else reused"
    )
    args = parser.parse_args()
    if args.db and args.store:
        parser.error("--db and --store are exclusive: --store names a SQLite file")

    import httpx2

    with tempfile.TemporaryDirectory(prefix="status-bench-") as tmp:
        db = args.db or str(args.store or Path(tmp) / "monitor.db")
        if args.store is not None and args.store.exists():
            print(f"store: {args.store} reused as it is (--watches, --days and --interval do not apply)")
        else:
            # A kept store is written under another name and renamed once complete, so that an
            # interrupted run leaves no half-written store to be reused.
            writing = str(args.store.with_name(args.store.name + ".partial")) if args.store else db
            if args.store is not None:
                for leftover in ("", "-wal", "-shm"):  # of a run interrupted while writing
                    Path(writing + leftover).unlink(missing_ok=True)
            started = time.perf_counter()
            rows = asyncio.run(seed(writing, args.watches, args.days, args.interval))
            if args.store is not None:
                os.replace(writing, args.store)
            print(
                f"store: {args.watches} watches, {rows:,} results over {args.days} days, "
                f"written in {time.perf_counter() - started:.1f} s ({'PostgreSQL' if args.db else 'SQLite'})"
            )
        port = free_port()
        env = {**os.environ, "MCP_MONITOR_DB": db, "MCP_MONITOR_AUDIT_LOG": os.devnull}
        server = subprocess.Popen(
            [sys.executable, "-m", "http_monitor", "serve", "--transport", "http", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            with httpx2.Client(trust_env=False, timeout=60) as client:
                while True:
                    try:
                        client.get(base + "/status?window=x")
                        break
                    except httpx2.TransportError:
                        if time.monotonic() > deadline or server.poll() is not None:
                            raise SystemExit("the server did not start") from None
                        time.sleep(0.1)
                cold = timed(client, base + "/status")[0]
                figures: dict[str, list[float]] = {"baseline": [], "served": [], "metrics": []}
                page = b""
                for _ in range(args.requests):
                    figures["baseline"].append(timed(client, base + "/status?window=x")[0])
                    head, _, page = timed(client, base + "/status")
                    figures["served"].append(head)
                    figures["metrics"].append(timed(client, base + "/metrics")[1])
                encoded = client.get(base + "/status", headers={"accept-encoding": "gzip"})
                zipped = encoded.num_bytes_downloaded
                one = statistics.median(timed(client, base + "/status/site-007")[0] for _ in range(5))
        finally:
            server.terminate()
            server.wait(timeout=30)
        gathering = asyncio.run(gather_and_render(db, args.fresh))

    median = {name: statistics.median(values) for name, values in figures.items()}
    baseline = median["baseline"]
    weight = len(page)
    print(
        f"baseline (GET /status?window=x, a 400 before any store read): {baseline:.1f} ms, "
        f"median of {args.requests}, interleaved with the cached page and /metrics"
    )
    checked = [
        (f"/status first byte (median of {args.requests})", median["served"], TTFB_TARGET_MS),
        (f"/metrics scrape, whole body (median of {args.requests})", median["metrics"], SCRAPE_TARGET_MS),
    ]
    for label, value, target in checked:
        verdict = "ok" if value < target else "OVER TARGET"
        print(
            f"  {label:44} {value:7.1f} ms {value / baseline:6.1f}x baseline  target < {target:.0f} ms: {verdict}"
        )
    wall, cpu = gathering
    for label, value in (
        ("/status first byte, first request (gathers)", cold),
        (f"gather + render in process (median of {args.fresh})", wall),
        ("/status/site-007, one watch (median of 5)", one),
    ):
        print(f"  {label:44} {value:7.1f} ms {value / baseline:6.1f}x baseline")
    print(f"  (gather + render: {cpu:.0f} ms of CPU, median)")
    verdict = "ok" if weight < WEIGHT_TARGET else "OVER TARGET"
    print(
        f"  /status page weight: {weight / 1024:.0f} KB ({weight / args.watches:.0f} bytes a watch), "
        f"{zipped / 1024:.0f} KB gzip-encoded; target < {WEIGHT_TARGET // 1024} KB: {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
