"""MCP bundles (.mcpb) and Smithery configurations for the three servers.

    uv run python scripts/build_bundles.py --write      regenerate manifest.json and smithery.yaml
    uv run python scripts/build_bundles.py [--out DIR]  pack one .mcpb per server (default dist/bundles)

Both files are generated from the code, so they cannot drift from it: the tool list from the
server's own `tools/list`, the version from its pyproject, and the user configuration from the
settings of `monitor_common.config`. tests/e2e/test_bundles.py fails when the committed files
differ from what this script generates, and validates the packed bundles.

Each bundle launches the published package with `uvx <distribution>@<version>`; the user's
configuration reaches the server as `MCP_MONITOR_*` variables (an empty one counts as unset).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SERVERS = {
    "http-monitor": ("mcp-http-monitor", "http_monitor", "HTTP Monitor"),
    "ssl-monitor": ("mcp-ssl-monitor", "ssl_monitor", "SSL Monitor"),
    "dns-monitor": ("mcp-dns-monitor", "dns_monitor", "DNS Monitor"),
}
# (setting, manifest type, title): what a user of a desktop host may set; the rest keep defaults
# (the HTTP transport's settings, for one, mean nothing to a host that starts the server itself).
USER_CONFIG = (
    ("allow_private", "boolean", "Allow internal addresses"),
    ("allow_networks", "string", "Internal networks to allow"),
    ("allow_hosts", "string", "Host names to allow"),
    ("timeout_s", "number", "Default timeout (seconds)"),
    ("resolver", "string", "DNS server for target names"),
    ("db", "string", "Watch store (SQLite file or PostgreSQL URL)"),
    ("record", "boolean", "Also store on-demand check results"),
    ("audit_log", "string", "Audit log file"),
)
# Settings that only one server reads.
SERVER_USER_CONFIG: dict[str, tuple[tuple[str, str, str], ...]] = {
    "dns-monitor": (("dns_resolvers", "string", "Resolvers dns_propagation asks"),),
}
LAUNCHER = '''"""Launch the published server through uvx (the manifest's mcp_config does the same)."""

import os
import sys

os.execvp("uvx", ["uvx", "{spec}", *sys.argv[1:]])
'''


def _version(folder: str) -> str:
    project = tomllib.loads((ROOT / "packages" / folder / "pyproject.toml").read_text())["project"]
    return str(project["version"])


async def _tools(module: str) -> list[dict[str, str]]:
    server = importlib.import_module(f"{module}.server").mcp
    tools = await server.list_tools()
    return [{"name": t.name, "description": (t.description or "").strip().splitlines()[0]} for t in tools]


def _user_config(folder: str) -> tuple[tuple[str, str, str], ...]:
    return USER_CONFIG + SERVER_USER_CONFIG.get(folder, ())


def _settings(folder: str) -> dict[str, Any]:
    from monitor_common.config import Settings, setting_specs

    defaults = Settings()
    specs = {spec.attr: spec for spec in setting_specs()}
    return {attr: (specs[attr], getattr(defaults, attr)) for attr, _, _ in _user_config(folder)}


def manifest(folder: str) -> dict[str, Any]:
    """The MCPB manifest of one server, as generated from the code."""
    dist, module, display = SERVERS[folder]
    version = _version(folder)
    server = importlib.import_module(f"{module}.server").mcp
    settings = _settings(folder)
    user_config: dict[str, Any] = {}
    env: dict[str, str] = {}
    for attr, kind, title in _user_config(folder):
        spec, default = settings[attr]
        entry: dict[str, Any] = {
            "type": kind,
            "title": title,
            "description": f"{spec.help} ({spec.env})",
            "required": False,
        }
        if kind == "boolean" or (kind == "number" and default is not None):
            entry["default"] = default
        if spec.secret:
            entry["sensitive"] = True  # a PostgreSQL URL may carry a password
        user_config[attr] = entry
        env[spec.env] = "${user_config." + attr + "}"
    return {
        "manifest_version": "0.3",
        "name": dist,
        "display_name": display,
        "version": version,
        "description": (server.instructions or "").split(". ")[0].rstrip(".") + ".",
        "long_description": server.instructions,
        "author": {"name": "mcp-monitor maintainers"},
        "license": "MIT",
        "keywords": ["monitoring", "mcp", folder.split("-")[0]],
        "server": {
            "type": "python",
            "entry_point": "server/main.py",
            "mcp_config": {"command": "uvx", "args": [f"{dist}@{version}"], "env": env},
        },
        "tools": asyncio.run(_tools(module)),
        "user_config": user_config,
        "compatibility": {"platforms": ["darwin", "linux", "win32"], "runtimes": {"python": ">=3.11"}},
    }


def smithery(folder: str) -> str:
    """smithery.yaml of one server: a stdio server started with uvx, configured through env."""
    dist, _, _ = SERVERS[folder]
    version = _version(folder)
    settings = _settings(folder)
    lines = [
        f"# Smithery: how to start {dist} (stdio, through uvx) and what a user may configure.",
        "# Generated by scripts/build_bundles.py --write; do not edit by hand.",
        "startCommand:",
        "  type: stdio",
        "  configSchema:",
        "    type: object",
        "    properties:",
    ]
    for attr, kind, title in _user_config(folder):
        spec, default = settings[attr]
        lines += [f"      {attr}:", f"        type: {kind}", f"        title: {json.dumps(title)}"]
        lines.append(f"        description: {json.dumps(spec.help + ' (' + spec.env + ')')}")
        if kind == "boolean":
            lines.append(f"        default: {json.dumps(default)}")
    pairs = ", ".join(f"{settings[attr][0].env}: config.{attr}" for attr, _, _ in _user_config(folder))
    lines += [
        "  commandFunction: |-",
        "    (config) => ({",
        "      command: 'uvx',",
        f"      args: ['{dist}@{version}'],",
        f"      env: Object.fromEntries(Object.entries({{ {pairs} }})",
        "        .filter(([, value]) => value !== undefined && value !== null && value !== '')",
        "        .map(([key, value]) => [key, String(value)])),",
        "    })",
        "  exampleConfig:",
        "    allow_private: false",
        "    timeout_s: 10",
    ]
    return "\n".join(lines) + "\n"


def write() -> None:
    for folder in SERVERS:
        base = ROOT / "packages" / folder
        (base / "manifest.json").write_text(json.dumps(manifest(folder), indent=2) + "\n")
        (base / "smithery.yaml").write_text(smithery(folder))
        print(f"wrote packages/{folder}/manifest.json and smithery.yaml")


def pack(folder: str, out: Path) -> Path:
    """Zip the committed manifest (at the root), the launcher and the README into a .mcpb."""
    dist, _, _ = SERVERS[folder]
    base = ROOT / "packages" / folder
    data = json.loads((base / "manifest.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    bundle = out / f"{dist}-{data['version']}.mcpb"
    with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(data, indent=2) + "\n")
        zf.writestr("server/main.py", LAUNCHER.format(spec=f"{dist}@{data['version']}"))
        zf.write(base / "README.md", "README.md")
    return bundle


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="regenerate manifest.json and smithery.yaml")
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "bundles")
    args = parser.parse_args()
    if args.write:
        write()
        return 0
    for folder in SERVERS:
        bundle = pack(folder, args.out)
        print(
            f"{bundle.relative_to(ROOT) if bundle.is_relative_to(ROOT) else bundle}: {bundle.stat().st_size} bytes"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
