"""sslyze, the peer tls_scan is checked against, in a virtual environment of its own.

    install()                   the venv's python, installing sslyze (`VERSION`) on first use
    scan(port, ...)             run sslyze's CLI on 127.0.0.1:port, return the accepted sets it found
    SslyzeSets                  versions, suites per version and curves, in tls_scan's names

sslyze is installed with uv into a cache directory outside the repository
(`$XDG_CACHE_HOME/mcp-monitor-tests/sslyze-<version>`, by default under ~/.cache), never into
the workspace: its pins (nassl, its own pydantic and cryptography) are not ours. One installer
at a time (a file lock), into a staging directory renamed into place, so a half-finished install
is never used. sslyze names suites by IANA name as tls_scan does; its curve names are OpenSSL's
(X25519, prime256v1), mapped to the TLS registry's (x25519, secp256r1).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["VERSION", "SslyzeSets", "install", "scan"]

VERSION = "6.3.1"
_COMMANDS = ("--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3", "--elliptic_curves")
_VERSIONS = {
    "ssl_3_0_cipher_suites": "SSLv3",
    "tls_1_0_cipher_suites": "TLSv1",
    "tls_1_1_cipher_suites": "TLSv1.1",
    "tls_1_2_cipher_suites": "TLSv1.2",
    "tls_1_3_cipher_suites": "TLSv1.3",
}
_CURVES = {"prime256v1": "secp256r1", "prime192v1": "secp192r1"}


def _cache() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "mcp-monitor-tests" / f"sslyze-{VERSION}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def install() -> Path:
    """The python of sslyze's own venv, made on first use."""
    cache = _cache()
    python = cache / "bin" / "python"
    marker = cache / ".installed"
    with _locked(cache.with_suffix(".lock")):
        if not marker.exists():
            uv = shutil.which("uv") or "uv"
            staging = Path(tempfile.mkdtemp(prefix="sslyze-", dir=cache.parent))
            subprocess.run(
                [uv, "venv", "--quiet", "--python", sys.executable, str(staging)], check=True, timeout=300
            )
            subprocess.run(
                [
                    uv,
                    "pip",
                    "install",
                    "--quiet",
                    "--python",
                    str(staging / "bin" / "python"),
                    f"sslyze=={VERSION}",
                ],
                check=True,
                timeout=600,
            )
            shutil.rmtree(cache, ignore_errors=True)
            staging.rename(cache)
            marker.write_text(VERSION)
    return python


@dataclass(frozen=True)
class SslyzeSets:
    versions: frozenset[str]
    suites: dict[str, frozenset[str]]
    """Accepted suites per accepted version."""
    curves: frozenset[str]


def _sets(report: dict[str, Any]) -> SslyzeSets:
    (server,) = report["server_scan_results"]
    if server["scan_status"] != "COMPLETED":
        raise RuntimeError(f"sslyze could not scan: {server.get('connectivity_error_trace')}")
    results = server["scan_result"]
    suites: dict[str, frozenset[str]] = {}
    for field, label in _VERSIONS.items():
        result = results[field]["result"]
        accepted = frozenset(s["cipher_suite"]["name"] for s in result["accepted_cipher_suites"])
        if accepted:
            suites[label] = accepted
    curves_result = results["elliptic_curves"]["result"] or {}
    names: list[str] = [c["name"] for c in curves_result.get("supported_curves") or []]
    curves = frozenset(_CURVES.get(name, name.lower() if name.startswith("X") else name) for name in names)
    return SslyzeSets(versions=frozenset(suites), suites=suites, curves=curves)


def scan(port: int, directory: Path, *, host: str = "127.0.0.1") -> SslyzeSets:
    """sslyze's versions, suites and curves for host:port (its CLI, --json_out)."""
    python = install()
    out = directory / f"sslyze-{port}.json"
    subprocess.run(
        [str(python), "-m", "sslyze", "--quiet", "--json_out", str(out), *_COMMANDS, f"{host}:{port}"],
        check=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    return _sets(json.loads(out.read_text()))
