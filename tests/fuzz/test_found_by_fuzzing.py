"""The inputs that crashed a tool when the fuzz campaign first ran, kept as fixed examples.

Each escaped the tool as an exception other than a ToolError (the caller saw only "Error
executing tool X"); each now gets a ToolError saying what is wrong, or a result.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from mcp import Client
from monitor_common.config import Settings
from monitor_common.context import CheckContext
from monitor_common.errors import LimitError
from support.reliability import record

from fuzz.test_tools import _server, answer

LONG_NAME = ("a" * 62 + ".") * 3 + "a" * 52 + ".test"  # valid, but _dmarc.<it> is over 253 octets

# (server, tool, arguments, what used to escape)
FOUND: list[tuple[str, str, dict[str, Any], str]] = [
    ("http", "http_check", {"url": "http://loop.test/" + "a" * 100_000}, "httpx2.InvalidURL: URL too long"),
    ("http", "http_check_many", {"urls": ["http://loop.test/" + "é" * 50_000]}, "httpx2.InvalidURL"),
    ("http", "http_redirects", {"url": "http://loop.test/" + "a" * 100_000}, "httpx2.InvalidURL"),
    ("http", "http_security_headers", {"url": "http://loop.test/" + "a" * 100_000}, "httpx2.InvalidURL"),
    ("http", "http_timing", {"url": "http://loop.test/" + "a" * 100_000}, "httpx2.InvalidURL"),
    (
        "http",
        "http_check",
        {"url": "http://loop.test/", "ca_bundle_pem": "\u202eevil\u202c"},
        "TypeError: cadata",
    ),
    (
        "dns",
        "email_auth_check",
        {"domain": "mail.test", "dkim_selectors": ["\u202eevil\u202c"]},
        "IDNAException",
    ),
    ("dns", "email_auth_check", {"domain": "mail.test", "dkim_selectors": ["a" * 300]}, "IDNAException"),
    ("dns", "email_auth_check", {"domain": LONG_NAME}, "IDNAException: Domain too long"),
]


@pytest.mark.parametrize(("server", "tool", "arguments", "escaped"), FOUND, ids=[f[1] for f in FOUND])
async def test_found_input_gets_an_answer(
    server: str, tool: str, arguments: dict[str, Any], escaped: str, fuzz_settings: Settings
) -> None:
    mcp = _server(server)
    mcp.run_background = False
    try:
        async with Client(mcp) as client:
            outcome = await answer(client, mcp, tool, arguments)
    finally:
        mcp.run_background = True
    assert outcome in ("result", "tool_error"), escaped
    record("fuzz", f"fixed: {tool}", 1, "input", escaped=escaped)


def test_nan_timeout_is_refused() -> None:
    # JSON parsers accept NaN; it compared false to every bound and reached anyio as a deadline
    # ("deadline must not be NaN" from eight tools).
    with pytest.raises(LimitError, match="must be positive"):
        CheckContext.from_settings(Settings()).timeout(math.nan)
