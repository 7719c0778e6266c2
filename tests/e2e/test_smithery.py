"""Smithery's files (packages/X/smithery.yaml and Dockerfile): current format, pinned, runnable.

There is no Docker daemon here, so the image is not built: what can be checked without one is.
The files are what scripts/build_smithery.py writes; smithery.yaml is a container runtime with an
http start command whose configSchema offers exactly what the server accepts per session; the
Dockerfile pins the released packages at the workspace's version and its command, with the
image's environment and Smithery's PORT, is one the CLI accepts and that serves HTTP on PORT.
hadolint is not packaged in Debian (`apt-cache policy hadolint`: no candidate), so no linter runs.
"""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from monitor_common.config import Settings
from monitor_common.session_config import SESSION_SETTINGS, session_changes
from support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SERVERS = {"http-monitor": "http_monitor", "ssl-monitor": "ssl_monitor", "dns-monitor": "dns_monitor"}


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    return load_script("build_smithery")


def _version(folder: str) -> str:
    return str(
        tomllib.loads((ROOT / "packages" / folder / "pyproject.toml").read_text())["project"]["version"]
    )


def _dockerfile(folder: str) -> tuple[dict[str, str], list[str], list[str]]:
    """The Dockerfile's ENV (merged), its CMD (exec form) and its RUN lines."""
    text = (ROOT / "packages" / folder / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    cmd: list[str] = []
    runs: list[str] = []
    for line in text.splitlines():
        keyword, _, rest = line.strip().partition(" ")
        if keyword == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", rest)))
        elif keyword == "CMD":
            cmd = json.loads(rest)
        elif keyword == "RUN":
            runs.append(rest)
    return env, cmd, runs


@pytest.mark.parametrize("folder", sorted(SERVERS))
def test_committed_files_match_the_code(builder: ModuleType, folder: str) -> None:
    # Regenerate with: uv run python scripts/build_smithery.py --write
    for path, text in builder.files(folder).items():
        assert path.read_text() == text, path


@pytest.mark.parametrize(("folder", "module"), sorted(SERVERS.items()))
def test_smithery_yaml_is_the_current_container_format(folder: str, module: str) -> None:
    data = yaml.safe_load((ROOT / "packages" / folder / "smithery.yaml").read_text())
    assert data["runtime"] == "container"
    assert data["build"] == {"dockerfile": "Dockerfile", "dockerBuildPath": "."}
    assert (ROOT / "packages" / folder / data["build"]["dockerfile"]).is_file()
    start = data["startCommand"]
    assert start["type"] == "http" and "commandFunction" not in start
    schema = start["configSchema"]
    # Exactly what the server applies per session, and nothing of the network policy.
    declared = importlib.import_module(f"{module}.server").tools.session_settings
    assert list(schema["properties"]) == list(declared)
    assert set(declared) <= set(SESSION_SETTINGS) and "timeout_s" in declared
    assert not {"allow_private", "allow_networks", "allow_hosts", "resolver", "db"} & set(
        schema["properties"]
    )
    # The example, and every default, is a configuration the server accepts.
    example = start["exampleConfig"]
    query = {key: [str(value)] for key, value in example.items()}
    assert session_changes(query, declared, Settings()) == example


@pytest.mark.parametrize("folder", sorted(SERVERS))
def test_the_dockerfile_installs_the_released_packages_at_the_workspace_version(folder: str) -> None:
    _, _, runs = _dockerfile(folder)
    pins = dict(re.findall(r'"([a-z-]+)==([^"]+)"', " ".join(runs)))
    assert pins == {f"mcp-{folder}": _version(folder), "mcp-monitor-common": _version("common")}


@pytest.mark.parametrize(("folder", "module"), sorted(SERVERS.items()))
def test_the_dockerfile_serves_http_on_port_as_the_cli_reads_it(folder: str, module: str) -> None:
    from monitor_common._http import build_app
    from monitor_common.serve import _parser  # pyright: ignore[reportPrivateUsage]
    from monitor_common.server import build_server

    env, cmd, _ = _dockerfile(folder)
    tools = importlib.import_module(f"{module}.server").tools
    # The console script the image runs is this package's, and the CLI takes the arguments.
    scripts = tomllib.loads((ROOT / "packages" / folder / "pyproject.toml").read_text())["project"]["scripts"]
    assert cmd[0] == f"mcp-{folder}" and scripts[cmd[0]] == f"{module}.server:main"
    args = vars(_parser(tools).parse_args(cmd[1:]))
    assert args.pop("command") == "serve"
    # As Smithery starts it: the image's environment plus the PORT it picks.
    settings = Settings.load(flags=args, environ={**env, "PORT": "31337"})
    assert (settings.transport, settings.host, settings.port) == ("http", "0.0.0.0", 31337)
    assert int(env["PORT"]) == settings.load(flags=args, environ=env).port  # the image's default
    # It starts (no token: Smithery's gateway is the only way in, declared), and answers /mcp.
    assert settings.http_behind_gateway and not settings.auth_token
    build_app(build_server(tools, settings), settings)
    assert "EXPOSE " + env["PORT"] in (ROOT / "packages" / folder / "Dockerfile").read_text()
    assert "USER monitor" in (ROOT / "packages" / folder / "Dockerfile").read_text()  # not root
