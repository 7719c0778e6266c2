"""A throw-away PostgreSQL cluster on 127.0.0.1 for the store's PostgreSQL tier.

`PostgresCluster` runs Debian's `initdb` and `pg_ctl` (from /usr/lib/postgresql/*/bin) in a
temporary directory, listening on 127.0.0.1 only, on a free port, with trust authentication for
loopback. PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres`
user (or `nobody`). `postgres_cluster` is a session fixture; `pg_url` gives each test a fresh
database in it. Without PostgreSQL installed the tier is skipped, saying so; `.ci/run` installs it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.ports import free_port

__all__ = ["PostgresCluster", "pg_bin_dir", "pg_url", "postgres_cluster"]


def pg_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/N/bin that has initdb and pg_ctl, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
    )
    for candidate in reversed(found):
        path = Path(candidate)
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    return None


class PostgresCluster:
    """initdb + pg_ctl start in a temp dir; `url(db)` for psycopg; `stop()` removes everything."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.tmp = Path(tempfile.mkdtemp(prefix="mcp-monitor-pg-"))
        self.data = self.tmp / "data"
        self.port = free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    entry = pwd.getpwnam(name)
                except KeyError:
                    continue
                self.user = name
                os.chown(self.tmp, entry.pw_uid, entry.pw_gid)
                break

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.tmp,
            stdin=subprocess.DEVNULL,
        )

    def start(self) -> None:
        done = self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr or done.stdout}")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.tmp} -c fsync=off "
            "-c max_connections=200 -c shared_buffers=32MB"
        )
        done = self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.tmp / "log"), "-w", "start"
        )
        if done.returncode != 0:
            log = (self.tmp / "log").read_text() if (self.tmp / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr or done.stdout}\n{log}")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg
        from psycopg import sql

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    bin_dir = pg_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb); .ci/run installs it")
    cluster = PostgresCluster(bin_dir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(postgres_cluster: PostgresCluster) -> str:
    """The URL of a fresh, empty database on the session's cluster."""
    return postgres_cluster.create_database()
