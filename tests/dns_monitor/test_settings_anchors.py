"""The DNS settings: shipped root hints and trust anchors, operator files, resolvers, RDAP URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from dns_monitor.anchors import load_root_hints, load_trust_anchors
from monitor_common.config import Settings
from monitor_common.errors import ConfigError


def test_shipped_root_hints_are_the_thirteen_root_servers() -> None:
    hints = load_root_hints()
    names = {name for name, _ in hints.servers}
    assert len(names) == 13 and "a.root-servers.net." in names
    assert ("a.root-servers.net.", "198.41.0.4") in hints.servers


def test_shipped_trust_anchors_are_the_root_ksks() -> None:
    anchors = load_trust_anchors()
    assert {(a.zone, a.key_tag, a.algorithm, a.digest_type) for a in anchors} == {
        (".", 20326, 8, 2),
        (".", 38696, 8, 2),
    }


def test_operator_files_replace_them(tmp_path: Path) -> None:
    hints = tmp_path / "hints"
    hints.write_text(". 3600 NS ns.root.corp.\nns.root.corp. 3600 IN A 10.0.0.53\n; comment\n")
    anchors = tmp_path / "anchors"
    anchors.write_text(". IN DS 1234 13 2 AB CD\n")
    assert load_root_hints(hints).servers == (("ns.root.corp.", "10.0.0.53"),)
    (anchor,) = load_trust_anchors(anchors)
    assert anchor.key_tag == 1234 and anchor.digest == "ABCD"


@pytest.mark.parametrize(
    ("content", "needle"),
    [("garbage\n", "not a record"), ("ns.root. A 10.0.0.1\n", "no root NS")],
)
def test_bad_root_hints_file(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "hints"
    path.write_text(content)
    with pytest.raises(ConfigError, match=needle):
        load_root_hints(path)


def test_missing_files_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="MCP_MONITOR_DNS_TRUST_ANCHORS"):
        load_trust_anchors(tmp_path / "absent")


def test_settings_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.load(
        environ={
            "MCP_MONITOR_DNS_ROOT_HINTS": str(tmp_path / "h"),
            "MCP_MONITOR_DNS_TRUST_ANCHORS": str(tmp_path / "a"),
            "MCP_MONITOR_DNS_RESOLVERS": "192.0.2.53, [2001:db8::53]:5353",
            "MCP_MONITOR_RDAP_URL": "https://rdap.example/,com=https://rdap.verisign.com/com/v1/",
        }
    )
    assert settings.dns_root_hints == tmp_path / "h"
    assert settings.dns_resolvers == ("192.0.2.53", "[2001:db8::53]:5353")
    assert settings.rdap_url == ("https://rdap.example/", "com=https://rdap.verisign.com/com/v1/")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MCP_MONITOR_DNS_RESOLVERS", "dns.google"), ("MCP_MONITOR_RDAP_URL", "com=rdap.example")],
)
def test_malformed_settings_stop_start_up(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.load(environ={variable: value})
