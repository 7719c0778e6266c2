"""The four packages are versioned together, and start-up stays light."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "common": "monitor_common",
    "http-monitor": "http_monitor",
    "ssl-monitor": "ssl_monitor",
    "dns-monitor": "dns_monitor",
}


def _project(folder: str) -> dict[str, object]:
    return tomllib.loads((ROOT / "packages" / folder / "pyproject.toml").read_text())["project"]


def test_one_version_everywhere() -> None:
    versions = {folder: str(_project(folder)["version"]) for folder in PACKAGES}
    assert len(set(versions.values())) == 1, versions
    (version,) = set(versions.values())
    for folder, module in PACKAGES.items():
        assert importlib.import_module(module).__version__ == version, folder
    for folder in PACKAGES:
        if folder == "common":
            continue
        dependencies = _project(folder)["dependencies"]
        assert isinstance(dependencies, list)
        assert f"mcp-monitor-common=={version}" in dependencies, folder


@pytest.mark.parametrize("module", ["http_monitor", "ssl_monitor", "dns_monitor"])
def test_heavy_libraries_load_on_first_use(module: str) -> None:
    code = (
        f"import sys, {module}.server\n"
        "print(','.join(m for m in ('dns', 'dns.resolver', 'cryptography.x509', 'httpcore2', 'sqlite3', 'psycopg', "
        "'platformdirs', 'monitor_common.store', 'monitor_common.scheduler', 'monitor_common.web', 'jinja2') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_bump_version_changes_every_place_together(tmp_path: Path) -> None:
    import shutil

    bump_version = load_script("bump_version")

    copy = tmp_path / "repo"
    shutil.copytree(
        ROOT / "packages", copy / "packages", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    bump_version.bump("9.8.7", root=copy)
    for folder, module in PACKAGES.items():
        project = tomllib.loads((copy / "packages" / folder / "pyproject.toml").read_text())["project"]
        assert project["version"] == "9.8.7"
        if folder != "common":
            assert "mcp-monitor-common==9.8.7" in project["dependencies"]
        init = (copy / "packages" / folder / "src" / module / "__init__.py").read_text()
        assert '__version__ = "9.8.7"' in init
        if folder != "common":
            entry = json.loads((copy / "packages" / folder / "server.json").read_text())
            assert entry["version"] == "9.8.7"
            assert [p["version"] for p in entry["packages"]] == ["9.8.7"]
            # Smithery's image installs the released packages at the version, both pins moved.
            docker = (copy / "packages" / folder / "Dockerfile").read_text()
            assert f'"mcp-{folder}==9.8.7" "mcp-monitor-common==9.8.7"' in docker
    with pytest.raises(SystemExit, match="not a version"):
        bump_version.bump("nine", root=copy)


# Taken before the autouse fixture clears proxy and TLS variables: `uv build` fetches the build
# backend from the package index the way the machine is configured to.
_BUILD_ENV = dict(os.environ)


def _release_script() -> ModuleType:
    return load_script("release")


def test_release_build_writes_every_artifact(tmp_path: Path) -> None:
    # About 6 s: four `uv build --no-sources` (wheel and sdist) and three bundles validated and
    # packed by the mcpb CLI (installed once into .cache/mcpb).
    import zipfile

    release = _release_script()
    version = str(_project("common")["version"])
    stale = tmp_path / "mcp_http_monitor-0.0.1-py3-none-any.whl"
    stale.write_bytes(b"")
    built = release.build(tmp_path, _BUILD_ENV)
    # uv build also leaves a .gitignore of its own; nothing else may be there.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != ".gitignore") == [p.name for p in built]
    assert [p.name for p in built] == sorted(
        [
            f"{d}-{version}-py3-none-any.whl"
            for d in ("mcp_monitor_common", "mcp_http_monitor", "mcp_ssl_monitor", "mcp_dns_monitor")
        ]
        + [
            f"{d}-{version}.tar.gz"
            for d in ("mcp_monitor_common", "mcp_http_monitor", "mcp_ssl_monitor", "mcp_dns_monitor")
        ]
        + [f"mcp-{s}-monitor-{version}.mcpb" for s in ("http", "ssl", "dns")]
    )
    # Built without workspace sources: a server's wheel pins the released common, not a path.
    with zipfile.ZipFile(tmp_path / f"mcp_dns_monitor-{version}-py3-none-any.whl") as zf:
        metadata = zf.read(f"mcp_dns_monitor-{version}.dist-info/METADATA").decode()
    assert f"Requires-Dist: mcp-monitor-common=={version}" in metadata
    assert "file:" not in metadata
