"""A blackbox_exporter http module as one http_check call: the translation, and each rule on real servers."""

from __future__ import annotations

from typing import Any

import pytest
from http_monitor.blackbox import module_timeout, translate
from http_monitor.models import HttpCheckResult
from http_monitor.probe import http_check
from mcp import Client
from monitor_common.context import CheckContext
from monitor_common.errors import InputError
from support.http_server import HttpServer


def codes(result: HttpCheckResult) -> list[str]:
    return [f.code for f in result.findings]


@pytest.mark.parametrize(
    ("module", "params"),
    [
        ({}, {"expect_status": "2xx"}),  # blackbox's default is 2xx, not http_check's 200-399
        ({"valid_status_codes": [200, 301]}, {"expect_status": "200,301"}),
        ({"no_follow_redirects": True}, {"expect_status": "2xx", "follow_redirects": False}),
        ({"follow_redirects": False}, {"expect_status": "2xx", "follow_redirects": False}),
        ({"preferred_ip_protocol": "ip4"}, {"expect_status": "2xx", "ip_version": "auto"}),
        (
            {"preferred_ip_protocol": "ip4", "ip_protocol_fallback": False},
            {"expect_status": "2xx", "ip_version": "4"},
        ),
        ({"ip_protocol_fallback": False}, {"expect_status": "2xx", "ip_version": "6"}),
        ({"tls_config": {"insecure_skip_verify": True}}, {"expect_status": "2xx", "verify_tls": False}),
        (
            {"method": "HEAD", "headers": {"X-Probe": "1"}},
            {"expect_status": "2xx", "method": "HEAD", "headers": {"X-Probe": "1"}},
        ),
        (
            {"prober": "http", "timeout": "5s", "http": {"valid_status_codes": [204]}},
            {"expect_status": "204"},
        ),
    ],
)
def test_a_module_maps_onto_the_checks_parameters(module: dict[str, Any], params: dict[str, Any]) -> None:
    assert translate(module).params == params


def test_versions_and_rules_are_normalized() -> None:
    module = translate(
        {
            "valid_http_versions": ["HTTP/1.1", "HTTP/2.0"],
            "fail_if_not_ssl": True,
            "fail_if_body_matches_regexp": ["error"],
            "fail_if_header_not_matches": [{"header": "X-A", "regexp": "b", "allow_missing": True}],
        }
    )
    assert module.http_versions == {"HTTP/1.1", "HTTP/2"}
    assert module.tls is True
    assert [p.source for p in module.body_forbidden] == ["error"]
    assert [(r.header, r.allow_missing, r.forbid) for r in module.header_rules] == [("X-A", True, False)]


@pytest.mark.parametrize(
    ("module", "named"),
    [
        ({"body": "{}"}, "blackbox.body is not supported: http_check sends no request body"),
        ({"bearer_token": "x"}, 'headers={"Authorization": "Bearer ..."}'),
        ({"proxy_url": "http://proxy:3128"}, "blackbox.proxy_url is not supported"),
        (
            {"tls_config": {"ca_file": "/etc/ca.pem"}},
            "pass the CA certificates themselves (PEM) as ca_bundle_pem",
        ),
        ({"fail_if_ssl": "yes"}, "blackbox.fail_if_ssl must be true or false"),
        ({"fail_if_ssl": True, "fail_if_not_ssl": True}, "both true"),
        ({"valid_status_codes": ["200"]}, "blackbox.valid_status_codes must be a list of status codes"),
        ({"valid_http_versions": ["HTTP/x"]}, "blackbox.valid_http_versions: 'HTTP/x'"),
        ({"fail_if_body_matches_regexp": ["(?=x)"]}, "blackbox.fail_if_body_matches_regexp[0]"),
        ({"fail_if_header_matches": [{"header": "X"}]}, "blackbox.fail_if_header_matches[0] must be"),
        ({"enable_http2": False}, "valid_http_versions"),
        ({"prober": "tcp"}, "tcp_check"),
        ({"fail_if_matches_regexp": ["x"]}, "blackbox.fail_if_matches_regexp is not a blackbox http option"),
    ],
)
def test_what_a_module_cannot_be_is_an_input_error_that_says_what_to_do(
    module: dict[str, Any], named: str
) -> None:
    with pytest.raises(InputError) as caught:
        translate(module)
    assert named in str(caught.value)


def test_the_module_timeout_is_read() -> None:
    assert module_timeout({"prober": "http", "timeout": "500ms"}) == 0.5
    assert module_timeout({"valid_status_codes": [200]}) is None
    with pytest.raises(InputError, match="duration"):
        module_timeout({"timeout": "soon"})


async def test_a_default_module_expects_2xx(http_server: HttpServer, ctx: CheckContext) -> None:
    url = http_server.url_for("/redirect/1")
    assert (await http_check(url, ctx=ctx, follow_redirects=False)).verdict == "ok"  # 302 is in 200-399
    result = await http_check(url, ctx=ctx, blackbox={"no_follow_redirects": True})
    assert result.verdict == "critical" and codes(result) == ["http_status_unexpected"]
    followed = await http_check(url, ctx=ctx, blackbox={})
    assert followed.verdict == "ok" and followed.status_code == 200


