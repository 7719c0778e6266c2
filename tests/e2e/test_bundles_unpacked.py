"""The .mcpb bundles `release.py build` writes, installed and started the way a desktop host does.

Each bundle is unpacked (`mcpb unpack`) into an empty folder outside the workspace, its launch
configuration computed by the reference library a host uses (`getMcpConfigForManifest`: defaults,
`${__dirname}`, the user's values), and that command run as a stdio MCP server with an environment
that has neither the workspace's virtual environment nor its packages: only `uv` on PATH and an
empty uv cache, so our two packages can come from nowhere but the wheels inside the bundle
(third-party packages come from the package index, as on a user's machine).

About 20 s with warm npm and build caches (a minute on a loaded machine): one release build, then
three first starts, of which the first downloads the third-party packages into the fresh cache.
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ["http-monitor", "ssl-monitor", "dns-monitor"]
# Taken before the autouse fixture clears proxy and TLS variables: uv, npm and the started bundles
# reach the package indexes the way the machine is configured to.
_MACHINE_ENV = dict(os.environ)


def _version() -> str:
    return str(tomllib.loads((ROOT / "packages/common/pyproject.toml").read_text())["project"]["version"])


@pytest.fixture(scope="module")
def bundles() -> ModuleType:
    return load_script("build_bundles")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("release-dist")
    load_script("release").build(out, _MACHINE_ENV)
    return out


@pytest.fixture(scope="module")
def host_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A desktop host's environment: the machine's, minus anything of the workspace, with a new uv cache."""
    uv = shutil.which("uv", path=_MACHINE_ENV.get("PATH"))
    assert uv is not None, "uv is needed on PATH (a host of the uv server type brings its own)"
    path = [
        entry
        for entry in _MACHINE_ENV.get("PATH", "").split(os.pathsep)
        if entry and not Path(entry).resolve().is_relative_to(ROOT)
    ]
    if str(Path(uv).parent) not in path:
        path.insert(0, str(Path(uv).parent))
    # The index settings (UV_INDEX_URL, ...) stay: they are the machine's, not the workspace's.
    workspace = {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "UV_PROJECT", "PYTHONPATH", "PYTHONHOME"}
    env = {
        k: v
        for k, v in _MACHINE_ENV.items()
        if k not in workspace and not k.startswith(("MCP_MONITOR_", "CONDA"))
    }
    env["PATH"] = os.pathsep.join(path)
    env["UV_CACHE_DIR"] = str(tmp_path_factory.mktemp("fresh-uv-cache"))
    env["UV_PYTHON_DOWNLOADS"] = "never"  # the machine's Python; a user's uv may fetch one
    return env


def _unpack(bundles: ModuleType, dist: Path, folder: str, where: Path) -> Path:
    bundle = dist / f"mcp-{folder}-{_version()}.mcpb"
    assert not where.exists() or not any(where.iterdir())
    bundles.mcpb("unpack", bundle, where, environ=_MACHINE_ENV)
    return where


@pytest.mark.timeout(300)
@pytest.mark.parametrize("folder", FOLDERS)
def test_bundle_carries_our_wheels_and_no_launcher(dist: Path, folder: str) -> None:
    version = _version()
    dist_name = f"mcp-{folder}"
    bundle = dist / f"{dist_name}-{version}.mcpb"
    assert bundle.stat().st_size < 2 * 1024 * 1024  # two small wheels, not an environment
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
        manifest: dict[str, Any] = json.loads(zf.read("manifest.json"))  # at the root of the zip
        pyproject = tomllib.loads(zf.read("pyproject.toml").decode())
        texts = [zf.read(n).decode() for n in names if n.endswith((".py", ".json", ".toml"))]
    wheels = {
        f"wheels/mcp_monitor_common-{version}-py3-none-any.whl",
        f"wheels/{dist_name.replace('-', '_')}-{version}-py3-none-any.whl",
    }
    assert names == {"manifest.json", "pyproject.toml", "README.md", "server/main.py", *wheels}
    assert manifest["manifest_version"] == "0.4"
    assert manifest["server"]["type"] == "uv"
    assert manifest["server"]["entry_point"] in names
    assert manifest["version"] == version
    # Our packages pinned to this version and taken from the wheels inside; nothing runs uvx.
    assert sorted(pyproject["project"]["dependencies"]) == sorted(
        [f"{dist_name}=={version}", f"mcp-monitor-common=={version}"]
    )
    sources = pyproject["tool"]["uv"]["sources"]
    assert {source["path"] for source in sources.values()} == wheels
    assert not any("uvx" in text for text in texts)


@pytest.mark.timeout(300)
def test_mcpb_validate_accepts_each_unpacked_manifest(
    bundles: ModuleType, dist: Path, tmp_path: Path
) -> None:
    for folder in FOLDERS:
        unpacked = _unpack(bundles, dist, folder, tmp_path / folder)
        assert "Manifest schema validation passes" in bundles.mcpb(
            "validate", unpacked / "manifest.json", environ=_MACHINE_ENV
        )
    # It really checks: the old manifest form (type uv needs manifest 0.4) is refused.
    data = json.loads((tmp_path / "dns-monitor" / "manifest.json").read_text())
    (tmp_path / "old.json").write_text(json.dumps({**data, "manifest_version": "0.3"}))
    with pytest.raises(SystemExit, match="validation failed"):
        bundles.mcpb("validate", tmp_path / "old.json", environ=_MACHINE_ENV)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("folder", FOLDERS)
