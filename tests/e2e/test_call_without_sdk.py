"""`call` and `tools` run from the tool declarations: the MCP SDK is never imported.

A cron job or monitoring agent starts a process per check; importing the SDK (and jsonschema,
through it) took longer than most checks. These runs record, at exit, which of those modules
were loaded, and assert none was - while the call still prints its result and exits as the
`call` contract says (tests/e2e/test_call_cli.py).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from support.http_server import HttpServer

from e2e.helpers import LOOPBACK_ENV, child_env

HEAVY = ("mcp", "mcp_types", "jsonschema")

PROBE = """
import atexit, sys

def loaded():
    heavy = sorted(set(m.split(".")[0] for m in sys.modules) & set({heavy!r}))
    sys.stderr.write("LOADED=" + ",".join(heavy) + "\\n")

atexit.register(loaded)
sys.argv = [{module!r}, *{args!r}]
from {module}.server import main
main()
"""


def run_probe(
    module: str, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    code = PROBE.format(heavy=HEAVY, module=module, args=list(args))
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=child_env(env),
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    marker = [line for line in done.stderr.splitlines() if line.startswith("LOADED=")]
    assert marker, done.stderr
    return done, [m for m in marker[-1].removeprefix("LOADED=").split(",") if m]


def test_call_runs_a_check_without_the_sdk(http_server: HttpServer) -> None:
    done, loaded = run_probe(
        "http_monitor", "call", "http_check", f"url={http_server.url_for('/status/204')}", env=LOOPBACK_ENV
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status_code"] == 204
    assert loaded == [], f"call imported {loaded}"


@pytest.mark.parametrize("module", ["http_monitor", "ssl_monitor", "dns_monitor"])
def test_tools_and_refusals_need_no_sdk(module: str) -> None:
    done, loaded = run_probe(module, "tools")
    assert done.returncode == 0 and done.stdout.count("\n") >= 5, done.stderr
    assert loaded == [], f"tools imported {loaded}"
    done, loaded = run_probe(module, "call", "no_such_tool")
    assert done.returncode == 64 and "Unknown tool: no_such_tool" in done.stderr
    assert loaded == [], f"call imported {loaded}"


def test_a_watch_tool_runs_without_the_sdk(tmp_path: object) -> None:
    from pathlib import Path

    db = Path(str(tmp_path)) / "watches.db"
    done, loaded = run_probe(
        "dns_monitor", "call", "dns_watch", "action=list", env={"MCP_MONITOR_DB": str(db)}
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["action"] == "list"
    assert loaded == [], f"call imported {loaded}"
