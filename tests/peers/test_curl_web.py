"""http_check against curl on real nginx and Caddy: the same status, redirects, final URL, version, and
phase timings that are present where curl's are, in the same order, of the same size.

Each server (tests/support/web_servers.py) is started once per session with a generated config
on free loopback ports, HTTP/2 over TLS with a certificate of the session's test CA, gzip, a
rate-limited download (nginx `limit_rate`) and a slow upstream (a Python server that sleeps
`SLOW_MS`, behind `proxy_pass` / `reverse_proxy`). curl (the system's) runs the same URL with
`-w '%{json}'`. Magnitudes are compared within bounds that hold on a loaded machine: the slow
upstream's wait must show in both first-byte times, the rate limit in both transfer times.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from http_monitor.models import HttpCheckResult
from http_monitor.probe import http_check
from monitor_common.context import CheckContext
from monitor_common.netpolicy import NetworkPolicy
from monitor_common.ratelimit import RateLimiter
from support.http_server import HttpServer, TLSFiles
from support.web_servers import LIMITED_BYTES, RATE, SLOW_MS, TEXT_BYTES, Caddy, Nginx, WebServerUnavailable

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")

CTX = CheckContext(
    policy=NetworkPolicy(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),)), limiter=RateLimiter(0)
)
Server = Nginx | Caddy
_CA_PEM: dict[Path, str] = {}  # the CA file's text, for our side (read once, not in the event loop)


@pytest.fixture(scope="session")
def slow_upstream() -> Iterator[HttpServer]:
    with HttpServer() as server:
        yield server


@pytest.fixture(scope="session", params=["nginx", "caddy"])
def web(request: pytest.FixtureRequest, http_tls: TLSFiles, slow_upstream: HttpServer) -> Iterator[Server]:
    kind = Nginx if request.param == "nginx" else Caddy
    assert isinstance(http_tls.cert_chain, bytes) and isinstance(http_tls.key, bytes)
    server = kind(cert_pem=http_tls.cert_chain, key_pem=http_tls.key, upstream=slow_upstream.url)
    try:
        server.start()
    except WebServerUnavailable as exc:
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ca_file(http_tls: TLSFiles, tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert http_tls.ca_pem is not None
    path = tmp_path_factory.mktemp("curl") / "ca.pem"
    path.write_bytes(http_tls.ca_pem)
    _CA_PEM[path] = http_tls.ca_pem.decode()
    return path


def curl(url: str, ca: Path, *extra: str, output: str = "/dev/null") -> dict[str, Any]:
    done = subprocess.run(
        [
            "curl",
            "-s",
            "-L",
            "--noproxy",
            "*",
            "--cacert",
            str(ca),
            "-o",
            output,
            "-w",
            "%{json}",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


async def ours(url: str, ca: Path) -> HttpCheckResult:
    return await http_check(url, CTX, ca_bundle_pem=_CA_PEM[ca], timeout_s=20)


@pytest.mark.parametrize(
    ("path", "tls", "redirects"),
    [("/", False, 0), ("/", True, 0), ("/r2", False, 2), ("/r2", True, 2), ("/to-https", False, 1)],
)
async def test_status_redirects_final_url_and_version_agree(
    web: Server, ca_file: Path, path: str, tls: bool, redirects: int
) -> None:
    url = web.url(path, tls=tls)
    theirs = curl(url, ca_file)
    result = await ours(url, ca_file)
    assert result.verdict == "ok", result.summary
    assert result.status_code == theirs["http_code"] == 200
    assert result.redirect_count == theirs["num_redirects"] == redirects
    assert result.final_url == theirs["url_effective"]
    assert result.http_version == {"1.1": "HTTP/1.1", "2": "HTTP/2"}[theirs["http_version"]]
    # https -> http would be a downgrade; http -> https is not, and neither is the same site.
    assert "redirect_https_downgrade" not in [f.code for f in result.findings]


@pytest.mark.parametrize("tls", [False, True])
async def test_phases_are_present_and_ordered_as_curls(web: Server, ca_file: Path, tls: bool) -> None:
    url = web.url("/", tls=tls)
    theirs = curl(url, ca_file)
    result = await ours(url, ca_file)
    t = result.timings_ms
    assert t is not None and t.connect is not None and t.tls is not None and t.ttfb is not None
    assert t.transfer is not None
    # curl's marks are cumulative: lookup <= connect <= TLS done <= request sent <= first byte <= end.
    marks = [theirs[k] for k in ("time_namelookup", "time_connect", "time_appconnect", "time_pretransfer")]
    marks += [theirs["time_starttransfer"], theirs["time_total"]]
    if not tls:
        marks.pop(2)  # time_appconnect is 0 without TLS
        assert theirs["time_appconnect"] == 0
    assert marks == sorted(marks)
    # Ours are per phase; added up they are in the same order, and every phase curl has is there.
    assert t.dns == 0.0  # an IP literal, as curl's lookup of one is ~0
    dns = t.dns or 0.0
    assert t.connect > 0 and t.ttfb > 0
    assert (t.tls > 0) is tls is (theirs["time_appconnect"] > 0)
    cumulative = [dns, dns + t.connect, dns + t.connect + t.tls, dns + t.connect + t.tls + t.ttfb]
    assert cumulative == sorted(cumulative) and cumulative[-1] <= t.total
    # Magnitudes: a loopback exchange with nothing slow in it is fast for both.
    assert t.total < 1000 and theirs["time_total"] < 1.0


async def test_a_slow_upstream_shows_in_both_first_byte_times(web: Server, ca_file: Path) -> None:
    url = web.url("/slow", tls=True)
    theirs = curl(url, ca_file)
    result = await ours(url, ca_file)
    assert result.status_code == theirs["http_code"] == 200
    t = result.timings_ms
    assert t is not None and t.ttfb is not None and t.connect is not None
    their_ttfb_ms = (theirs["time_starttransfer"] - theirs["time_pretransfer"]) * 1000
    for ttfb in (t.ttfb, their_ttfb_ms):
        assert SLOW_MS * 0.9 <= ttfb <= SLOW_MS + 3000
    # The wait is the server's, in the first-byte phase, not in connect or TLS, for both.
    assert t.connect < SLOW_MS * 0.9 and theirs["time_pretransfer"] * 1000 < SLOW_MS * 0.9


async def test_gzip_is_decoded_and_counted_like_curls(web: Server, ca_file: Path, tmp_path: Path) -> None:
    url = web.url("/text", tls=True)
    saved = tmp_path / "text"
    theirs = curl(url, ca_file, "--compressed", output=str(saved))
    result = await ours(url, ca_file)
    assert result.headers.get("content-encoding") == "gzip"
    assert result.body_bytes == saved.stat().st_size == TEXT_BYTES  # both decode it
    assert theirs["size_download"] < TEXT_BYTES / 4  # what came over the wire was compressed


async def test_a_rate_limited_body_shows_in_both_transfer_times(web: Server, ca_file: Path) -> None:
    if isinstance(web, Caddy):
        pytest.skip("the rate-limited download is nginx's limit_rate")
    url = web.url("/limited")
    theirs = curl(url, ca_file)
    result = await ours(url, ca_file)
    assert result.body_bytes == theirs["size_download"] == LIMITED_BYTES
    t = result.timings_ms
    assert t is not None and t.transfer is not None and t.ttfb is not None
    expected_ms = LIMITED_BYTES / RATE * 1000  # less the first burst nginx sends at once
    their_transfer_ms = (theirs["time_total"] - theirs["time_starttransfer"]) * 1000
    for transfer in (t.transfer, their_transfer_ms):
        assert expected_ms * 0.4 <= transfer <= expected_ms + 5000
    assert t.ttfb < expected_ms * 0.4  # the body is what is slow, not the first byte