async def test_unpacked_bundle_starts_as_a_host_starts_it(
    bundles: ModuleType, dist: Path, host_env: dict[str, str], folder: str, tmp_path: Path
) -> None:
    unpacked = _unpack(bundles, dist, folder, tmp_path / "Claude Extensions" / f"mcp-{folder}")
    assert not unpacked.is_relative_to(ROOT)
    config = bundles.host_config(unpacked, {}, home=tmp_path, environ=_MACHINE_ENV)
    assert "${" not in json.dumps(config)  # every placeholder filled, the unset ones empty
    command = shutil.which(config["command"], path=host_env["PATH"])
    assert command is not None
    params = StdioServerParameters(
        command=command, args=config["args"], env={**host_env, **config["env"]}, cwd=tmp_path
    )
    async with Client(params, mode="legacy") as client:
        assert client.server_info is not None
        assert client.server_info.name == f"mcp-{folder}"
        assert client.server_info.version == _version()
        listed = [tool.name for tool in (await client.list_tools()).tools]
    manifest = json.loads((unpacked / "manifest.json").read_text())
    assert listed == [tool["name"] for tool in manifest["tools"]]
    # Our packages came from the wheels in the bundle, into the bundle's own environment.
    (site,) = (unpacked / ".venv" / "lib").glob("python3.*/site-packages")
    for dist_name in ("mcp_monitor_common", f"mcp_{folder.replace('-', '_')}"):
        (info,) = site.glob(f"{dist_name}-{_version()}.dist-info")
        origin = json.loads((info / "direct_url.json").read_text())["url"]
        assert origin.startswith((unpacked / "wheels").as_uri()), origin


def _filled_in(settings: list[Any], specs: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """A value for every field of the form, of the field's type and within its bounds."""
    values: dict[str, Any] = {}
    for setting in settings:
        if setting.kind == "boolean":
            values[setting.attr] = True
        elif setting.kind == "number":
            values[setting.attr] = setting.minimum if setting.minimum is not None else 1
        elif setting.kind in ("file", "directory"):
            chosen = tmp_path / setting.attr
            chosen.write_text("")
            values[setting.attr] = str(chosen)
        else:
            values[setting.attr] = specs[setting.attr].example.split(" or ")[0]
    return values


@pytest.mark.timeout(300)
@pytest.mark.parametrize("folder", FOLDERS)
def test_what_a_user_sets_reaches_the_settings(
    bundles: ModuleType, dist: Path, folder: str, tmp_path: Path
) -> None:
    from monitor_common.config import Settings, setting_specs

    unpacked = _unpack(bundles, dist, folder, tmp_path / "unpacked")
    specs = {spec.attr: spec for spec in setting_specs()}
    settings = list(bundles.user_settings(folder))
    # An untouched form starts the server with its defaults (no placeholder left to misparse).
    untouched = bundles.host_config(unpacked, {}, home=tmp_path, environ=_MACHINE_ENV)["env"]
    assert Settings.load(environ=untouched) == Settings()
    # A filled-in one: every value, as the host renders it, parses as what the user chose.
    values = _filled_in(settings, specs, tmp_path)
    env = bundles.host_config(unpacked, values, home=tmp_path, environ=_MACHINE_ENV)["env"]
    loaded = Settings.load(environ=env)
    for setting in settings:
        got = getattr(loaded, setting.attr)
        if setting.kind == "boolean":
            assert got is True, setting.attr
        elif setting.kind == "number":
            assert got == values[setting.attr], setting.attr
        else:
            assert got != getattr(Settings(), setting.attr), setting.attr


@pytest.mark.parametrize("folder", FOLDERS)
def test_user_config_fields_have_sensible_types(bundles: ModuleType, folder: str) -> None:
    from monitor_common.config import Settings

    data = json.loads((ROOT / "packages" / folder / "manifest.json").read_text())
    config = data["user_config"]
    defaults = Settings()
    for attr, field in config.items():
        default = getattr(defaults, attr)
        if isinstance(default, bool):
            assert field["type"] == "boolean" and field["default"] is default, attr
        elif isinstance(default, int | float):
            assert field["type"] == "number" and field["default"] == default, attr
            assert field["min"] <= default <= field["max"], attr  # a bounded field, the default inside
        else:
            assert field["type"] in ("string", "file", "directory") and field["default"] == "", attr
    for attr in ("allow_private", "allow_networks", "allow_hosts", "timeout_s", "db", "record", "audit_log"):
        assert attr in config, attr
    if folder == "dns-monitor":
        assert config["dns_root_hints"]["type"] == "file"
        assert config["dns_trust_anchors"]["type"] == "file"
    else:
        assert config["cert_warn_days"]["type"] == "number"
    # Whatever may hold a password or a token is masked.
    assert config["db"]["sensitive"] is True
    for attr in ("notify", "notify_targets"):
        if attr in config:  # once config declares it
            assert config[attr]["sensitive"] is True, attr
    assert {attr for attr, field in config.items() if field.get("sensitive")} <= {
        "db",
        "notify",
        "notify_targets",
    }
