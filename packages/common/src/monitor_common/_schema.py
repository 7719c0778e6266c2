"""The store's schema, its migrations and the mapping of rows to records.

One schema for SQLite and PostgreSQL: portable types (TEXT, INTEGER, DOUBLE PRECISION for epoch
seconds), JSON kept as TEXT, and `{id}` for the one difference, the auto-increment key. A new
migration is appended to `MIGRATIONS`; `Store.migrate` applies the missing ones in order.
"""

# ruff: noqa: S608 - the SQL is built from this module's constants; no value is ever formatted in

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from monitor_common._records import Delivery, Incident, ResultRecord, Watch

__all__ = [
    "BUCKET_COLUMNS",
    "DELIVERY_COLUMNS",
    "ID_COLUMN",
    "INCIDENT_COLUMNS",
    "MIGRATIONS",
    "RESULT_COLUMNS",
    "SCHEMA_VERSION",
    "WATCH_COLUMNS",
    "delivery_from_row",
    "dialect_sql",
    "incident_from_row",
    "result_from_row",
    "watch_from_row",
]

BUCKET_COLUMNS = (
    "kind, watch, span, start, ok, warning, critical, unknown, latency_sum, latency_n, latency_max"
)

# Each migration is a list of statements; `{id}` is the dialect's auto-increment key and
# `{floor:COLUMN:N}` the column's value rounded down to a multiple of N (`dialect_sql`).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE watches (
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            definition TEXT NOT NULL,
            interval_s DOUBLE PRECISION NOT NULL,
            failure_threshold INTEGER NOT NULL,
            success_threshold INTEGER NOT NULL,
            paused INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL DEFAULT 'pending',
            state_since DOUBLE PRECISION,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            consecutive_successes INTEGER NOT NULL DEFAULT 0,
            next_run DOUBLE PRECISION NOT NULL,
            lease_owner TEXT,
            lease_until DOUBLE PRECISION,
            created_at DOUBLE PRECISION NOT NULL,
            last_checked DOUBLE PRECISION,
            last_verdict TEXT,
            runs INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (kind, name)
        )""",
        "CREATE INDEX watches_due ON watches (kind, paused, next_run)",
        """CREATE TABLE results (
            id {id},
            kind TEXT NOT NULL,
            watch TEXT,
            tool TEXT NOT NULL,
            target TEXT NOT NULL,
            checked_at DOUBLE PRECISION NOT NULL,
            scheduled_at DOUBLE PRECISION,
            verdict TEXT NOT NULL,
            summary TEXT NOT NULL,
            duration_ms DOUBLE PRECISION NOT NULL,
            latency_ms DOUBLE PRECISION,
            figures TEXT NOT NULL,
            codes TEXT NOT NULL
        )""",
        "CREATE INDEX results_watch ON results (kind, watch, checked_at)",
        "CREATE INDEX results_target ON results (kind, target, checked_at)",
        "CREATE INDEX results_time ON results (checked_at)",
        """CREATE TABLE incidents (
            id {id},
            kind TEXT NOT NULL,
            watch TEXT NOT NULL,
            opened_at DOUBLE PRECISION NOT NULL,
            closed_at DOUBLE PRECISION,
            cause TEXT NOT NULL,
            verdict TEXT NOT NULL
        )""",
        "CREATE INDEX incidents_watch ON incidents (kind, watch, opened_at)",
        """CREATE TABLE rollups (
            kind TEXT NOT NULL,
            watch TEXT NOT NULL,
            hour DOUBLE PRECISION NOT NULL,
            ok INTEGER NOT NULL,
            warning INTEGER NOT NULL,
            critical INTEGER NOT NULL,
            unknown INTEGER NOT NULL,
            p50_ms DOUBLE PRECISION,
            p95_ms DOUBLE PRECISION,
            p99_ms DOUBLE PRECISION,
            max_ms DOUBLE PRECISION,
            figures TEXT NOT NULL,
            PRIMARY KEY (kind, watch, hour)
        )""",
    ),
    # 2: watches declared in a watches file name it; the tools refuse to remove them.
    ("ALTER TABLE watches ADD COLUMN managed_by TEXT",),
    (
        # 3: notifications (monitor_common.notify): who a watch tells, and the outbox.
        "ALTER TABLE watches ADD COLUMN notify TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE watches ADD COLUMN notify_repeat_s DOUBLE PRECISION",
        """CREATE TABLE deliveries (
            id {id},
            kind TEXT NOT NULL,
            watch TEXT NOT NULL,
            incident BIGINT,
            event TEXT NOT NULL,
            target TEXT NOT NULL,
            shown TEXT NOT NULL,
            checked INTEGER NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at DOUBLE PRECISION NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt DOUBLE PRECISION NOT NULL,
            lease_owner TEXT,
            lease_until DOUBLE PRECISION,
            sent_at DOUBLE PRECISION,
            outcome TEXT
        )""",
        "CREATE INDEX deliveries_due ON deliveries (kind, status, next_attempt)",
        "CREATE INDEX deliveries_watch ON deliveries (kind, watch, incident)",
    ),
    (
        # 4: per watch, its results counted per hour and per day as they are stored (`Store.buckets`):
        # the status page and /metrics read 500 watches x 90 days from here in one indexed range,
        # where grouping the raw rows took seconds. Filled from what is stored so far.
        """CREATE TABLE buckets (
            kind TEXT NOT NULL,
            watch TEXT NOT NULL,
            span INTEGER NOT NULL,
            start DOUBLE PRECISION NOT NULL,
            ok INTEGER NOT NULL,
            warning INTEGER NOT NULL,
            critical INTEGER NOT NULL,
            unknown INTEGER NOT NULL,
            latency_sum DOUBLE PRECISION NOT NULL,
            latency_n INTEGER NOT NULL,
            latency_max DOUBLE PRECISION,
            PRIMARY KEY (kind, span, start, watch)
        )""",
        "CREATE INDEX buckets_watch ON buckets (kind, watch, span, start)",
        *(
            f"""INSERT INTO buckets ({BUCKET_COLUMNS})
            SELECT kind, watch, {span}, {{floor:checked_at:{span}}},
                SUM(CASE WHEN verdict = 'ok' THEN 1 ELSE 0 END),
                SUM(CASE WHEN verdict = 'warning' THEN 1 ELSE 0 END),
                SUM(CASE WHEN verdict = 'critical' THEN 1 ELSE 0 END),
                SUM(CASE WHEN verdict NOT IN ('ok', 'warning', 'critical') THEN 1 ELSE 0 END),
                COALESCE(SUM(latency_ms), 0), COUNT(latency_ms), MAX(latency_ms)
            FROM results WHERE watch IS NOT NULL GROUP BY kind, watch, {{floor:checked_at:{span}}}"""
            for span in (3600, 86400)
        ),
        *(
            f"""INSERT INTO buckets ({BUCKET_COLUMNS})
            SELECT kind, watch, {span}, {{floor:hour:{span}}}, SUM(ok), SUM(warning), SUM(critical),
                SUM(unknown), 0, 0, NULL
            FROM rollups GROUP BY kind, watch, {{floor:hour:{span}}}
            ON CONFLICT (kind, span, start, watch) DO UPDATE SET ok = buckets.ok + excluded.ok,
                warning = buckets.warning + excluded.warning, critical = buckets.critical + excluded.critical,
                unknown = buckets.unknown + excluded.unknown"""
            for span in (3600, 86400)
        ),
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
ID_COLUMN = {
    "sqlite": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "postgresql": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
}

# x rounded down to a multiple of n: SQLite's FLOOR exists only when built with its math
# functions, PostgreSQL's CAST rounds to nearest. Times are positive, so truncating is flooring.
_FLOOR = {
    "sqlite": "CAST({x} / {n} AS INTEGER) * {n}",
    "postgresql": "FLOOR({x} / {n}) * {n}",
}
_FLOOR_MARK = re.compile(r"\{floor:([a-z_]+):([0-9]+)\}")


def dialect_sql(statement: str, dialect: str) -> str:
    """A migration statement with its `{id}` and `{floor:COLUMN:N}` marks written for `dialect`."""
    statement = statement.replace("{id}", ID_COLUMN[dialect])
    return _FLOOR_MARK.sub(lambda m: _FLOOR[dialect].format(x=m[1], n=m[2]), statement)


WATCH_COLUMNS = (
    "kind, name, definition, interval_s, failure_threshold, success_threshold, paused, state, state_since, "
    "consecutive_failures, consecutive_successes, next_run, lease_owner, lease_until, created_at, "
    "last_checked, last_verdict, runs, managed_by, notify, notify_repeat_s"
)
RESULT_COLUMNS = (
    "id, kind, watch, tool, target, checked_at, verdict, summary, duration_ms, latency_ms, figures, codes, "
    "scheduled_at"
)
INCIDENT_COLUMNS = "id, kind, watch, opened_at, closed_at, cause, verdict"
DELIVERY_COLUMNS = (
    "id, kind, watch, incident, event, target, shown, checked, title, body, created_at, status, attempts, "
    "next_attempt, lease_owner, lease_until, sent_at, outcome"
)


def watch_from_row(row: Sequence[Any]) -> Watch:
    return Watch(
        kind=row[0],
        name=row[1],
        definition=json.loads(row[2]),
        interval_s=float(row[3]),
        failure_threshold=int(row[4]),
        success_threshold=int(row[5]),
        paused=bool(row[6]),
        state=row[7],
        state_since=row[8],
        consecutive_failures=int(row[9]),
        consecutive_successes=int(row[10]),
        next_run=float(row[11]),
        lease_owner=row[12],
        lease_until=row[13],
        created_at=float(row[14]),
        last_checked=row[15],
        last_verdict=row[16],
        runs=int(row[17]),
        managed_by=row[18],
        notify=tuple(json.loads(row[19])),
        notify_repeat_s=row[20],
    )


def result_from_row(row: Sequence[Any]) -> ResultRecord:
    return ResultRecord(
        id=int(row[0]),
        kind=row[1],
        watch=row[2],
        tool=row[3],
        target=row[4],
        checked_at=float(row[5]),
        verdict=row[6],
        summary=row[7],
        duration_ms=float(row[8]),
        latency_ms=row[9],
        figures=json.loads(row[10]),
        codes=tuple(code for code in str(row[11]).split(",") if code),
        scheduled_at=row[12],
    )


def incident_from_row(row: Sequence[Any]) -> Incident:
    return Incident(
        id=int(row[0]),
        kind=row[1],
        watch=row[2],
        opened_at=float(row[3]),
        closed_at=row[4],
        cause=row[5],
        verdict=row[6],
    )


def delivery_from_row(row: Sequence[Any]) -> Delivery:
    return Delivery(
        id=int(row[0]),
        kind=row[1],
        watch=row[2],
        incident=row[3],
        event=row[4],
        target=row[5],
        shown=row[6],
        checked=bool(row[7]),
        title=row[8],
        body=row[9],
        created_at=float(row[10]),
        status=row[11],
        attempts=int(row[12]),
        next_attempt=float(row[13]),
        lease_owner=row[14],
        lease_until=row[15],
        sent_at=row[16],
        outcome=row[17],
    )
