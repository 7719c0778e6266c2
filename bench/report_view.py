"""What the MCP Apps view costs a watch report: `*_watch_report` with the timeline the view draws
(a host that declared MCP Apps) against the same report without it (every other host), same run.

Seeds a throw-away SQLite store with `--watches` watches, each with `--days` of results every
`--every` seconds (a tenth of them failed, with latencies), then times `http_watch_report` over
30d both ways (best of `--repeat`) through the watch service, and prints the ratio and the sizes
of what a host receives: structuredContent (what the view reads) and the text (what the model
reads, the same for both hosts).

    uv run python bench/report_view.py [--watches 1] [--days 30] [--every 300] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

from http_monitor.server import watch_service  # noqa: E402
from monitor_common.config import Settings, set_settings  # noqa: E402
from monitor_common.store import ResultRecord, WatchSpec, open_store  # noqa: E402
from monitor_common.views import WATCH_REPORT_VIEW, for_the_model  # noqa: E402

DAY = 86400.0


async def seed(db: str, watches: int, days: float, every: float) -> int:
    store = await open_store(db)
    assert store is not None
    now = time.time()
    rows = 0
    rng = random.Random(7)
    try:
        for n in range(watches):
            name = f"site-{n}"
            url = f"https://site-{n}.example/"
            start = now - days * DAY

            def result(at: float, name: str = name, url: str = url) -> ResultRecord:
                failed = rng.random() < 0.1
                return ResultRecord(
                    kind="http",
                    watch=name,
                    tool="http_check",
                    target=url,
                    checked_at=at,
                    verdict="critical" if failed else "ok",
                    summary="answered 503" if failed else "answered 200",
                    duration_ms=50.0,
                    latency_ms=rng.lognormvariate(4, 0.5),
                    codes=("http_status_unexpected",) if failed else (),
                )

            spec = WatchSpec(kind="http", name=name, definition={"url": url}, interval_s=every)
            await store.add_watch(spec, result(start), start)
            at = start + every
            while at < now:
                await store.record(result(at))
                rows += 1
                at += every
    finally:
        await store.close()
    return rows


async def timed(drawn: bool, repeat: int) -> tuple[float, dict[str, object]]:
    best = float("inf")
    report = None
    for _ in range(repeat):
        started = time.perf_counter()
        report = await watch_service.report(None, "30d", drawn=drawn)
        best = min(best, time.perf_counter() - started)
    assert report is not None
    return best, report.model_dump(mode="json")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--watches", type=int, default=1)
    parser.add_argument("--days", type=float, default=30)
    parser.add_argument("--every", type=float, default=300, help="seconds between a watch's results")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report-view-") as tmp:
        db = str(Path(tmp) / "monitor.db")
        set_settings(Settings(db=db))
        started = time.perf_counter()
        rows = await seed(db, args.watches, args.days, args.every)
        print(f"seeded {rows} results for {args.watches} watches in {time.perf_counter() - started:.1f} s")
        plain_s, plain = await timed(False, args.repeat)
        drawn_s, drawn = await timed(True, args.repeat)
        await watch_service.handle.close()
    structured = len(json.dumps(drawn, separators=(",", ":")))
    baseline = len(json.dumps(plain, separators=(",", ":")))
    text = len(json.dumps(for_the_model(WATCH_REPORT_VIEW, drawn), indent=2))
    print(f"report 30d without the timeline (other hosts): {plain_s * 1000:.1f} ms (baseline)")
    print(
        f"report 30d with the timeline (MCP Apps host):  {drawn_s * 1000:.1f} ms = {drawn_s / plain_s:.2f}x"
    )
    print(f"structuredContent: {baseline} bytes without, {structured} with ({structured / baseline:.2f}x)")
    print(f"text for the model: {text} bytes either way")


if __name__ == "__main__":
    asyncio.run(main())
