"""http_check through an in-process MCP client against a real loopback HTTP(S) server."""

from __future__ import annotations

from typing import Any

import pytest
from http_monitor.server import mcp
from mcp import Client
from monitor_common.config import Settings
from support.http_server import HttpServer

pytestmark = pytest.mark.usefixtures("allow_loopback")


async def call(arguments: dict[str, Any]) -> tuple[bool, dict[str, Any] | None, str]:
    async with Client(mcp) as client:
        result = await client.call_tool("http_check", arguments)
    text = " ".join(c.text for c in result.content if c.type == "text")
    return result.is_error, result.structured_content, text


async def test_up(http_server: HttpServer) -> None:
    is_error, result, _ = await call({"url": http_server.url_for("/status/200")})
    assert not is_error and result is not None
    assert result["verdict"] == "ok"
    assert result["status_code"] == 200
    assert result["remote_ip"] == "127.0.0.1"
    assert result["findings"] == []
    assert result["timings_ms"]["total"] > 0
    assert result["http_version"] == "HTTP/1.1" and result["reason"] == "OK"
    assert result["assertions"] == [
        {"what": "status", "expected": "200-399", "actual": "200", "passed": True}
    ]
    assert http_server.count("/status/200") == 1


async def test_unexpected_status_is_critical_with_finding(http_server: HttpServer) -> None:
    _, result, _ = await call({"url": http_server.url_for("/status/503")})
    assert result is not None
    assert result["verdict"] == "critical"
    assert [f["code"] for f in result["findings"]] == ["http_status_unexpected"]
    assert "503" in result["summary"]


async def test_expect_status_list(http_server: HttpServer) -> None:
    _, result, _ = await call({"url": http_server.url_for("/status/404"), "expect_status": "2xx,404"})
    assert result is not None and result["verdict"] == "ok"


async def test_redirects_are_followed(http_server: HttpServer) -> None:
    _, result, _ = await call({"url": http_server.url_for("/redirect/3")})
    assert result is not None
    assert result["verdict"] == "ok"
    assert result["redirect_count"] == 3
    assert result["final_url"].endswith("/status/200")


async def test_timeout_is_a_result(http_server: HttpServer) -> None:
    _, result, _ = await call({"url": http_server.url_for("/hang"), "timeout_s": 0.5})
    assert result is not None
    assert result["verdict"] == "critical"
    assert result["findings"][0]["code"] == "timeout"


async def test_connection_refused_is_a_result() -> None:
    import socket

    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, result, _ = await call({"url": f"http://127.0.0.1:{port}/", "timeout_s": 2})
    assert result is not None
    assert result["verdict"] == "critical"
    assert result["findings"][0]["code"] == "connect_refused"


async def test_https_with_given_ca_uses_http2(https_server: HttpServer) -> None:
    assert https_server.ca_pem is not None
    _, result, _ = await call(
        {"url": https_server.url_for("/"), "ca_bundle_pem": https_server.ca_pem.decode()}
    )
    assert result is not None
    assert result["verdict"] == "ok", result
    assert result["http_version"] == "HTTP/2"


async def test_https_untrusted_is_tls_invalid(https_server: HttpServer) -> None:
    _, result, _ = await call({"url": https_server.url_for("/")})
    assert result is not None
    assert result["verdict"] == "critical"
    assert result["findings"][0]["code"] == "tls_invalid"


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("ftp://example.com/", "ftp"),
        ("https://", "host"),
        ("http://example.com:99999/", "99999"),
    ],
)
async def test_bad_url_is_a_tool_error_naming_the_part(url: str, needle: str) -> None:
    is_error, result, text = await call({"url": url})
    assert is_error and result is None
    assert needle in text


async def test_bad_expect_status_is_a_tool_error(http_server: HttpServer) -> None:
    is_error, _, text = await call({"url": http_server.url, "expect_status": "2xx,abc"})
    assert is_error and "abc" in text
    assert http_server.count() == 0


