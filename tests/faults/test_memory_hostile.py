"""Each server as a stdio subprocess ends 200 hostile calls of every kind within 50 MB of its idle size.

The hostile kinds are the ones a target chooses to make a fetch on the caller's behalf as large or
as long as it can: a body that never ends, one trickled a byte at a time, a megabyte of response
headers, a redirect chain a thousand hops deep, and a DNS zone whose SPF includes lead on for ever.
Each tool that meets such a server (the HTTP checks, the CRL and OCSP fetches, RDAP, SPF) gets 200
calls of each kind, ten in flight, with a short timeout. Resident memory (VmRSS) is read once the
server has made one call of each kind (imports, pools and caches exist: its idle size) and again
after all of them; VmHWM, the process's peak, is recorded with it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from support.certs import CertAuthority
from support.dns_server import DNSServer, spf_tree
from support.http_server import HttpServer, TLSFiles
from support.reliability import record

from faults.test_memory import Call

CALLS = 200
IN_FLIGHT = 10
LIMIT_MB = 50.0
T = 0.5
DRIP = "/drip/50"
SPF_DOMAIN = "bomb.test"


@dataclass(frozen=True)
class Hostile:
    """The loopback servers behind every hostile kind."""

    http: HttpServer
    """Plain HTTP: /endless, /drip/{ms}, /big-headers/{n}, /redirect/{n}."""
    revocation: dict[str, tuple[HttpServer, str]]
    """HTTPS servers whose leaf sends CRL and OCSP fetches to `http`, with the CA to trust."""
    dns: DNSServer
    """The endless SPF tree."""


@pytest.fixture(scope="module")
def hostile() -> Iterator[Hostile]:
    ca = CertAuthority()
    with HttpServer() as http, DNSServer(spf_tree(width=40)) as dns:
        leaves = {
            "crl_endless_ocsp_trickle": ca.issue_leaf(
                crl_url=http.url_for("/endless/crl"), ocsp_url=http.url_for(f"{DRIP}/ocsp")
            ),
            "crl_trickle_ocsp_endless": ca.issue_leaf(
                crl_url=http.url_for(f"{DRIP}/crl"), ocsp_url=http.url_for("/endless/ocsp")
            ),
        }
        servers = {
            kind: HttpServer(TLSFiles(cert_chain=leaf.chain_pem, key=leaf.key_pem)).start()
            for kind, leaf in leaves.items()
        }
        try:
            yield Hostile(http, {kind: (s, ca.cert_pem) for kind, s in servers.items()}, dns)
        finally:
            for server in servers.values():
                server.stop()


def http_calls(h: Hostile) -> dict[str, Call]:
    def check(path: str, **extra: Any) -> Call:
        return ("http_check", {"url": h.http.url_for(path), "timeout_s": T, **extra})

    return {
        "endless_body": check("/endless"),
        "trickled_body": check(DRIP),
        "huge_headers": check("/big-headers/1000000"),
        "deep_redirects": check("/redirect/1000", max_redirects=10),
        "deep_redirects_walk": (
            "http_redirects",
            {"url": h.http.url_for("/redirect/1000"), "max_hops": 10, "timeout_s": T},
        ),
    }


def ssl_calls(h: Hostile) -> dict[str, Call]:
    return {
        kind: (
            "cert_revocation",
            {"host": "127.0.0.1", "port": server.port, "ca_bundle_pem": ca_pem, "timeout_s": T},
        )
        for kind, (server, ca_pem) in h.revocation.items()
    }


def dns_calls(h: Hostile) -> dict[str, Call]:
    return {
        "spf_tree": (
            "email_auth_check",
            {"domain": SPF_DOMAIN, "server": f"127.0.0.1:{h.dns.port}", "timeout_s": T},
        ),
        # RDAP servers of two made-up TLDs, set in `rdap_env`.
        "rdap_endless": ("domain_expiry", {"domain": "example.endless", "timeout_s": T}),
        "rdap_trickle": ("domain_expiry", {"domain": "example.trickle", "timeout_s": T}),
    }


def rdap_env(h: Hostile) -> dict[str, str]:
    return {
        "MCP_MONITOR_RDAP_URL": f"endless={h.http.url_for('/endless/')},trickle={h.http.url_for(DRIP + '/')}"
    }


EXPECTED: dict[str, set[str]] = {
    # Under load (seen at load 8 on 2 cores), half a second may end before the body cap, the
    # header limit, the 10th hop or the SPF lookup limit is reached: the hostile server was still
    # met and the call still ended on time, which is what the memory figure needs.
    "endless_body": {"body_truncated", "timeout"},
    "trickled_body": {"timeout"},
    "huge_headers": {"http_headers_too_large", "timeout"},
    "deep_redirects": {"too_many_redirects", "timeout"},
    "deep_redirects_walk": {"too_many_redirects", "timeout"},
    "crl_endless_ocsp_trickle": {"revocation_unknown"},
    "crl_trickle_ocsp_endless": {"revocation_unknown"},
    "spf_tree": {"spf_too_many_lookups", "timeout"},
    "rdap_endless": {"rdap_unreachable"},
    "rdap_trickle": {"rdap_unreachable"},
}
"""The codes each kind's answer must carry one of: the hostile server was met, and named."""

