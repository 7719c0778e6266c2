"""The HTTP transport's header checks against a real server: Host and Origin matched exactly
(DNS-rebinding protection), the bearer scheme matched case-insensitively.

A rebound name reaches the server with the attacker's name in Host: a check that matched by
prefix let `127.0.0.1:PORT@evil.example` and `127.0.0.1:PORT.evil.example` through, and refused
`LOCALHOST:PORT`, which is the same host.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from e2e.helpers import run_cli
from support.mcp_http import INIT, MCP_HEADERS, Served, serving

TOKEN = "edge-token-0123456789abcdef"
AUTH = {"authorization": f"Bearer {TOKEN}"}
EXTRA = "monitor.example.com:8443"


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    env = {"MCP_MONITOR_AUTH_TOKEN": TOKEN, "MCP_MONITOR_HTTP_ALLOWED_HOSTS": EXTRA}
    with serving("dns_monitor", env=env) as running:
        yield running


def _post(served: Served, headers: dict[str, str]) -> int:
    response = httpx2.post(served.mcp_url, json=INIT, headers={**MCP_HEADERS, **headers}, timeout=30)
    return response.status_code


# (Host header, with {P} for the server's port; accepted?)
HOSTS = [
    ("127.0.0.1:{P}", True),
    ("LOCALHOST:{P}", True),
    ("LocalHost:{P}", True),
    ("[::1]:{P}", True),
    ("[0:0:0:0:0:0:0:1]:{P}", True),  # the same address, written out
    ("localhost:0{P}", True),  # the port as a number
    ("monitor.example.com:8443", True),  # MCP_MONITOR_HTTP_ALLOWED_HOSTS
    ("MONITOR.EXAMPLE.COM:08443", True),
    ("127.0.0.1:{P}@evil.example", False),
    ("127.0.0.1:{P}.evil.example", False),
    ("127.0.0.1:{P}x", False),
    ("127.0.0.1:{P}:1", False),
    ("127.0.0.1:*", False),
    ("127.0.0.1.evil.example:{P}", False),
    ("evil.example.127.0.0.1:{P}", False),
    ("localhost.:{P}", False),
    ("127.000.000.001:{P}", False),
    ("[::1]evil:{P}", False),
    ("127.0.0.1:99999", False),
    ("monitor.example.com:8443.evil.example", False),
    ("monitor.example.com.evil.example:8443", False),
    ("evil.monitor.example.com:8443", False),
    ("monitor.example.com:8444", False),
    ("monitor.example.com", False),  # port 80, not 8443
    ("", False),
]


@pytest.mark.parametrize(("host", "accepted"), HOSTS)
def test_host_header_is_matched_exactly(served: Served, host: str, accepted: bool) -> None:
    status = _post(served, {**AUTH, "host": host.replace("{P}", str(served.port))})
    assert status == (200 if accepted else 421)


def test_a_host_behind_a_tls_proxy_is_matched_as_configured() -> None:
    # The README's set-up: the server on loopback behind a proxy that terminates TLS and passes
    # Host on. A proxy that also says X-Forwarded-Proto: https (uvicorn trusts it from loopback)
    # turned the Host without a port into port 443, and the configured name was refused (421).
    env = {"MCP_MONITOR_HTTP_ALLOWED_HOSTS": "monitor.example.com"}
    with serving("dns_monitor", env=env) as running:
        for proto in ("http", "https"):
            headers = {"host": "monitor.example.com", "x-forwarded-proto": proto}
            assert _post(running, headers) == 200, proto
        assert _post(running, {"host": "evil.example", "x-forwarded-proto": "https"}) == 421


ORIGINS = [
    ("http://127.0.0.1:{P}", True),
    ("HTTP://LOCALHOST:{P}", True),
    ("http://localhost:0{P}", True),
    ("http://localhost:{P}.evil.example", False),
    ("http://localhost:{P}@evil.example", False),
    ("http://localhost.evil.example:{P}", False),
    ("https://localhost:{P}", False),  # no TLS here, so no https origin
    ("http://evil.example", False),
    ("null", False),
    ("localhost:{P}", False),
]


@pytest.mark.parametrize(("origin", "accepted"), ORIGINS)
def test_origin_header_is_matched_exactly(served: Served, origin: str, accepted: bool) -> None:
    status = _post(served, {**AUTH, "origin": origin.replace("{P}", str(served.port))})
    assert status == (200 if accepted else 403)


def test_the_host_check_comes_before_the_body_is_read(served: Served) -> None:
    # A body that is no JSON-RPC message was answered 400 before the Host was looked at.
    response = httpx2.post(
        served.mcp_url, content=b"[1,2]", headers={**MCP_HEADERS, **AUTH, "host": "evil.example"}, timeout=30
    )
    assert response.status_code == 421


def test_an_allowed_host_that_is_not_host_and_port_refuses_to_start() -> None:
    done = run_cli(
        "dns_monitor", "serve", "--transport", "http", "--port", "1",
        "--http-allowed-hosts", "monitor.example.com:8443/x", timeout=30,
    )  # fmt: skip
    assert done.returncode == 78
    assert "monitor.example.com:8443/x" in done.stderr and "HTTP_ALLOWED_HOSTS" in done.stderr


@pytest.mark.parametrize(
    ("authorization", "accepted"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        (f"BEARER {TOKEN}", True),
        (f"bEaReR {TOKEN}", True),
        (f"Bearer  {TOKEN}", True),  # RFC 7235: 1*SP between scheme and token
        (f"Basic {TOKEN}", False),
        (f"Bearer{TOKEN}", False),
        (f"bearer {TOKEN.upper()}", False),  # the token itself is case-sensitive
        (f"bearer {TOKEN[:-1]}", False),
        (f"bearers {TOKEN}", False),
        (TOKEN, False),
    ],
)
def test_bearer_scheme_is_case_insensitive_and_the_token_is_not(
    served: Served, authorization: str, accepted: bool
) -> None:
    assert _post(served, {"authorization": authorization}) == (200 if accepted else 401)
