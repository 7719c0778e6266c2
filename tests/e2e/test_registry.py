"""MCP Registry entries: valid against the registry's schema, generated from the code, in lockstep.

The schema is vendored in tests/e2e/registry/ (its README says where it comes from), so this needs
no network. Regenerate the entries with: uv run python scripts/release.py server-json --write
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
from support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path(__file__).parent / "registry" / "server.schema.json"
FOLDERS = ["http-monitor", "ssl-monitor", "dns-monitor"]


@pytest.fixture(scope="module")
def release() -> ModuleType:
    return load_script("release")


def _entry(folder: str) -> dict[str, Any]:
    return json.loads((ROOT / "packages" / folder / "server.json").read_text())


def _project(folder: str) -> dict[str, Any]:
    return tomllib.loads((ROOT / "packages" / folder / "pyproject.toml").read_text())["project"]


def test_vendored_schema_is_the_one_the_entries_name(release: ModuleType) -> None:
    schema = json.loads(SCHEMA.read_text())
    assert schema["$id"] == release.SCHEMA_URL
    jsonschema.Draft7Validator.check_schema(schema)
    for folder in FOLDERS:
        assert _entry(folder)["$schema"] == release.SCHEMA_URL


@pytest.mark.parametrize("folder", FOLDERS)
def test_entry_is_valid_against_the_registry_schema(folder: str) -> None:
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(_entry(folder))
    ]
    assert errors == []


def test_schema_rejects_what_the_registry_rejects() -> None:
    # The vendored file really constrains: a long description and a `latest` version fail.
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    entry = _entry("http-monitor")
    assert not validator.is_valid({**entry, "description": "x" * 101})
    package = {**entry["packages"][0], "version": "latest"}
    assert not validator.is_valid({**entry, "packages": [package]})


@pytest.mark.parametrize("folder", FOLDERS)
def test_committed_entry_matches_the_code(release: ModuleType, folder: str) -> None:
    assert _entry(folder) == release.server_json(folder)


@pytest.mark.parametrize("folder", FOLDERS)
def test_entry_names_the_released_package_and_version(release: ModuleType, folder: str) -> None:
    entry, project = _entry(folder), _project(folder)
    assert entry["version"] == project["version"]
    assert len(entry["description"]) <= 100
    assert entry["description"] == project["description"]
    assert entry["name"] == f"io.github.{release.OWNER}/{folder}"
    (package,) = entry["packages"]
    assert package["registryType"] == "pypi"
    assert "registryBaseUrl" not in package  # the registry's default index
    assert package["identifier"] == project["name"]
    assert package["version"] == project["version"]
    assert package["transport"] == {"type": "stdio"}


@pytest.mark.parametrize("folder", FOLDERS)
def test_readme_carries_the_ownership_marker(folder: str) -> None:
    # The registry checks that the package's description on the index (this README) names the entry.
    readme = (ROOT / "packages" / folder / "README.md").read_text()
    assert f"<!-- mcp-name: {_entry(folder)['name']} -->" in readme.splitlines()


@pytest.mark.parametrize("folder", FOLDERS)
def test_environment_variables_are_real_settings(folder: str) -> None:
    from monitor_common.config import setting_specs

    specs = {spec.env: spec for spec in setting_specs()}
    variables = _entry(folder)["packages"][0]["environmentVariables"]
    names = [v["name"] for v in variables]
    assert len(names) == len(set(names))
    for name in (
        "MCP_MONITOR_ALLOW_NETWORKS",
        "MCP_MONITOR_ALLOW_HOSTS",
        "MCP_MONITOR_TIMEOUT_S",
        "MCP_MONITOR_DB",
    ):
        assert name in names
    for variable in variables:
        spec = specs[variable["name"]]
        assert variable["description"]
        # Notification URLs carry the services' tokens: secret whatever the setting declares.
        assert variable["isSecret"] is (spec.secret or spec.attr in ("notify", "notify_targets"))
        assert variable["isRequired"] is False
    # A store URL may hold a password, a notification URL a token; nothing else is secret.
    assert {v["name"] for v in variables if v["isSecret"]} <= {
        "MCP_MONITOR_DB",
        "MCP_MONITOR_NOTIFY",
        "MCP_MONITOR_NOTIFY_TARGETS",
    }
    assert "MCP_MONITOR_DB" in {v["name"] for v in variables if v["isSecret"]}
