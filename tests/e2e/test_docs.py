"""The READMEs: generated sections current, every tool and setting documented, snippets valid."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest
from support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SERVERS = {"http-monitor": "http_monitor", "ssl-monitor": "ssl_monitor", "dns-monitor": "dns_monitor"}


@pytest.fixture(scope="module")
def docs() -> ModuleType:
    return load_script("build_docs")


@pytest.mark.parametrize("path", ["README.md", *(f"packages/{f}/README.md" for f in SERVERS)])
def test_generated_sections_are_current(docs: ModuleType, path: str) -> None:
    # Regenerate with: uv run python scripts/build_docs.py --write
    assert docs.render(ROOT / path) == (ROOT / path).read_text()


@pytest.mark.parametrize(("folder", "module"), sorted(SERVERS.items()))
def test_every_tool_and_setting_is_documented(folder: str, module: str) -> None:
    from monitor_common.config import setting_specs

    readme = (ROOT / "packages" / folder / "README.md").read_text()
    server = importlib.import_module(f"{module}.server").mcp
    for tool in asyncio.run(server.list_tools()):
        assert f"`{tool.name}`" in readme, tool.name
    root = (ROOT / "README.md").read_text()
    for spec in setting_specs():
        assert f"`{spec.env}`" in readme, spec.env
        assert spec.env in root, spec.env  # the root README's table, written by hand


@pytest.mark.parametrize("folder", sorted(SERVERS))
def test_client_snippets_work_as_written(folder: str) -> None:
    readme = (ROOT / "packages" / folder / "README.md").read_text()
    dist = f"mcp-{folder}"
    snippets = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", readme, re.DOTALL)]
    assert len(snippets) == 3  # Claude Desktop, Cursor, VS Code
    for snippet in snippets:
        (servers,) = [snippet[key] for key in ("mcpServers", "servers") if key in snippet]
        (entry,) = servers.values()
        assert entry["command"] == "uvx" and entry["args"] == [dist]
        assert all(isinstance(v, str) for v in entry.get("env", {}).values())  # hosts pass strings only
    assert snippets[2]["servers"][folder]["type"] == "stdio"  # VS Code's format
    assert f"claude mcp add {folder} -- uvx {dist}" in readme


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else len(text)]


@pytest.mark.parametrize(
    ("path", "heading", "later"),
    [
        *(
            (f"packages/{f}/README.md", "## Install\n", "**After the first release**")
            for f in sorted(SERVERS)
        ),
        ("README.md", "## Set up\n", "After the first release (not before)"),
    ],
)
def test_install_lists_what_works_today_first(path: str, heading: str, later: str) -> None:
    # Before the marker, only paths that work from a clone now: the pip install and the bundles
    # release.py builds; nothing that needs a package on the index (uvx) or a published bundle.
    section = _section((ROOT / path).read_text(), heading)
    marker = section.index(later)
    today, after = section[:marker], section[marker:]
    assert "pip install ./packages/common" in today
    assert "uv run python scripts/release.py build" in today
    assert "uvx" not in today
    assert "uvx mcp-" in after
    release = load_script("release")
    version = release.version()
    folders = [path.split("/")[1]] if path != "README.md" else sorted(SERVERS)
    for folder in folders:
        # The bundle the section names is one that `release.py build` writes.
        assert f"mcp-{folder}-{version}.mcpb" in release.artifacts(version)
    if path != "README.md":
        assert f"dist/mcp-{folders[0]}-<version>.mcpb" in today
    else:
        assert "dist/mcp-{http,ssl,dns}-monitor-<version>.mcpb" in today