async def test_credentials_are_not_echoed(http_server: HttpServer) -> None:
    url = http_server.url_for("/status/200").replace("http://", "http://alice:hunter2@")
    _, result, _ = await call({"url": url})
    assert result is not None
    assert "hunter2" not in str(result)


async def test_loopback_refused_by_default_policy(http_server: HttpServer) -> None:
    from monitor_common.config import set_settings

    set_settings(Settings())
    is_error, _, text = await call({"url": http_server.url_for("/")})
    assert is_error
    assert "127.0.0.1" in text and "MCP_MONITOR_ALLOW" in text
    assert http_server.count() == 0  # refused before any request reached the server


EXPECTED_TOOLS = {
    "http_check",
    "http_check_many",
    "http_timing",
    "http_check_each_ip",
    "http_redirects",
    "http_security_headers",
    "tcp_check",
}


async def test_seven_tools_each_saying_when_to_use_it() -> None:
    async with Client(mcp) as client:
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == EXPECTED_TOOLS | {"http_watch", "http_watch_report"}
    for tool in tools:
        assert tool.description and len(tool.description.splitlines()[0]) > 30
        assert tool.output_schema is not None and "verdict" in tool.output_schema["properties"]


async def test_body_cap_is_configurable(http_server: HttpServer) -> None:
    from monitor_common.config import get_settings, set_settings

    _, default, _ = await call({"url": http_server.url_for("/bytes/2000000")})
    assert default is not None and default["body_bytes"] == 1024 * 1024 and default["body_truncated"]
    set_settings(get_settings().replace(http_max_body_bytes=100))
    _, small, _ = await call({"url": http_server.url_for("/bytes/2000")})
    assert small is not None and small["body_bytes"] == 100
    assert "body_truncated" in [f["code"] for f in small["findings"]]


async def test_many_over_mcp_with_progress_and_limits(http_server: HttpServer) -> None:
    from monitor_common.config import get_settings, set_settings

    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    urls = [http_server.url_for(f"/status/{code}") for code in (200, 500, 204)]
    async with Client(mcp) as client:
        result = await client.call_tool("http_check_many", {"urls": urls}, progress_callback=on_progress)
        assert not result.is_error and result.structured_content is not None
        assert result.structured_content["rows"][0]["status_code"] == 500
        assert seen == [1, 2, 3]
        too_wide = await client.call_tool("http_check_many", {"urls": urls, "concurrency": 500})
        assert too_wide.is_error and "MCP_MONITOR_CONCURRENCY" in too_wide.content[0].text  # type: ignore[union-attr]
        set_settings(get_settings().replace(max_targets=2))
        too_many = await client.call_tool("http_check_many", {"urls": urls})
        assert too_many.is_error and "MCP_MONITOR_MAX_TARGETS" in too_many.content[0].text  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("http_timing", {"samples": 2}),
        ("http_check_each_ip", {}),
        ("http_redirects", {}),
        ("http_security_headers", {}),
    ],
)
async def test_every_url_tool_answers_over_mcp(
    http_server: HttpServer, tool: str, arguments: dict[str, Any]
) -> None:
    async with Client(mcp) as client:
        result = await client.call_tool(tool, {"url": http_server.url_for("/redirect/1"), **arguments})
        refused = await client.call_tool(tool, {"url": "http://10.9.8.7/", **arguments})
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["verdict"] in ("ok", "warning", "critical")
    assert refused.is_error and "10.9.8.7" in refused.content[0].text  # type: ignore[union-attr]


async def test_tcp_check_over_mcp(http_server: HttpServer) -> None:
    async with Client(mcp) as client:
        result = await client.call_tool(
            "tcp_check",
            {
                "host": "127.0.0.1",
                "port": http_server.port,
                "send": "GET / HTTP/1.0\r\n\r\n",
                "expect_regex": "200",
            },
        )
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["verdict"] == "ok" and result.structured_content["matched"] is True
