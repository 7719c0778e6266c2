"""`mcp-X-monitor call` and `tools` from a terminal: JSON on stdout, plugin-style exit statuses."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest
from support.certs import CertAuthority, serve_tls
from support.http_server import HttpServer

from e2e.helpers import LOOPBACK_ENV, MODULES, child_env, run_cli


@pytest.mark.parametrize("module", sorted(MODULES.values()))
def test_tools_lists_one_line_per_tool(module: str) -> None:
    done = run_cli(module, "tools")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines and all(len(line.split(None, 1)) == 2 for line in lines)


def test_call_ok_exits_0_with_json(http_server: HttpServer) -> None:
    done = run_cli(
        "http_monitor", "call", "http_check", f"url={http_server.url_for('/status/204')}", env=LOOPBACK_ENV
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["verdict"] == "ok" and result["status_code"] == 204


def test_call_critical_exits_2(http_server: HttpServer) -> None:
    done = run_cli(
        "http_monitor", "call", "http_check", f"url={http_server.url_for('/status/500')}", env=LOOPBACK_ENV
    )
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stdout)["verdict"] == "critical"


def test_call_values_parse_as_json(http_server: HttpServer) -> None:
    done = run_cli(
        "http_monitor", "call", "http_check", f"url={http_server.url_for('/status/404')}", 'expect_status="404"',
        "follow_redirects=false", "timeout_s=5", env=LOOPBACK_ENV,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_call_a_number_for_a_string_parameter_is_its_text(http_server: HttpServer) -> None:
    # expect_status=404 as a cron line writes it: the string "404", as a host would send it.
    done = run_cli(
        "http_monitor", "call", "http_check", f"url={http_server.url_for('/status/404')}", "expect_status=404",
        env=LOOPBACK_ENV,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["verdict"] == "ok"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["http_check", "url=ftp://example.com/"], "ftp"),
        (["http_check", "url"], "key=value"),
        (["http_check"], "url"),  # a required argument is missing
        (["no_such_tool"], "no_such_tool"),
        (["http_check", "url=http://example.com/", "timeout_s=600"], "timeout_s"),
    ],
)
def test_invalid_input_exits_64_with_message_on_stderr(args: list[str], needle: str) -> None:
    done = run_cli("http_monitor", "call", *args)
    assert done.returncode == 64, (done.stdout, done.stderr)
    assert needle in done.stderr
    assert done.stdout == ""


def test_policy_refusal_exits_64(http_server: HttpServer) -> None:
    done = run_cli("http_monitor", "call", "http_check", f"url={http_server.url}")
    assert done.returncode == 64
    assert "MCP_MONITOR_ALLOW" in done.stderr
    assert http_server.count() == 0


def test_bad_setting_exits_78_naming_it() -> None:
    done = run_cli("http_monitor", "tools", env={"MCP_MONITOR_TIMEOUT_S": "soon"})
    assert done.returncode == 78
    assert "MCP_MONITOR_TIMEOUT_S" in done.stderr


def test_audit_line_per_call(http_server: HttpServer, tmp_path: object) -> None:
    from pathlib import Path

    log = Path(str(tmp_path)) / "audit.jsonl"
    url = http_server.url_for("/status/200").replace("http://", "http://bob:secret@")
    done = run_cli(
        "http_monitor",
        "call",
        "http_check",
        f"url={url}",
        env={**LOOPBACK_ENV, "MCP_MONITOR_AUDIT_LOG": str(log)},
    )
    assert done.returncode == 0, done.stderr
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert (
        entry["tool"] == "http_check" and entry["verdict"] == "ok" and entry["server"] == "mcp-http-monitor"
    )
    assert "secret" not in log.read_text()


async def test_call_warning_exits_1(ca: CertAuthority) -> None:
    # The TLS server runs on this test's event loop, so the CLI runs as an async subprocess.
    leaf = ca.expiring_in(10)
    async with serve_tls(leaf.server_ssl_context()) as (_, port):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ssl_monitor", "call", "cert_check", "host=127.0.0.1", f"port={port}",
            f"ca_bundle_pem={leaf.ca_pem.decode() if isinstance(leaf.ca_pem, bytes) else leaf.ca_pem}",
            env=child_env(LOOPBACK_ENV), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1, err
    result = json.loads(out)
    assert result["verdict"] == "warning"
    assert "cert_expiring_soon" in [f["code"] for f in result["findings"]]
