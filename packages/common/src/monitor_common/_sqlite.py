"""The SQLite connection behind `monitor_common.store`: one file, WAL, short write transactions.

Every statement runs in a worker thread so that a busy database (another process holding the
write lock) never blocks the event loop; one lock per store makes the transactions of one
process take turns on its single connection. Write transactions start with `BEGIN IMMEDIATE`,
which takes the database's write lock at once: two processes cannot both read a due watch and
then both lease it. `synchronous=NORMAL` in WAL mode keeps every committed transaction across a
killed process (only a power loss may drop the last ones).
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from monitor_common.errors import StoreError

__all__ = ["SQLiteConnection"]

# How long a statement waits for another process's write lock before giving up.
BUSY_TIMEOUT_S = 15.0

_T = TypeVar("_T")


class _Tx:
    def __init__(self, owner: SQLiteConnection) -> None:
        self._owner = owner

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = self._owner.raw
        return await self._owner.call(lambda: conn.execute(sql, tuple(params)).fetchall())

    async def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        conn = self._owner.raw
        return await self._owner.call(lambda: conn.execute(sql, tuple(params)).rowcount)

    async def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        conn = self._owner.raw
        await self._owner.call(lambda: conn.executemany(sql, [tuple(row) for row in rows]))


class SQLiteConnection:
    """One connection to the database file at `path`, created (with its folder) when missing."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = anyio.Lock()

    @property
    def raw(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"the store {self.path} is closed")
        return self._conn

    async def open(self) -> None:
        def connect() -> sqlite3.Connection:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error:
                conn.close()
                raise
            return conn

        try:
            self._conn = await anyio.to_thread.run_sync(connect)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the SQLite store {self.path}: {exc}") from exc

    async def call(self, fn: Callable[[], _T]) -> _T:
        try:
            return await anyio.to_thread.run_sync(fn)
        except sqlite3.Error as exc:
            raise StoreError(f"the SQLite store {self.path} failed: {exc}") from exc

    @asynccontextmanager
    async def transaction(self, *, write: bool) -> AsyncGenerator[_Tx]:
        """One transaction; `write` takes the database's write lock at its start (BEGIN IMMEDIATE)."""
        async with self._lock:
            conn = self.raw
            await self.call(lambda: conn.execute("BEGIN IMMEDIATE" if write else "BEGIN"))
            try:
                yield _Tx(self)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self.call(lambda: conn.execute("ROLLBACK"))
                raise
            with anyio.CancelScope(shield=True):
                await self.call(lambda: conn.execute("COMMIT"))

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            async with self._lock:
                conn.close()

    def integrity_check(self) -> str:
        """`PRAGMA integrity_check` on a separate connection: "ok" for a sound file."""
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)
        try:
            return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        finally:
            conn.close()
