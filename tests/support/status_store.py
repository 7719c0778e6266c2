"""A store of http watches for the status page, badge and /metrics tests: real checks, and history.

`seed_status_store(db, server)` runs http-monitor's own watch tool against the local `HttpServer`
(so the current states, last results and incidents are what real checks gave), then writes 30
days of hourly history through the store API (`Store.record_many`), which the checks alone
would take a month to make. Every watch has a one-day interval, so a server started on the store
does not run them again during a test.

    homepage   up                   GET /                         (a day without data, one with failures)
    api        down, incident open  GET /switch/api -> 500
    flappy     up, incident closed  500 once, then 200 again
    slow       degraded             GET /delay/400 with max_response_ms=50 (warning)
    secret     up                   a URL with a password: shown redacted everywhere
    paused     paused
"""

from __future__ import annotations

import ipaddress
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from monitor_common.config import Settings, set_settings

from support.http_server import HttpServer

__all__ = ["EXPECTED_STATES", "PASSWORD", "Seeded", "seed_status_store", "seeded_status_db"]

PASSWORD = "hunter2-sekrit"
EXPECTED_STATES = {
    "homepage": "up",
    "api": "down",
    "flappy": "up",
    "slow": "degraded",
    "secret": "up",
    "paused": "paused",
}
DAY = 86400.0
HOUR = 3600.0


@dataclass(frozen=True)
class Seeded:
    db: str
    urls: dict[str, str]


async def seed_status_store(db: str, server: HttpServer, *, history_days: int = 30) -> Seeded:
    """Fill the SQLite file or PostgreSQL URL `db` as described above."""
    from http_monitor.server import watch_service as service

    set_settings(
        Settings(
            allow_networks=(ipaddress.ip_network("127.0.0.0/8"),),
            db=db,
            watch_min_interval_s=0.1,
        )
    )
    host = server.url.removeprefix("http://")
    urls = {
        "homepage": server.url_for("/"),
        "api": server.url_for("/switch/api"),
        "flappy": server.url_for("/switch/flappy"),
        "slow": server.url_for("/delay/400"),
        "secret": f"http://monitor:{PASSWORD}@{host}/",
        "paused": server.url_for("/?paused=1"),
    }
    server.switch("api", 500)
    try:
        for name, url in urls.items():
            extra: dict[str, Any] = {"max_response_ms": 50} if name == "slow" else {}
            await service.watch(
                {
                    "action": "add",
                    "name": name,
                    "url": url,
                    "interval_s": DAY,
                    "failure_threshold": 1,
                    **extra,
                }
            )
        await service.watch({"action": "pause", "name": "paused"})
        store = await service.handle.require()
        # flappy: down once (an incident opens), then up again (it closes).
        for status in (500, 200):
            server.switch("flappy", status)
            watch = await store.get_watch("http", "flappy")
            assert watch is not None
            await store.complete(watch, "seed", await service.run_watch(watch), time.time())
        await _history(store, urls, history_days)
    finally:
        await service.handle.close()
    return Seeded(db, urls)


async def _history(store: Any, urls: dict[str, str], days: int) -> None:
    from monitor_common.store import ResultRecord
    from monitor_common.targets import redact_url

    rng = random.Random(17)
    now = time.time()
    start = now - now % HOUR - days * DAY
    rows: list[ResultRecord] = []
    for name, url in urls.items():
        at = start
        while at < now - 2 * HOUR:
            day = int((now - at) // DAY)
            if name == "homepage" and day == 12:
                at += HOUR  # the monitor was off that day: no data
                continue
            failing = (name == "homepage" and day == 20 and rng.random() < 0.3) or (
                name == "api" and day == 3
            )
            rows.append(
                ResultRecord(
                    kind="http",
                    watch=name,
                    tool="http_check",
                    target=redact_url(url),
                    checked_at=at,
                    verdict="critical" if failing else "ok",
                    summary="HTTP 500" if failing else "HTTP 200",
                    duration_ms=60.0,
                    latency_ms=20 + 30 * rng.random() + (40 if day % 7 == 0 else 0),
                    figures={"status_code": 500 if failing else 200},
                    codes=("http_status_unexpected",) if failing else (),
                )
            )
            at += HOUR
    await store.record_many(rows)


@pytest.fixture(scope="module")
def seeded_status_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite store seeded as above, once per test module (import it into the module)."""
    db = str(tmp_path_factory.mktemp("status") / "monitor.db")
    with HttpServer() as server:
        anyio.run(seed_status_store, db, server)
    set_settings(Settings())
    yield db