SERVERS: dict[str, tuple[str, Callable[[Hostile], dict[str, Call]]]] = {
    "mcp-http-monitor": ("http_monitor", http_calls),
    "mcp-ssl-monitor": ("ssl_monitor", ssl_calls),
    "mcp-dns-monitor": ("dns_monitor", dns_calls),
}


async def hammer(client: Client, kinds: dict[str, Call], count: int) -> list[str]:
    """`count` calls of each kind, IN_FLIGHT at a time; what went wrong with any."""
    problems: list[str] = []
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(kind: str) -> None:
        tool, arguments = kinds[kind]
        async with gate:
            result = await client.call_tool(tool, arguments)
        codes = [f["code"] for f in (result.structured_content or {}).get("findings", [])]
        if result.is_error or not EXPECTED[kind] & set(codes):
            problems.append(f"{kind}: {tool} {arguments}: error={result.is_error} codes={codes}")

    await asyncio.gather(*(one(kind) for _ in range(count) for kind in kinds))
    return problems


def pid_of(marker: str) -> int:
    """The process whose command line holds `marker`."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                return int(entry.name)
        except OSError:
            continue
    raise AssertionError(f"no process with {marker} in its command line")


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (the peak so far) of `pid`, in MB."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


@pytest.mark.parametrize("name", sorted(SERVERS))
async def test_memory_after_200_hostile_calls_of_each_kind(name: str, hostile: Hostile) -> None:
    module, make_calls = SERVERS[name]
    marker = f"faults-memory-hostile-{uuid.uuid4().hex}"
    code = f"import sys; sys.argv = [{name!r}]; from {module}.server import main; main()"
    env = {
        **os.environ,
        "MCP_MONITOR_ALLOW_NETWORKS": "127.0.0.0/8",
        "MCP_MONITOR_AUDIT_LOG": os.devnull,
        "MCP_MONITOR_RATE_LIMIT_PER_HOST": "0",  # thousands of calls to 127.0.0.1 as fast as they go
        **rdap_env(hostile),
    }
    kinds = make_calls(hostile)
    params = StdioServerParameters(command=sys.executable, args=["-c", code, marker], env=env)
    async with Client(params) as client:
        assert not await hammer(client, kinds, 1)  # one of each: the idle size is after it
        pid = pid_of(marker)
        idle = memory_mb(pid)
        started = time.monotonic()
        problems = await hammer(client, kinds, CALLS)
        duration = time.monotonic() - started
        after = memory_mb(pid)
        tool, arguments = next(iter(kinds.values()))
        last = await client.call_tool(tool, arguments)  # and it still answers
    assert not problems, "\n".join(problems[:10])
    assert not last.is_error
    growth = after["VmRSS"] - idle["VmRSS"]
    record("faults", f"hostile_memory_growth_{name}", round(growth, 2),
           f"MB over {CALLS} calls of each of {len(kinds)} hostile kinds",
           idle_mb=round(idle["VmRSS"], 1), after_mb=round(after["VmRSS"], 1),
           peak_mb=round(after["VmHWM"], 1), seconds=round(duration, 1), kinds=",".join(kinds))  # fmt: skip
    assert growth < LIMIT_MB, (
        f"{name}: RSS grew {growth:.1f} MB over {CALLS} calls of each of {', '.join(kinds)} "
        f"({idle['VmRSS']:.1f} -> {after['VmRSS']:.1f}, peak {after['VmHWM']:.1f})"
    )
