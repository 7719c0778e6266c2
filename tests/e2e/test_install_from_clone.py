"""The README's install from a clone works on a fresh machine, before anything is on the package index.

    python3 -m venv .venv && .venv/bin/pip install ./packages/common ./packages/http-monitor

Nothing of ours is on the package index yet, and pip ignores `[tool.uv.sources]`: each server's
exact pin `mcp-monitor-common==X` is met only because the clone's `packages/common` is named on
the same command line. One virtual environment in a temporary folder outside the workspace gets
common and the three servers from the clone (third-party packages from the index, through the
usual pip cache); each server's console script must then list its tools from there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVERS = {
    "mcp-http-monitor": "http-monitor",
    "mcp-ssl-monitor": "ssl-monitor",
    "mcp-dns-monitor": "dns-monitor",
}
# Taken before the autouse fixture clears proxy and TLS variables: pip reaches the package index
# the way the machine is configured to, while the servers run in the clean test environment.
_INSTALL_ENV = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("install-from-clone") / "venv"
    assert not where.is_relative_to(ROOT)
    # The interpreter the workspace runs on, but its base installation: a plain `python3 -m venv`.
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(where)], check=True, env=_INSTALL_ENV, cwd=where.parent)
    folders = ["common", *SERVERS.values()]
    done = subprocess.run(
        [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        + [str(ROOT / "packages" / folder) for folder in folders],
        capture_output=True,
        text=True,
        env=_INSTALL_ENV,
        cwd=where.parent,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return where


def _installed_from(venv: Path, dist: str) -> str:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "d = m.distribution(sys.argv[1])\n"
        "print(json.loads(d.read_text('direct_url.json') or '{}').get('url', ''))"
    )
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code, dist], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.timeout(600)
def test_our_packages_come_from_the_clone(venv: Path) -> None:
    for dist, folder in {"mcp-monitor-common": "common", **SERVERS}.items():
        assert _installed_from(venv, dist) == (ROOT / "packages" / folder).as_uri(), dist


@pytest.mark.timeout(600)
@pytest.mark.parametrize("dist", sorted(SERVERS))
def test_installed_server_lists_its_tools(venv: Path, dist: str) -> None:
    done = subprocess.run(
        [str(venv / "bin" / dist), "tools"],
        capture_output=True,
        text=True,
        cwd=venv.parent,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    listed = [line.split()[0] for line in done.stdout.splitlines() if line.strip()]
    manifest = json.loads((ROOT / "packages" / SERVERS[dist] / "manifest.json").read_text())
    assert listed == [tool["name"] for tool in manifest["tools"]]
