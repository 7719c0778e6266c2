"""Settings from flags and MCP_MONITOR_* variables: parsing, precedence and start-up failures."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from monitor_common.config import Settings, setting_specs
from monitor_common.context import CheckContext
from monitor_common.errors import ConfigError, LimitError


def test_defaults_deny_internal_addresses() -> None:
    settings = Settings.load(environ={})
    assert settings.transport == "stdio"
    assert settings.host == "127.0.0.1"
    policy = CheckContext.from_settings(settings).policy
    assert policy.allow_private is False
    assert policy.allow_networks == ()


@pytest.mark.parametrize(
    ("env", "attr", "expected"),
    [
        ({"MCP_MONITOR_TIMEOUT_S": "2.5"}, "timeout_s", 2.5),
        ({"MCP_MONITOR_CONCURRENCY": "7"}, "concurrency", 7),
        ({"MCP_MONITOR_ALLOW_PRIVATE": "TRUE"}, "allow_private", True),
        ({"MCP_MONITOR_ALLOW_PRIVATE": "off"}, "allow_private", False),
        (
            {"MCP_MONITOR_ALLOW_NETWORKS": "10.0.0.0/8, fd00::/8"},
            "allow_networks",
            (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")),
        ),
        (
            {"MCP_MONITOR_ALLOW_HOSTS": "Intranet.Example.,.corp.example"},
            "allow_hosts",
            ("intranet.example", ".corp.example"),
        ),
        ({"MCP_MONITOR_AUDIT_LOG": "/tmp/audit.jsonl"}, "audit_log", Path("/tmp/audit.jsonl")),
        ({"MCP_MONITOR_TRANSPORT": "HTTP"}, "transport", "http"),
        ({"MCP_MONITOR_PORT": "8443"}, "port", 8443),
        ({"MCP_MONITOR_RESOLVER": "127.0.0.1:5353"}, "resolver", "127.0.0.1:5353"),
    ],
)
def test_environment_values_parse(env: dict[str, str], attr: str, expected: object) -> None:
    assert getattr(Settings.load(environ=env), attr) == expected


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MCP_MONITOR_TIMEOUT_S": "soon"}, "MCP_MONITOR_TIMEOUT_S"),
        ({"MCP_MONITOR_TIMEOUT_S": "-1"}, "MCP_MONITOR_TIMEOUT_S"),
        ({"MCP_MONITOR_CONCURRENCY": "0"}, "MCP_MONITOR_CONCURRENCY"),
        ({"MCP_MONITOR_ALLOW_PRIVATE": "maybe"}, "MCP_MONITOR_ALLOW_PRIVATE"),
        ({"MCP_MONITOR_ALLOW_NETWORKS": "10.0.0.0/33"}, "MCP_MONITOR_ALLOW_NETWORKS"),
        ({"MCP_MONITOR_PORT": "70000"}, "MCP_MONITOR_PORT"),
        ({"MCP_MONITOR_TRANSPORT": "sse"}, "MCP_MONITOR_TRANSPORT"),
        ({"MCP_MONITOR_RESOLVER": "dns.example"}, "MCP_MONITOR_RESOLVER"),
        ({"MCP_MONITOR_TIMEOUT": "5"}, "MCP_MONITOR_TIMEOUT"),  # a typo of TIMEOUT_S
        ({"MCP_MONITOR_TLS_CERT": "/x.pem"}, "MCP_MONITOR_TLS_KEY"),  # one without the other
    ],
)
def test_malformed_or_unknown_settings_fail_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.load(environ=env)


def test_the_token_is_not_in_the_settings_repr() -> None:
    assert "s3cret" not in repr(Settings(auth_token="s3cret"))


def test_empty_variables_count_as_unset() -> None:
    settings = Settings.load(
        environ={"MCP_MONITOR_TIMEOUT_S": "", "MCP_MONITOR_RESOLVER": " ", "MCP_MONITOR_AUTH_TOKEN": ""}
    )
    assert settings == Settings()


def test_flags_win_over_environment() -> None:
    settings = Settings.load(
        flags={"port": "9000", "transport": None},
        environ={"MCP_MONITOR_PORT": "8001", "MCP_MONITOR_TRANSPORT": "http"},
    )
    assert settings.port == 9000
    assert settings.transport == "http"


def test_bad_flag_is_named_as_a_flag() -> None:
    with pytest.raises(ConfigError, match="--port"):
        Settings.load(flags={"port": "http"}, environ={})


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(("asked", "expected"), [(None, 10.0), (3, 3), (60, 60)])
def test_clamp_timeout(asked: float | None, expected: float) -> None:
    assert CheckContext.from_settings(Settings()).timeout(asked) == expected


@pytest.mark.parametrize("asked", [0, -1, 61])
def test_clamp_timeout_refuses_out_of_range(asked: float) -> None:
    with pytest.raises(LimitError, match="timeout_s"):
        CheckContext.from_settings(Settings()).timeout(asked)


def test_every_setting_has_env_and_flag() -> None:
    for spec in setting_specs():
        assert spec.env == "MCP_MONITOR_" + spec.attr.upper()
        assert spec.flag.startswith("--")
        assert spec.help
