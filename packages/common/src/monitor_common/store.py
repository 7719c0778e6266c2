"""Check history and watches: SQLite by default, PostgreSQL by URL, one schema and one behaviour.

    store = await open_store(settings.db)          # None: the SQLite file in the user data dir
    await store.add_watch(spec, first_result, now) # a watch, with the result of its first check
    due = await store.claim_due("http", owner, now, limit=20)   # leases: one process runs each
    done = await store.complete(watch, owner, result, now)      # state, incidents, next run

What it keeps:

- **watches**: the definition (the check's arguments, JSON), interval and thresholds, paused or
  not, the state (`pending`, `up`, `down`) with its consecutive failure and success counts, the
  next run and the lease (which process runs it now, until when), and the watches file that
  declares it, if one does (`sync_declared` brings the store to that file).
- **results**: one row per check (a watch's run, or an on-demand check when
  `MCP_MONITOR_RECORD=true`): verdict, summary, finding codes, duration, latency, key figures.
- **incidents**: opened when a watch goes down, closed when it comes back; cause and duration.
- **deliveries**: the notifications of incident transitions (`monitor_common.notify`), the
  outbox: recorded in the transaction that records the transition, leased to the process that
  recorded it, then delivered or failed with the outcome; a pending one whose lease expired
  (its sender died) or whose retry time came is taken by any process (`claim_deliveries`).
- **buckets**: per watch, its results counted per hour and per day (verdicts, latency sum, count
  and maximum) as they are stored, so that the status page and `/metrics` read hundreds of watches
  over 90 days without grouping raw rows; hourly ones kept `retention_days`, daily ones
  `rollup_retention_days`.
- **rollups**: after `retention_days`, raw results become hourly rows (count per verdict, latency
  percentiles, the last key figures of the hour), kept for `rollup_retention_days`.

Flap suppression: a result counts as a failure when its verdict is `critical` or `unknown`. A
watch goes down after `failure_threshold` consecutive failures and up after `success_threshold`
consecutive successes; only those changes open or close incidents.

Leases: a process takes due watches in a write transaction (SQLite `BEGIN IMMEDIATE`,
PostgreSQL `FOR UPDATE SKIP LOCKED`) and holds them for one interval (`lease_s`: never less than
LEASE_MIN_S, so that a process starved of CPU for a few seconds keeps watches of a short
interval), renewing the lease while a slow check is still running (`renew_lease`). Completing a run clears
the lease and sets the next run one interval after the scheduled one, so every watch runs once
per interval among all processes; a process that dies loses its leases when they expire.

Every method is one transaction. Failures of the store raise `StoreError`.
"""

# ruff: noqa: S608 - the SQL is built from this module's constants; every value is a bound parameter

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import anyio

from monitor_common._records import (
    DAY,
    FAILING_VERDICTS,
    HOUR,
    VERDICTS,
    Announce,
    Bucket,
    Change,
    Completion,
    Delivery,
    Incident,
    Outgoing,
    ResultRecord,
    Rollup,
    Watch,
    WatchSpec,
    WindowStats,
    advance_state,
    percentile,
)
from monitor_common._schema import (
    BUCKET_COLUMNS,
    DELIVERY_COLUMNS,
    INCIDENT_COLUMNS,
    MIGRATIONS,
    RESULT_COLUMNS,
    SCHEMA_VERSION,
    WATCH_COLUMNS,
    delivery_from_row,
    dialect_sql,
    incident_from_row,
    result_from_row,
    watch_from_row,
)
from monitor_common.errors import InputError, StoreError

__all__ = [
    "DAY",
    "FAILING_VERDICTS",
    "HOUR",
    "LEASE_MIN_S",
    "SEND_LEASE_S",
    "Announce",
    "Bucket",
    "Completion",
    "DeclaredSync",
    "Delivery",
    "Incident",
    "Outgoing",
    "ResultRecord",
    "Rollup",
    "Store",
    "StoreError",
    "Watch",
    "WatchSpec",
    "WindowStats",
    "advance_state",
    "default_sqlite_path",
    "lease_s",
    "open_store",
    "percentile",
]

# The first run after `add` is spread over this share of the interval, so that watches added
# together do not run together ever after.
FIRST_RUN_JITTER = 0.1


