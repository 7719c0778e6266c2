"""The watches file read for http-monitor: entries become watches by the rules of
`http_watch action=add`, and every mistake is reported with its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from http_monitor.server import mcp, watch_service
from mcp import Client
from monitor_common.config import Settings, set_settings
from monitor_common.watches.declared import WatchesFileError, load_declared
from support.watch_helpers import watch_settings_in


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "watches.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_entries_become_watch_specs_with_the_tools_defaults(tmp_path: Path) -> None:
    set_settings(Settings())
    path = write(
        tmp_path,
        "# the team's endpoints\n"
        "http:\n"
        "  - name: home\n"
        "    url: https://example.com/\n"
        "    interval_s: 60\n"
        "    failure_threshold: 3\n"
        "    expect_status: 2xx\n"
        "  - url: https://example.com/api\n"
        "ssl:\n"
        "  - host: example.com\n"  # another server's section: not read, not refused
        "    no_such_key_here: 1\n"
        "dns:\n",
    )
    (home, api) = load_declared(path, [watch_service])["http"]
    assert (home.name, home.interval_s, home.failure_threshold, home.success_threshold) == ("home", 60, 3, 1)
    assert home.definition == {"url": "https://example.com/", "expect_status": "2xx"}
    assert home.managed_by == str(path.resolve())
    assert (api.name, api.interval_s) == ("https://example.com/api", 300)  # name and interval: add's defaults


def test_an_empty_file_or_section_declares_no_watch(tmp_path: Path) -> None:
    set_settings(Settings())
    assert load_declared(write(tmp_path, ""), [watch_service]) == {"http": []}
    assert load_declared(write(tmp_path, "http:\n"), [watch_service]) == {"http": []}
    assert load_declared(write(tmp_path, "dns: []\n"), [watch_service]) == {"http": []}


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("http:\n  - url: https://a.test/\n    interval_s: 1\n", 3, "interval_s=1 is below the minimum of 10 s"),
        ("http:\n  - url: https://a.test/\n    interval_s: fast\n", 3, "interval_s: Input should be a valid number"),
        ("http:\n  - url: https://a.test/\n    failure_threshold: 0\n", 3, "failure_threshold: Input should be greater"),
        ("http:\n  - url: https://a.test/\n    urll: x\n", 3, "unknown key 'urll' in section 'http'"),
        ("http:\n  - url: https://a.test/\n    action: remove\n", 3, "unknown key 'action'"),
        ("http:\n  - name: x\n    interval_s: 60\n", 2, "action=add needs url"),
        ("http:\n  - url: https://a.test/\n    url: https://b.test/\n", 3, "'url' is given twice (first on line 2)"),
        ("http:\n  - name: a\n    url: https://a.test/\n  - name: a\n    url: https://b.test/\n", 4,
         "a second http watch named 'a' (the first is on line 2)"),
        ("http:\n  - url: https://a.test/\nhtp:\n  - url: https://b.test/\n", 4, "unknown section 'htp'"),
        ("http:\n  url: https://a.test/\n", 2, "section 'http' must be a list of watches"),
        ("http:\n  - https://a.test/\n", 2, "must be a mapping of keys"),
        ("- http\n", 1, "expected sections (http, ssl, dns)"),
        ("http:\n  - url: [https://a.test/\n", 3, "not valid YAML"),
        ("http:\n\t- url: x\n", 2, "not valid YAML"),
    ],
)  # fmt: skip
def test_a_mistake_is_reported_with_its_line(tmp_path: Path, text: str, line: int, problem: str) -> None:
    set_settings(Settings())
    path = write(tmp_path, text)
    with pytest.raises(WatchesFileError) as caught:
        load_declared(path, [watch_service])
    assert caught.value.line == line, str(caught.value)
    assert str(caught.value).startswith(f"watches file {path}:{line}: "), str(caught.value)
    assert problem in str(caught.value)


def test_a_secret_in_a_refused_value_is_not_repeated(tmp_path: Path) -> None:
    set_settings(Settings())
    path = write(
        tmp_path, "http:\n  - url: https://a.test/\n    headers: 'Authorization: Bearer s3cr3t-t0ken'\n"
    )
    with pytest.raises(WatchesFileError) as caught:
        load_declared(path, [watch_service])
    assert caught.value.line == 3 and "s3cr3t" not in str(caught.value)


def test_an_unreadable_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(WatchesFileError, match=r"cannot read it .*MCP_MONITOR_WATCHES_FILE"):
        load_declared(tmp_path / "missing.yaml", [watch_service])


async def test_the_tool_refuses_to_remove_or_replace_a_file_managed_watch(tmp_path: Path) -> None:
    watch_settings_in(tmp_path)
    path = write(tmp_path, "http:\n  - name: home\n    url: https://home.test/\n    interval_s: 60\n")
    watch_service.declared = load_declared(path, [watch_service])["http"]
    try:
        await watch_service.apply_declared()
        mcp.run_background = False  # the tools only: no scheduler
        async with Client(mcp) as client:
            listed = await client.call_tool("http_watch", {"action": "list"})
            assert not listed.is_error
            (home,) = (listed.structured_content or {})["watches"]
            assert home["name"] == "home" and home["file"] == str(path.resolve())
            for arguments in (
                {"action": "remove", "name": "home"},
                {"action": "add", "name": "home", "url": "https://elsewhere.test/"},
            ):
                refused = await client.call_tool("http_watch", arguments)
                assert refused.is_error
                text = " ".join(c.text for c in refused.content if c.type == "text")
                assert f"declared in the watches file {path.resolve()}" in text, text
    finally:
        mcp.run_background = True
        watch_service.declared = None
        await watch_service.handle.close()