async def test_a_callers_value_that_disagrees_with_the_module_is_refused(
    http_server: HttpServer, ctx: CheckContext
) -> None:
    with pytest.raises(InputError, match="disagrees with the blackbox module"):
        await http_check(
            http_server.url, ctx=ctx, expect_status="200", blackbox={"valid_status_codes": [404]}
        )
    same = await http_check(
        http_server.url_for("/status/404"),
        ctx=ctx,
        expect_status="404",
        blackbox={"valid_status_codes": [404]},
    )
    assert same.verdict == "ok"


async def test_fail_if_not_ssl_and_fail_if_ssl(
    http_server: HttpServer, https_server: HttpServer, ctx: CheckContext
) -> None:
    assert https_server.ca_pem is not None
    plain = await http_check(http_server.url, ctx=ctx, blackbox={"fail_if_not_ssl": True})
    assert codes(plain) == ["http_tls_unexpected"] and "plain http" in plain.summary
    secure = await http_check(
        https_server.url, ctx=ctx, ca_bundle_pem=https_server.ca_pem.decode(), blackbox={"fail_if_ssl": True}
    )
    assert codes(secure) == ["http_tls_unexpected"] and "over TLS" in secure.summary
    fine = await http_check(
        https_server.url,
        ctx=ctx,
        ca_bundle_pem=https_server.ca_pem.decode(),
        blackbox={"fail_if_not_ssl": True},
    )
    assert fine.verdict == "ok"


async def test_valid_http_versions(
    http_server: HttpServer, https_server: HttpServer, ctx: CheckContext
) -> None:
    assert https_server.ca_pem is not None
    h2_only = {"valid_http_versions": ["HTTP/2.0"]}
    over_h1 = await http_check(http_server.url, ctx=ctx, blackbox=h2_only)
    assert codes(over_h1) == ["http_version_unexpected"] and "HTTP/1.1" in over_h1.summary
    over_h2 = await http_check(
        https_server.url, ctx=ctx, ca_bundle_pem=https_server.ca_pem.decode(), blackbox=h2_only
    )
    assert over_h2.http_version == "HTTP/2" and over_h2.verdict == "ok"


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ({"fail_if_header_matches": [{"header": "X-Cache", "regexp": "MISS"}]}, ["http_header_mismatch"]),
        ({"fail_if_header_matches": [{"header": "X-Cache", "regexp": "^HIT"}]}, []),
        ({"fail_if_header_not_matches": [{"header": "X-Cache", "regexp": "HIT"}]}, ["http_header_mismatch"]),
        ({"fail_if_header_not_matches": [{"header": "X-Cache", "regexp": "M.SS"}]}, []),
        ({"fail_if_header_not_matches": [{"header": "X-Absent", "regexp": "x"}]}, ["http_header_mismatch"]),
        ({"fail_if_header_not_matches": [{"header": "X-Absent", "regexp": "x", "allow_missing": True}]}, []),
        ({"fail_if_header_matches": [{"header": "X-Absent", "regexp": "x"}]}, ["http_header_mismatch"]),
        ({"fail_if_body_matches_regexp": ['"status":\\s*"ok"']}, ["http_body_mismatch"]),
        ({"fail_if_body_matches_regexp": ["error"]}, []),
        ({"fail_if_body_not_matches_regexp": ['"count":\\s*\\d+', "status"]}, []),
        ({"fail_if_body_not_matches_regexp": ["maintenance"]}, ["http_body_mismatch"]),
    ],
)
async def test_header_and_body_rules(
    http_server: HttpServer, ctx: CheckContext, rules: dict[str, Any], expected: list[str]
) -> None:
    url = http_server.url_for("/json?header=X-Cache:%20MISS%20from%20edge")
    result = await http_check(url, ctx=ctx, blackbox=rules)
    assert codes(result) == expected
    assert result.verdict == ("critical" if expected else "ok")
    assert any(a.what.startswith("blackbox ") for a in result.assertions)


@pytest.mark.usefixtures("allow_loopback")
async def test_one_module_is_one_tool_call_timeout_included(http_server: HttpServer) -> None:
    from http_monitor.server import mcp

    module = {
        "prober": "http",
        "timeout": "500ms",
        "http": {"valid_status_codes": [200], "fail_if_body_not_matches_regexp": ["ok"]},
    }
    async with Client(mcp) as client:
        slow = await client.call_tool("http_check", {"url": http_server.url_for("/hang"), "blackbox": module})
        up = await client.call_tool("http_check", {"url": http_server.url, "blackbox": module})
        wrong = await client.call_tool("http_check", {"url": http_server.url, "blackbox": {"body": "x"}})
    assert slow.structured_content is not None and "within 0.5 s" in slow.structured_content["summary"]
    assert up.structured_content is not None and up.structured_content["verdict"] == "ok"
    assert wrong.is_error and "blackbox.body is not supported" in " ".join(
        c.text for c in wrong.content if c.type == "text"
    )