class _Tx(Protocol):
    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
    async def run(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    async def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class _Conn(Protocol):
    dialect: str

    async def open(self) -> None: ...
    def transaction(self, *, write: bool) -> Any: ...
    async def close(self) -> None: ...


# --- the store -------------------------------------------------------------------------------------


class Store:
    """Watches, results, incidents and rollups in one SQLite file or one PostgreSQL database."""

    def __init__(self, conn: _Conn, where: str) -> None:
        self._conn = conn
        self.where = where
        postgres = conn.dialect == "postgresql"
        self.dialect = conn.dialect
        self._for_update = " FOR UPDATE" if postgres else ""
        self._skip_locked = " FOR UPDATE SKIP LOCKED" if postgres else ""

    async def migrate(self) -> None:
        """Bring the schema to the current version; safe to race with other processes."""
        async with self._conn.transaction(write=True) as tx:
            if self.dialect == "postgresql":
                # Serialises concurrent first starts; released at commit.
                await tx.fetch("SELECT pg_advisory_xact_lock(7248301)")
            await tx.run(
                "CREATE TABLE IF NOT EXISTS monitor_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            rows = await tx.fetch("SELECT value FROM monitor_meta WHERE key = 'schema_version'")
            version = int(rows[0][0]) if rows else 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store {self.where} has schema version {version}, newer than this server's "
                    f"{SCHEMA_VERSION}: upgrade the server or use another MCP_MONITOR_DB"
                )
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    await tx.run(dialect_sql(statement, self.dialect))
            if version < SCHEMA_VERSION:
                await tx.run(
                    "INSERT INTO monitor_meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(SCHEMA_VERSION),),
                )

    async def close(self) -> None:
        await self._conn.close()

    # -- watches -----------------------------------------------------------------------------

    async def add_watch(
        self,
        spec: WatchSpec,
        first: ResultRecord,
        now: float,
        *,
        announce: Announce | None = None,
        sender: str | None = None,
    ) -> Completion:
        """Store a new watch with the result of its first check; InputError if the name is taken.

        `announce` and `sender` as for `complete` (a first result may open an incident)."""
        jitter = random.uniform(0, FIRST_RUN_JITTER * spec.interval_s)  # noqa: S311 - spreading load
        async with self._conn.transaction(write=True) as tx:
            inserted = await tx.fetch(
                f"INSERT INTO watches ({WATCH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, 'pending', ?, 0, 0, ?, "
                "NULL, NULL, ?, NULL, NULL, 0, ?, ?, ?) ON CONFLICT (kind, name) DO NOTHING RETURNING name",
                (
                    spec.kind,
                    spec.name,
                    _definition_json(spec.definition),
                    spec.interval_s,
                    spec.failure_threshold,
                    spec.success_threshold,
                    now,
                    now + spec.interval_s - jitter,
                    now,
                    spec.managed_by,
                    json.dumps(list(spec.notify)),
                    spec.notify_repeat_s,
                ),
            )
            if not inserted:
                raise InputError(
                    f"a watch named {spec.name!r} already exists: pick another name, or remove it first"
                )
            return await self._apply(
                tx, spec.kind, spec.name, first, now, owner=None, announce=announce, sender=sender
            )

    async def get_watch(self, kind: str, name: str) -> Watch | None:
        async with self._conn.transaction(write=False) as tx:
            rows = await tx.fetch(
                f"SELECT {WATCH_COLUMNS} FROM watches WHERE kind = ? AND name = ?", (kind, name)
            )
        return watch_from_row(rows[0]) if rows else None

    async def list_watches(self, kind: str) -> list[Watch]:
        async with self._conn.transaction(write=False) as tx:
            rows = await tx.fetch(
                f"SELECT {WATCH_COLUMNS} FROM watches WHERE kind = ? ORDER BY name", (kind,)
            )
        return [watch_from_row(row) for row in rows]

    async def remove_watch(self, kind: str, name: str) -> bool:
        """Delete a watch and its history; False if there was none."""
        async with self._conn.transaction(write=True) as tx:
            return await self._delete(tx, kind, name)

    async def _delete(self, tx: _Tx, kind: str, name: str) -> bool:
        removed = await tx.run("DELETE FROM watches WHERE kind = ? AND name = ?", (kind, name))
        if removed:
            for table in ("results", "incidents", "rollups", "deliveries", "buckets"):
                await tx.run(f"DELETE FROM {table} WHERE kind = ? AND watch = ?", (kind, name))
        return removed > 0

    async def sync_declared(self, kind: str, specs: Sequence[WatchSpec], now: float) -> DeclaredSync:
        """Bring the watches of `kind` that a watches file manages to `specs`, in one transaction.

        - a declared name not in the store is added, due at once (its first run is scheduled, not
          run here: a file of hundreds of watches must not hold up start-up);
        - a declared watch whose check arguments changed is replaced: its history is dropped, as
          it describes another check;
        - one whose interval, thresholds, notify or file changed is updated in place, keeping its
          state, history and schedule (moved earlier when the new interval is shorter);
        - a file-managed watch that is no longer declared is removed with its history (a renamed
          watch is a removal and an addition: nothing tells a rename from two edits);
        - a watch of a declared name that was added with a tool is taken over (kept, with its
          history, when its arguments are the same).
        Watches added with a tool under other names are left alone. Processes that share the
        store and the file may run this at the same time: it is idempotent and serialised.
        """
        wanted = {spec.name: spec for spec in specs}
        outcome = DeclaredSync()
        async with self._conn.transaction(write=True) as tx:
            if self.dialect == "postgresql":
                await tx.fetch("SELECT pg_advisory_xact_lock(7248302)")
            rows = await tx.fetch(
                f"SELECT {WATCH_COLUMNS} FROM watches WHERE kind = ?" + self._for_update, (kind,)
            )
            current = {watch.name: watch for watch in map(watch_from_row, rows)}
            for name, watch in current.items():
                if watch.managed_by is not None and name not in wanted:
                    await self._delete(tx, kind, name)
                    outcome.removed.append(name)
            for spec in specs:
                watch = current.get(spec.name)
                if watch is not None and watch.managed_by is None:
                    outcome.adopted.append(spec.name)
                if watch is not None and _definition_json(watch.definition) != _definition_json(
                    spec.definition
                ):
                    await self._delete(tx, kind, spec.name)
                    outcome.changed.append(spec.name)
                    watch = None
                elif watch is None:
                    outcome.added.append(spec.name)
                if watch is None:
                    await tx.run(
                        f"INSERT INTO watches ({WATCH_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 0, 'pending', ?, 0, 0, ?, "
                        "NULL, NULL, ?, NULL, NULL, 0, ?, ?, ?)",
                        (
                            kind,
                            spec.name,
                            _definition_json(spec.definition),
                            spec.interval_s,
                            spec.failure_threshold,
                            spec.success_threshold,
                            now,
                            now,
                            now,
                            spec.managed_by,
                            json.dumps(list(spec.notify)),
                            spec.notify_repeat_s,
                        ),
                    )
                    continue
                same = (
                    watch.interval_s,
                    watch.failure_threshold,
                    watch.success_threshold,
                    watch.managed_by,
                    watch.notify,
                    watch.notify_repeat_s,
                )
                if same != (
                    spec.interval_s,
                    spec.failure_threshold,
                    spec.success_threshold,
                    spec.managed_by,
                    tuple(spec.notify),
                    spec.notify_repeat_s,
                ):
                    await tx.run(
                        "UPDATE watches SET interval_s = ?, failure_threshold = ?, success_threshold = ?, "
                        "managed_by = ?, notify = ?, notify_repeat_s = ?, next_run = ? WHERE kind = ? AND name = ?",
                        (
                            spec.interval_s,
                            spec.failure_threshold,
                            spec.success_threshold,
                            spec.managed_by,
                            json.dumps(list(spec.notify)),
                            spec.notify_repeat_s,
                            min(watch.next_run, now + spec.interval_s),
                            kind,
                            spec.name,
                        ),
                    )
                    outcome.updated.append(spec.name)
        return outcome

    async def set_paused(self, kind: str, name: str, paused: bool, now: float) -> Watch | None:
        """Pause or resume; a resumed watch runs at once. None if there is no such watch."""
        async with self._conn.transaction(write=True) as tx:
            if paused:
                await tx.run("UPDATE watches SET paused = 1 WHERE kind = ? AND name = ?", (kind, name))
            else:
                await tx.run(
                    "UPDATE watches SET paused = 0, next_run = ? WHERE kind = ? AND name = ? AND paused = 1",
                    (now, kind, name),
                )
            rows = await tx.fetch(
                f"SELECT {WATCH_COLUMNS} FROM watches WHERE kind = ? AND name = ?", (kind, name)
            )
        return watch_from_row(rows[0]) if rows else None

    # -- scheduling --------------------------------------------------------------------------

    async def claim_due(self, kind: str, owner: str, now: float, limit: int) -> list[Watch]:
        """Lease up to `limit` due watches of `kind` to `owner` for one interval each."""
        if limit < 1:
            return []
        async with self._conn.transaction(write=True) as tx:
            rows = await tx.fetch(
                f"SELECT {WATCH_COLUMNS} FROM watches WHERE kind = ? AND paused = 0 AND next_run <= ? "
                "AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_run LIMIT ?" + self._skip_locked,
                (kind, now, now, limit),
            )
            watches = [watch_from_row(row) for row in rows]
            for watch in watches:
                await tx.run(
                    "UPDATE watches SET lease_owner = ?, lease_until = ? WHERE kind = ? AND name = ?",
                    (owner, now + lease_s(watch.interval_s), kind, watch.name),
                )
        return [_replace_lease(w, owner, now + lease_s(w.interval_s)) for w in watches]

    async def renew_lease(self, watch: Watch, owner: str, until: float) -> bool:
        """Extend `owner`'s lease on a watch whose check is still running; False if it was lost."""
        async with self._conn.transaction(write=True) as tx:
            renewed = await tx.run(
                "UPDATE watches SET lease_until = ? WHERE kind = ? AND name = ? AND lease_owner = ?",
                (until, watch.kind, watch.name, owner),
            )
        return renewed > 0

    async def next_due(self, kind: str, now: float) -> float | None:
        """When the next watch of `kind` becomes due or its lease expires (None: no active watch)."""
        async with self._conn.transaction(write=False) as tx:
            rows = await tx.fetch(
                "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > ? AND lease_until > next_run "
                "THEN lease_until ELSE next_run END) FROM watches WHERE kind = ? AND paused = 0",
                (now, kind),
            )
        value = rows[0][0] if rows else None
        return float(value) if value is not None else None

    async def complete(
        self,
        watch: Watch,
        owner: str,
        result: ResultRecord,
        now: float,
        *,
        announce: Announce | None = None,
        sender: str | None = None,
    ) -> Completion | None:
        """Store a scheduled run's result, advance the state and release the lease.

        When the run opens or closes an incident (or, with the watch's `notify_repeat_s`, keeps
        one open that long since it was last announced), `announce` says which notifications to
        send; they are recorded in the same transaction (the outbox), leased to `sender`, which
        sends them next (`Completion.deliveries`).

        None when the watch was removed meanwhile, or replaced by another of the same name (a
        watches file that changed its arguments, a remove and an add): the result of the old
        check is dropped, not counted as the new watch's.
        """
        try:
            async with self._conn.transaction(write=True) as tx:
                return await self._apply(
                    tx,
                    watch.kind,
                    watch.name,
                    result,
                    now,
                    owner=owner,
                    created_at=watch.created_at,
                    announce=announce,
                    sender=sender,
                )
        except _Gone:
            return None

    async def _apply(
        self,
        tx: _Tx,
        kind: str,
        name: str,
        result: ResultRecord,
        now: float,
        *,
        owner: str | None,
        created_at: float | None = None,
        announce: Announce | None = None,
        sender: str | None = None,
    ) -> Completion:
        rows = await tx.fetch(
            f"SELECT {WATCH_COLUMNS} FROM watches WHERE kind = ? AND name = ?" + self._for_update,
            (kind, name),
        )
        if not rows:
            raise _Gone
        current = watch_from_row(rows[0])
        if created_at is not None and current.created_at != created_at:
            raise _Gone  # another watch of that name now: the run was of the one it replaced
        result_id = await self._insert_result(tx, result)
        state, failures, successes, change = advance_state(
            current.state,
            current.consecutive_failures,
            current.consecutive_successes,
            result.verdict,
            failure_threshold=current.failure_threshold,
            success_threshold=current.success_threshold,
            codes=result.codes,
        )
        incident: Incident | None = None
        if change == "opened":
            cause = result.summary + (f" ({', '.join(result.codes)})" if result.codes else "")
            ids = await tx.fetch(
                "INSERT INTO incidents (kind, watch, opened_at, closed_at, cause, verdict) "
                "VALUES (?, ?, ?, NULL, ?, ?) RETURNING id",
                (kind, name, result.checked_at, cause, result.verdict),
            )
            incident = Incident(int(ids[0][0]), kind, name, result.checked_at, None, cause, result.verdict)
        elif change == "closed":
            open_rows = await tx.fetch(
                f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE kind = ? AND watch = ? AND closed_at IS NULL",
                (kind, name),
            )
            await tx.run(
                "UPDATE incidents SET closed_at = ? WHERE kind = ? AND watch = ? AND closed_at IS NULL",
                (result.checked_at, kind, name),
            )
            if open_rows:
                opened = incident_from_row(open_rows[0])
                incident = Incident(
                    opened.id, kind, name, opened.opened_at, result.checked_at, opened.cause, opened.verdict
                )
        state_since = result.checked_at if state != current.state else current.state_since
        if owner is not None and current.lease_owner == owner:
            # Anchored to the schedule, not to when the run finished, so the interval holds; a
            # run that fell more than an interval behind starts a fresh schedule from now.
            next_run = current.next_run + current.interval_s
            if next_run <= now:
                next_run = now + current.interval_s
            await tx.run(
                "UPDATE watches SET state = ?, state_since = ?, consecutive_failures = ?, consecutive_successes = ?, "
                "last_checked = ?, last_verdict = ?, runs = runs + 1, next_run = ?, lease_owner = NULL, "
                "lease_until = NULL WHERE kind = ? AND name = ?",
                (
                    state,
                    state_since,
                    failures,
                    successes,
                    result.checked_at,
                    result.verdict,
                    next_run,
                    kind,
                    name,
                ),
            )
        else:
            # The first run at `add`, or a run whose lease expired and passed to another process:
            # the evidence counts, the schedule belongs to the current lease holder.
            await tx.run(
                "UPDATE watches SET state = ?, state_since = ?, consecutive_failures = ?, consecutive_successes = ?, "
                "last_checked = ?, last_verdict = ?, runs = runs + 1 WHERE kind = ? AND name = ?",
                (state, state_since, failures, successes, result.checked_at, result.verdict, kind, name),
            )
        rows = await tx.fetch(
            f"SELECT {WATCH_COLUMNS} FROM watches WHERE kind = ? AND name = ?", (kind, name)
        )
        after = watch_from_row(rows[0])
        deliveries: tuple[Delivery, ...] = ()
        if announce is not None:
            outgoing = await self._announcements(tx, after, change, incident, result, now, announce)
            deliveries = await self._enqueue(tx, after, incident, outgoing, now, sender)
        return Completion(after, result_id, change, incident, deliveries)

    async def _announcements(
        self,
        tx: _Tx,
        watch: Watch,
        change: Change | None,
        incident: Incident | None,
        result: ResultRecord,
        now: float,
        announce: Announce,
    ) -> Sequence[Outgoing]:
        if change is not None and incident is not None:
            return announce(watch, "opened" if change == "opened" else "resolved", incident, result, None)
        if watch.state != "down" or not watch.notify_repeat_s:
            return ()
        # Still down: a reminder when the incident was last announced `notify_repeat_s` ago. The
        # watch's row is locked (or the database is), so one process decides, once per period.
        rows = await tx.fetch(
            f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE kind = ? AND watch = ? AND closed_at IS NULL "
            "ORDER BY opened_at DESC LIMIT 1",
            (watch.kind, watch.name),
        )
        if not rows:
            return ()
        open_incident = incident_from_row(rows[0])
        last = await tx.fetch(
            "SELECT MAX(created_at) FROM deliveries WHERE kind = ? AND watch = ? AND incident = ?",
            (watch.kind, watch.name, open_incident.id),
        )
        announced = float(last[0][0]) if last and last[0][0] is not None else open_incident.opened_at
        if now - announced < watch.notify_repeat_s:
            return ()
        return announce(watch, "reminder", open_incident, result, announced)

    async def _enqueue(
        self,
        tx: _Tx,
        watch: Watch,
        incident: Incident | None,
        outgoing: Sequence[Outgoing],
        now: float,
        sender: str | None,
    ) -> tuple[Delivery, ...]:
        lease_until = now + SEND_LEASE_S if sender is not None else None
        queued: list[Delivery] = []
        for item in outgoing:
            incident_id = incident.id if incident is not None and item.event != "reminder" else None
            if item.event == "reminder":
                open_rows = await tx.fetch(
                    "SELECT id FROM incidents WHERE kind = ? AND watch = ? AND closed_at IS NULL "
                    "ORDER BY opened_at DESC LIMIT 1",
                    (watch.kind, watch.name),
                )
                incident_id = int(open_rows[0][0]) if open_rows else None
            rows = await tx.fetch(
                "INSERT INTO deliveries (kind, watch, incident, event, target, shown, checked, title, body, "
                "created_at, status, attempts, next_attempt, lease_owner, lease_until) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?) RETURNING id",
                (
                    watch.kind,
                    watch.name,
                    incident_id,
                    item.event,
                    item.target,
                    item.shown,
                    int(item.checked),
                    item.title,
                    item.body,
                    now,
                    now,
                    sender,
                    lease_until,
                ),
            )
            queued.append(
                Delivery(
                    int(rows[0][0]), watch.kind, watch.name, incident_id, item.event, item.target, item.shown,
                    item.checked, item.title, item.body, now, "pending", 0, now, sender, lease_until, None, None,
                )
            )  # fmt: skip
        return tuple(queued)

    # -- the outbox --------------------------------------------------------------------------

    async def claim_deliveries(self, kind: str, owner: str, now: float, limit: int) -> list[Delivery]:
        """Lease up to `limit` pending notifications of `kind` that are due (new ones whose
        recorder died, and failed ones whose retry time came) to `owner` for SEND_LEASE_S."""
        if limit < 1:
            return []
        where = (
            "FROM deliveries WHERE kind = ? AND status = 'pending' AND next_attempt <= ? "
            "AND (lease_until IS NULL OR lease_until <= ?)"
        )
        async with self._conn.transaction(write=False) as tx:
            # Most polls find nothing: a read first spares them the write lock.
            found = await tx.fetch(f"SELECT id {where} LIMIT 1", (kind, now, now))
        if not found:
            return []
        async with self._conn.transaction(write=True) as tx:
            rows = await tx.fetch(
                f"SELECT {DELIVERY_COLUMNS} {where} ORDER BY next_attempt, id LIMIT ?" + self._skip_locked,
                (kind, now, now, limit),
            )
            claimed = [delivery_from_row(row) for row in rows]
            for delivery in claimed:
                await tx.run(
                    "UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE id = ?",
                    (owner, now + SEND_LEASE_S, delivery.id),
                )
        return [_replace_delivery_lease(d, owner, now + SEND_LEASE_S) for d in claimed]

    async def finish_delivery(
        self, delivery: Delivery, *, delivered: bool, outcome: str, now: float, retry_at: float | None
    ) -> None:
        """Record a send's outcome: delivered; or failed, to retry at `retry_at` (None: never)."""
        status = "delivered" if delivered else ("pending" if retry_at is not None else "failed")
        async with self._conn.transaction(write=True) as tx:
            await tx.run(
                "UPDATE deliveries SET status = ?, attempts = attempts + 1, outcome = ?, sent_at = ?, "
                "next_attempt = ?, lease_owner = NULL, lease_until = NULL WHERE id = ? AND status = 'pending'",
                (status, outcome[:500], now, retry_at if retry_at is not None else now, delivery.id),
            )

    async def notifying(self, kind: str) -> bool:
        """Whether a watch of `kind` has notification targets of its own."""
        async with self._conn.transaction(write=False) as tx:
            rows = await tx.fetch("SELECT 1 FROM watches WHERE kind = ? AND notify <> '[]' LIMIT 1", (kind,))
        return bool(rows)

    async def deliveries(self, kind: str, watch: str | None = None, *, limit: int = 100) -> list[Delivery]:
        """The newest notifications of `kind` (of one watch), newest first."""
        sql = f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE kind = ?"
        params: list[Any] = [kind]
        if watch is not None:
            sql += " AND watch = ?"
            params.append(watch)
        async with self._conn.transaction(write=False) as tx:
            rows = await tx.fetch(sql + " ORDER BY created_at DESC, id DESC LIMIT ?", [*params, limit])
        return [delivery_from_row(row) for row in rows]

    # -- results -----------------------------------------------------------------------------

    async def record(self, result: ResultRecord) -> int:
        """Store the result of an on-demand check; returns its id."""
        async with self._conn.transaction(write=True) as tx:
            return await self._insert_result(tx, result)

    async def record_many(self, results: Sequence[ResultRecord]) -> None:
        """Store many results in one transaction (imports, benchmarks): rows and buckets as `record`
        and scheduled runs store them, without the watches' states, which only runs advance."""
        async with self._conn.transaction(write=True) as tx:
            await tx.run_many(_INSERT_RESULT, [_result_row(r) for r in results])
            await tx.run_many(_UPSERT_BUCKET, [row for r in results for row in _bucket_rows(r)])

    async def _insert_result(self, tx: _Tx, result: ResultRecord) -> int:
        rows = await tx.fetch(_INSERT_RESULT + " RETURNING id", _result_row(result))
        buckets = _bucket_rows(result)
        if buckets:
            await tx.run(
                _UPSERT_BUCKET.replace("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _TWO_BUCKETS),
                [value for row in buckets for value in row],
            )
        return int(rows[0][0])

    async def buckets(
        self, kind: str, since: float, *, span: float = DAY, watch: str | None = None
    ) -> list[Bucket]:
        """The hourly (`span=HOUR`) or daily (`DAY`) counts of every watch of `kind` (or of one)
        from the bucket holding `since` on, by watch and then time."""
        return list(map(Bucket._make, await self._bucket_rows(kind, since, span, watch, _BUCKET_FIELDS)))

    async def bucket_sums(
        self, kind: str, since: float, *, span: float = DAY, watch: str | None = None
    ) -> list[tuple[Any, ...]]:
        """`buckets` of every watch of `kind` as plain rows `(watch, start, up, total, latency_sum,
        latency_n, latency_max)`, up being ok + warning: what the status page reads for hundreds
        of watches at once, without building an object per bucket."""
        return await self._bucket_rows(kind, since, span, watch, _BUCKET_SUMS)

    async def _bucket_rows(
        self, kind: str, since: float, span: float, watch: str | None, columns: str
    ) -> list[tuple[Any, ...]]:
        sql = (
            f"SELECT {columns} FROM buckets WHERE kind = ? AND span = ? AND start >= ?"
            + (" AND watch = ?" if watch is not None else "")
            + " ORDER BY start"
        )
        params: list[Any] = [kind, int(span), math.floor(since / span) * span]
        if watch is not None:
            params.append(watch)
        async with self._conn.transaction(write=False) as tx:
            return await tx.fetch(sql, params)

    async def latest_results(self, kind: str) -> dict[str, ResultRecord]:
        """The newest result of every watch of `kind`, by watch name, in one statement (one index
        seek per watch, however long the history)."""
        columns = ", ".join(f"r.{c.strip()}" for c in RESULT_COLUMNS.split(","))
        async with self._conn.transaction(write=False) as tx:
            rows = await tx.fetch(
                f"SELECT {columns} FROM watches w JOIN results r ON r.id = (SELECT id FROM results "
                "WHERE kind = w.kind AND watch = w.name ORDER BY checked_at DESC, id DESC LIMIT 1) "
                "WHERE w.kind = ?",
                (kind,),
            )
        return {record.watch: record for record in map(result_from_row, rows) if record.watch is not None}

    async def results(
        self, kind: str, watch: str, since: float, *, limit: int | None = None, newest_first: bool = False
    ) -> list[ResultRecord]:
        """A watch's results checked at or after `since`, oldest first (or newest first)."""
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT {RESULT_COLUMNS} FROM results WHERE kind = ? AND watch = ? AND checked_at >= ? "
            f"ORDER BY checked_at {order}, id {order}"
        )
        params: list[Any] = [kind, watch, since]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        async with self._conn.transaction(write=False) as tx:
            rows = await tx.fetch(sql, params)
        return [result_from_row(row) for row in rows]

    async def window(self, kind: str, watch: str, since: float, *, max_points: int = 1000) -> WindowStats:
        """Counts per verdict, sorted latencies, a thinned series of key figures (first and last
        always included) and the newest result, without loading every row of a long window."""
        where = "FROM results WHERE kind = ? AND watch = ? AND checked_at >= ?"
        params = (kind, watch, since)
        async with self._conn.transaction(write=False) as tx:
            counted = await tx.fetch(f"SELECT verdict, COUNT(*) {where} GROUP BY verdict", params)
            latencies = await tx.fetch(
                f"SELECT latency_ms {where} AND latency_ms IS NOT NULL ORDER BY latency_ms", params
            )
            total = sum(int(n) for _, n in counted)
            step = max(1, math.ceil(total / max_points))
            thinned = await tx.fetch(
                f"SELECT checked_at, figures {where} AND (id - (id / ?) * ?) = 0 ORDER BY checked_at",
                (*params, step, step),
            )
            edges = await tx.fetch(
                f"SELECT {RESULT_COLUMNS} FROM results WHERE kind = ? AND watch = ? AND checked_at >= ? "
                "ORDER BY checked_at, id LIMIT 1",
                params,
            )
            newest = await tx.fetch(
                f"SELECT {RESULT_COLUMNS} FROM results WHERE kind = ? AND watch = ? "
                "ORDER BY checked_at DESC, id DESC LIMIT 1",
                (kind, watch),
            )
        counts: dict[str, int] = dict.fromkeys(VERDICTS, 0)
        for verdict, n in counted:
            counts[verdict if verdict in counts else "unknown"] += int(n)
        series = [(float(at), dict(json.loads(figures))) for at, figures in thinned]
        last = result_from_row(newest[0]) if newest else None
        for edge in (result_from_row(row) for row in edges):
            series.insert(0, (edge.checked_at, dict(edge.figures)))
        if last is not None and last.checked_at >= since:
            series.append((last.checked_at, dict(last.figures)))
        return WindowStats(
            counts=counts,
            latencies=[float(row[0]) for row in latencies],
            series=series,
            last=last,
        )

    async def points(self, kind: str, watch: str, since: float) -> list[tuple[float, str, float | None]]:
        """(checked_at, verdict, latency_ms) of a watch's raw results since `since`, oldest first:
        what a report's timeline is bucketed from (`watches.report.timeline`)."""
        async with self._conn.transaction(write=False) as tx:
            rows = await tx.fetch(
                "SELECT checked_at, verdict, latency_ms FROM results "
                "WHERE kind = ? AND watch = ? AND checked_at >= ? ORDER BY checked_at, id",
                (kind, watch, since),
            )
        return [(float(at), str(verdict), None if ms is None else float(ms)) for at, verdict, ms in rows]

    async def last_result(self, kind: str, watch: str) -> ResultRecord | None:
        found = await self.results(kind, watch, 0.0, limit=1, newest_first=True)
        return found[0] if found else None

    async def recorded(self, kind: str, target: str, limit: int = 10) -> list[ResultRecord]:
        """The newest on-demand results for `target` (as recorded), newest first."""
        async with self._conn.transaction(write=False) as tx:
            rows = await tx.fetch(
                f"SELECT {RESULT_COLUMNS} FROM results WHERE kind = ? AND watch IS NULL AND target = ? "
                "ORDER BY checked_at DESC, id DESC LIMIT ?",
                (kind, target, limit),
            )
        return [result_from_row(row) for row in rows]

    async def result_ids(self, ids: Iterable[int]) -> set[int]:
        """Which of `ids` are stored (for durability checks)."""
        wanted = sorted(set(ids))
        found: set[int] = set()
        async with self._conn.transaction(write=False) as tx:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                rows = await tx.fetch(f"SELECT id FROM results WHERE id IN ({marks})", chunk)
                found.update(int(row[0]) for row in rows)
        return found

    async def incidents(self, kind: str, watch: str | None, since: float) -> list[Incident]:
        """Incidents open at any time since `since` (still open ones included), oldest first."""
        sql = f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE kind = ? AND (closed_at IS NULL OR closed_at >= ?)"
        params: list[Any] = [kind, since]
        if watch is not None:
            sql += " AND watch = ?"
            params.append(watch)
        async with self._conn.transaction(write=False) as tx:
            rows = await tx.fetch(sql + " ORDER BY opened_at, id", params)
        return [incident_from_row(row) for row in rows]

    async def rollups(self, kind: str, watch: str, since: float) -> list[Rollup]:
        async with self._conn.transaction(write=False) as tx:
            rows = await tx.fetch(
                "SELECT kind, watch, hour, ok, warning, critical, unknown, p50_ms, p95_ms, p99_ms, max_ms, figures "
                "FROM rollups WHERE kind = ? AND watch = ? AND hour >= ? ORDER BY hour",
                (kind, watch, math.floor(since / HOUR) * HOUR),
            )
        return [
            Rollup(
                kind=row[0],
                watch=row[1],
                hour=float(row[2]),
                counts={"ok": row[3], "warning": row[4], "critical": row[5], "unknown": row[6]},
                p50_ms=row[7],
                p95_ms=row[8],
                p99_ms=row[9],
                max_ms=row[10],
                figures=json.loads(row[11]),
            )
            for row in rows
        ]

    # -- retention ---------------------------------------------------------------------------

    async def maintain(
        self, now: float, *, retention_days: float, rollup_retention_days: float, every_s: float = HOUR
    ) -> tuple[int, int] | None:
        """Roll raw results older than `retention_days` into hourly rows and drop old rollups.

        Runs at most once per `every_s` among all processes (None when it was not this one's
        turn); returns (raw rows rolled up or dropped, rollup rows dropped). Only whole hours are
        rolled up, each once, in the same transaction that deletes its raw rows.
        """
        cutoff = math.floor((now - retention_days * DAY) / HOUR) * HOUR
        async with self._conn.transaction(write=True) as tx:
            await tx.run(
                "INSERT INTO monitor_meta (key, value) VALUES ('maintained_at', '0') ON CONFLICT (key) DO NOTHING"
            )
            rows = await tx.fetch(
                "SELECT value FROM monitor_meta WHERE key = 'maintained_at'" + self._for_update
            )
            if float(rows[0][0]) > now - every_s:
                return None
            await tx.run("UPDATE monitor_meta SET value = ? WHERE key = 'maintained_at'", (repr(now),))
            raw = await tx.fetch(
                "SELECT kind, watch, checked_at, verdict, latency_ms, figures FROM results "
                "WHERE checked_at < ? AND watch IS NOT NULL ORDER BY kind, watch, checked_at",
                (cutoff,),
            )
            groups: dict[tuple[str, str, float], list[tuple[Any, ...]]] = {}
            for row in raw:
                groups.setdefault((row[0], row[1], math.floor(row[2] / HOUR) * HOUR), []).append(row)
            for (kind, watch, hour), members in groups.items():
                counts = dict.fromkeys(VERDICTS, 0)
                for member in members:
                    counts[member[3] if member[3] in counts else "unknown"] += 1
                latencies = sorted(float(m[4]) for m in members if m[4] is not None)
                figures: dict[str, Any] = json.loads(members[-1][5])
                await tx.run(
                    "INSERT INTO rollups (kind, watch, hour, ok, warning, critical, unknown, p50_ms, p95_ms, p99_ms, "
                    "max_ms, figures) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, watch, hour) "
                    "DO UPDATE SET ok = rollups.ok + excluded.ok, warning = rollups.warning + excluded.warning, "
                    "critical = rollups.critical + excluded.critical, unknown = rollups.unknown + excluded.unknown, "
                    "p50_ms = excluded.p50_ms, p95_ms = excluded.p95_ms, p99_ms = excluded.p99_ms, "
                    "max_ms = excluded.max_ms, figures = excluded.figures",
                    (
                        kind,
                        watch,
                        hour,
                        counts["ok"],
                        counts["warning"],
                        counts["critical"],
                        counts["unknown"],
                        percentile(latencies, 50),
                        percentile(latencies, 95),
                        percentile(latencies, 99),
                        latencies[-1] if latencies else None,
                        json.dumps(figures, sort_keys=True),
                    ),
                )
            dropped = await tx.run("DELETE FROM results WHERE checked_at < ?", (cutoff,))
            horizon = now - rollup_retention_days * DAY
            old = await tx.run("DELETE FROM rollups WHERE hour < ?", (horizon,))
            await tx.run("DELETE FROM buckets WHERE span = ? AND start < ?", (int(HOUR), cutoff))
            await tx.run("DELETE FROM buckets WHERE span = ? AND start < ?", (int(DAY), horizon))
            await tx.run("DELETE FROM incidents WHERE closed_at IS NOT NULL AND closed_at < ?", (horizon,))
            await tx.run("DELETE FROM deliveries WHERE status <> 'pending' AND created_at < ?", (horizon,))
        return dropped, old


@dataclass
class DeclaredSync:
    """What `Store.sync_declared` did, by watch name."""

    added: list[str] = field(default_factory=lambda: list[str]())
    changed: list[str] = field(default_factory=lambda: list[str]())  # history dropped
    updated: list[str] = field(default_factory=lambda: list[str]())  # history kept
    removed: list[str] = field(default_factory=lambda: list[str]())
    adopted: list[str] = field(default_factory=lambda: list[str]())  # had been added with a tool

    def __str__(self) -> str:
        parts = [
            f"{label} {', '.join(repr(n) for n in names)}"
            for label, names in (
                ("added", self.added),
                ("replaced (arguments changed, history dropped)", self.changed),
                ("updated", self.updated),
                ("removed", self.removed),
                ("taken over from the tools", self.adopted),
            )
            if names
        ]
        return "; ".join(parts) or "no change"


def _definition_json(definition: Any) -> str:
    return json.dumps(dict(definition), sort_keys=True)


class _Gone(StoreError):
    """The watch a result belongs to was removed while its check ran."""

    def __init__(self) -> None:
        super().__init__("the watch was removed while its check ran")


_INSERT_RESULT = (
    "INSERT INTO results (kind, watch, tool, target, checked_at, scheduled_at, verdict, summary, "
    "duration_ms, latency_ms, figures, codes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_BUCKET = (
    f"INSERT INTO buckets ({BUCKET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (kind, span, start, watch) DO UPDATE SET ok = buckets.ok + excluded.ok, "
    "warning = buckets.warning + excluded.warning, critical = buckets.critical + excluded.critical, "
    "unknown = buckets.unknown + excluded.unknown, latency_sum = buckets.latency_sum + excluded.latency_sum, "
    "latency_n = buckets.latency_n + excluded.latency_n, latency_max = CASE WHEN buckets.latency_max IS NULL "
    "OR excluded.latency_max > buckets.latency_max THEN excluded.latency_max ELSE buckets.latency_max END"
)
_BUCKET_FIELDS = "watch, span, start, ok, warning, critical, unknown, latency_sum, latency_n, latency_max"
_BUCKET_SUMS = (
    "watch, start, ok + warning, ok + warning + critical + unknown, latency_sum, latency_n, latency_max"
)
_TWO_BUCKETS = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


def _result_row(result: ResultRecord) -> tuple[Any, ...]:
    return (
        result.kind,
        result.watch,
        result.tool,
        result.target,
        result.checked_at,
        result.scheduled_at,
        result.verdict,
        result.summary,
        result.duration_ms,
        result.latency_ms,
        json.dumps(dict(result.figures), sort_keys=True, default=str),
        ",".join(result.codes),
    )


def _bucket_rows(result: ResultRecord) -> list[tuple[Any, ...]]:
    """A watch's result as its hour's and its day's bucket rows (none for an on-demand check)."""
    if result.watch is None:
        return []
    verdict = result.verdict if result.verdict in VERDICTS else "unknown"
    counts = [int(verdict == v) for v in VERDICTS]
    latency = result.latency_ms
    return [
        (
            result.kind,
            result.watch,
            int(span),
            math.floor(result.checked_at / span) * span,
            *counts,
            float(latency or 0.0),
            int(latency is not None),
            latency,
        )
        for span in (HOUR, DAY)
    ]


LEASE_MIN_S = 5.0
"""The shortest lease. Production intervals (at least `watch_min_interval_s`, 10 s by default) are
longer, so this only matters for the short intervals tests use: with a lease of one such interval,
a process descheduled for longer than the lease (a loaded machine) lost a watch it was still
running, and the same slot ran again elsewhere."""


def lease_s(interval_s: float) -> float:
    """How long a process holds a watch it took: one interval, at least LEASE_MIN_S."""
    return max(interval_s, LEASE_MIN_S)


def _replace_lease(watch: Watch, owner: str, until: float) -> Watch:
    from dataclasses import replace

    return replace(watch, lease_owner=owner, lease_until=until)


def _replace_delivery_lease(delivery: Delivery, owner: str, until: float) -> Delivery:
    from dataclasses import replace

    return replace(delivery, lease_owner=owner, lease_until=until)


SEND_LEASE_S = 30.0
"""How long a process holds a notification it is sending (or that it recorded and is about to
send) before another may take it: longer than one send may take (`notify.sender.SEND_TIMEOUT_S`
and the thread's margin), so that a slow send is not taken for a dead process's."""


# --- opening ---------------------------------------------------------------------------------------


def default_sqlite_path() -> Path:
    """`monitor.db` in the user's data directory (e.g. ~/.local/share/mcp-monitor/)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("mcp-monitor", appauthor=False)) / "monitor.db"


def is_postgres(target: str | None) -> bool:
    return target is not None and target.startswith(("postgresql://", "postgres://"))


def sqlite_path(target: str | None) -> Path:
    """The file a non-PostgreSQL `MCP_MONITOR_DB` names (`sqlite:///` prefix allowed)."""
    if target is None:
        return default_sqlite_path()
    return Path(target.removeprefix("sqlite://")).expanduser()


async def open_store(target: str | None, *, create: bool = True) -> Store | None:
    """Open (and migrate) the store `target` names: None for the default SQLite file.

    With `create=False` a SQLite file that does not exist yet is not created and None is
    returned, so a server with no watches never writes to disk.
    """
    conn: _Conn
    if is_postgres(target):
        assert target is not None
        from monitor_common._postgres import PostgresConnection

        conn = PostgresConnection(target)
        where = conn.where
    else:
        path = sqlite_path(target)
        if not create and not await anyio.Path(path).exists():
            return None
        from monitor_common._sqlite import SQLiteConnection

        conn = SQLiteConnection(path)
        where = str(path)
    await conn.open()
    store = Store(conn, where)
    try:
        await store.migrate()
    except BaseException:
        await store.close()
        raise
    return store
