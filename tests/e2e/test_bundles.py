"""MCP bundle manifests: generated from the code.

The packed bundles, unpacked and started as a host does: test_bundles_unpacked.py.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ["http-monitor", "ssl-monitor", "dns-monitor"]


def _load_script() -> ModuleType:
    return load_script("build_bundles")


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    return _load_script()


@pytest.mark.parametrize("folder", FOLDERS)
def test_committed_files_match_the_code(builder: ModuleType, folder: str) -> None:
    # Regenerate with: uv run python scripts/build_bundles.py --write
    base = ROOT / "packages" / folder
    assert json.loads((base / "manifest.json").read_text()) == builder.manifest(folder)


@pytest.mark.parametrize("folder", FOLDERS)
def test_manifest_tools_are_the_servers(folder: str) -> None:
    module = {"http-monitor": "http_monitor", "ssl-monitor": "ssl_monitor", "dns-monitor": "dns_monitor"}[
        folder
    ]
    server = importlib.import_module(f"{module}.server").mcp
    declared = {t.name for t in asyncio.run(server.list_tools())}
    listed = {
        t["name"] for t in json.loads((ROOT / "packages" / folder / "manifest.json").read_text())["tools"]
    }
    assert listed == declared


@pytest.mark.parametrize("folder", FOLDERS)
def test_desktop_users_can_set_the_watch_store(folder: str) -> None:
    # A desktop host starts the server itself: where the watches live, whether on-demand results
    # are kept and where the audit trail goes must be settable without editing a config file.
    data = json.loads((ROOT / "packages" / folder / "manifest.json").read_text())
    config = data["user_config"]
    env = data["server"]["mcp_config"]["env"]
    for attr, variable in (
        ("db", "MCP_MONITOR_DB"),
        ("record", "MCP_MONITOR_RECORD"),
        ("audit_log", "MCP_MONITOR_AUDIT_LOG"),
        ("allow_private", "MCP_MONITOR_ALLOW_PRIVATE"),
    ):
        assert env[variable] == "${user_config." + attr + "}"
        assert config[attr]["required"] is False
    assert config["db"]["sensitive"] is True  # a PostgreSQL URL may carry a password
