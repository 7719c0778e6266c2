"""The four packages are versioned together, and start-up stays light."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

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
        "'platformdirs', 'monitor_common.store', 'monitor_common.scheduler') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_bump_version_changes_every_place_together(tmp_path: Path) -> None:
    import shutil

    spec = importlib.util.spec_from_file_location("bump_version", ROOT / "scripts" / "bump_version.py")
    assert spec is not None and spec.loader is not None
    bump_version = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bump_version)

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
    with pytest.raises(SystemExit, match="not a version"):
        bump_version.bump("nine", root=copy)
