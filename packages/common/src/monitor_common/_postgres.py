"""The PostgreSQL connection behind `monitor_common.store` (psycopg 3, async).

The store writes its SQL once, with `?` placeholders; this adapter turns them into psycopg's
`%s`. One connection per process, in autocommit mode with explicit transactions; the store
takes row locks (`FOR UPDATE`, `FOR UPDATE SKIP LOCKED`) where processes compete, so leases
are decided by the server, not by timing.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from monitor_common.errors import StoreError
from monitor_common.targets import redact_url

if TYPE_CHECKING:
    import psycopg

__all__ = ["PostgresConnection"]

CONNECT_TIMEOUT_S = 10
TRANSACTION_TIMEOUT_S = 30


class _Tx:
    def __init__(self, conn: psycopg.AsyncConnection[tuple[Any, ...]], where: str) -> None:
        self._conn = conn
        self._where = where

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        try:
            cursor = await self._conn.execute(sql.replace("?", "%s"), tuple(params))  # pyright: ignore[reportArgumentType]
            return await cursor.fetchall() if cursor.description is not None else []
        except psycopg.Error as exc:
            raise StoreError(f"the PostgreSQL store {self._where} failed: {exc}") from exc

    async def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        import psycopg

        try:
            cursor = await self._conn.execute(sql.replace("?", "%s"), tuple(params))  # pyright: ignore[reportArgumentType]
        except psycopg.Error as exc:
            raise StoreError(f"the PostgreSQL store {self._where} failed: {exc}") from exc
        return cursor.rowcount

    async def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        import psycopg

        if not rows:
            return
        try:
            async with self._conn.cursor() as cursor:
                await cursor.executemany(sql.replace("?", "%s"), [tuple(row) for row in rows])  # pyright: ignore[reportArgumentType]
        except psycopg.Error as exc:
            raise StoreError(f"the PostgreSQL store {self._where} failed: {exc}") from exc


class PostgresConnection:
    """One async connection to the database at `url` (a postgresql:// URL)."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = redact_url(url)
        self._conn: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        self._lock = anyio.Lock()

    async def open(self) -> None:
        import psycopg

        try:
            self._conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
            )
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to the PostgreSQL store {self.where}: {exc}") from exc

    @asynccontextmanager
    async def transaction(self, *, write: bool) -> AsyncGenerator[_Tx]:
        """One transaction (READ COMMITTED; the store's SQL takes the row locks it needs)."""
        import psycopg

        del write  # PostgreSQL locks rows, not the database: nothing to take up front
        async with self._lock:
            conn = self._conn
            if conn is None or conn.closed:
                raise StoreError(f"the PostgreSQL store {self.where} is closed")
            try:
                # A transaction is a few short statements: it finishes even when the server is
                # stopping (a query cancelled half-way costs psycopg its connection), within a
                # bound so that an unresponsive database cannot hold the server.
                with anyio.fail_after(TRANSACTION_TIMEOUT_S, shield=True):
                    async with conn.transaction():
                        yield _Tx(conn, self.where)
            except psycopg.Error as exc:
                raise StoreError(f"the PostgreSQL store {self.where} failed: {exc}") from exc
            except TimeoutError as exc:
                await self.close()
                raise StoreError(
                    f"the PostgreSQL store {self.where} did not answer within {TRANSACTION_TIMEOUT_S} s"
                ) from exc

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with anyio.CancelScope(shield=True):
                await conn.close()
