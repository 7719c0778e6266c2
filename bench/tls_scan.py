"""tls_scan against sslyze: one full scan of one local endpoint with a wide legacy suite list.

    uv run python bench/tls_scan.py [--runs 3]

The endpoint is GnuTLS's gnutls-serv on loopback with an RSA certificate and a priority string
that accepts TLS 1.0 to 1.3 and some sixty suites (3DES, RC4, CAMELLIA, CCM, static RSA, DHE,
ECDHE, ChaCha20; no CAMELLIA-GCM or ARIA, which sslyze's OpenSSL cannot offer). Both run in the same
run, alternating, each as it is used: tls_scan as a `tools/call` to a running mcp-ssl-monitor
over stdio (the server a host keeps open; the first call, which loads the scanner, is a warm-up
left out), and sslyze as the command a user runs, `python -m sslyze` from its own venv (see
tests/support/sslyze.py) with the scan commands that cover what tls_scan reports (SSLv3 to TLS
1.3 suites, elliptic curves), its process start included. For a like-for-like reading the
one-shot `mcp-ssl-monitor call tls_scan` (process start included) is timed too.

tls_scan runs with the per-host rate limit off (MCP_MONITOR_RATE_LIMIT_PER_HOST=0, as sslyze
has none); a scan of this size at the default limit of 10 connections a second takes about its
connection count divided by 10 (timed once too). Prints the median of each, the ratios to sslyze
(target: at most 0.5 for the served call) and whether the accepted versions, suites and curves
agree.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.certs import CertAuthority  # pyright: ignore[reportMissingImports] - tests/ is put on sys.path above
from support.sslyze import install  # pyright: ignore[reportMissingImports]
from support.sslyze import scan as sslyze_scan  # pyright: ignore[reportMissingImports]
from support.stdio_lines import StdioServer  # pyright: ignore[reportMissingImports]
from support.tls_daemons import gnutls_serv  # pyright: ignore[reportMissingImports]

PRIORITY = (
    "NORMAL:+VERS-TLS1.1:+VERS-TLS1.0:+3DES-CBC:+CAMELLIA-128-CBC:+CAMELLIA-256-CBC:+ARCFOUR-128"
    ":+RSA:+DHE-RSA:+AES-128-CCM:+AES-256-CCM:+SHA256:+SHA384:+SHA1:+MD5:%SERVER_PRECEDENCE"
)


def _served(server: StdioServer, port: int, call_id: int) -> tuple[float, dict[str, object]]:
    request = {"jsonrpc": "2.0", "id": call_id, "method": "tools/call",
               "params": {"name": "tls_scan", "arguments": {"host": "127.0.0.1", "port": port, "timeout_s": 60}}}  # fmt: skip
    started = time.perf_counter()
    server.send(json.dumps(request).encode())
    while True:
        answer = server.receive(timeout=120)
        if answer.get("id") == call_id:
            break
    elapsed = time.perf_counter() - started
    return elapsed, answer["result"]["structuredContent"]


def _ours(port: int, rate_limit: int | None) -> tuple[float, dict[str, object]]:
    env = {**os.environ, "MCP_MONITOR_ALLOW_NETWORKS": "127.0.0.0/8"}
    if rate_limit is not None:
        env["MCP_MONITOR_RATE_LIMIT_PER_HOST"] = str(rate_limit)
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ssl_monitor",
            "call",
            "tls_scan",
            "host=127.0.0.1",
            f"port={port}",
            "timeout_s=60",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1, 2):
        raise RuntimeError(f"tls_scan failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, json.loads(done.stdout)


def _sets(result: dict[str, object]) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    protocols = result["protocols"]
    groups = result["groups"]
    assert isinstance(protocols, list) and isinstance(groups, list)
    suites = {p["version"]: frozenset(p["ciphers"]) for p in protocols if p["state"] == "enabled"}  # pyright: ignore[reportUnknownVariableType]
    curves = frozenset(g["name"] for g in groups if g["kind"] == "ec")  # pyright: ignore[reportUnknownVariableType]
    return suites, curves  # pyright: ignore[reportUnknownVariableType]


def main() -> None:
    parser = argparse.ArgumentParser(description="tls_scan against sslyze on one local endpoint")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    install()
    directory = Path(tempfile.mkdtemp(prefix="bench-tls-scan-"))
    leaf = CertAuthority().valid(key_type="rsa")
    times: dict[str, list[float]] = {"tls_scan (served)": [], "tls_scan (one-shot CLI)": [], "sslyze": []}
    env = {"MCP_MONITOR_ALLOW_NETWORKS": "127.0.0.0/8", "MCP_MONITOR_RATE_LIMIT_PER_HOST": "0"}
    with gnutls_serv(directory, leaf, PRIORITY) as port, StdioServer.started("ssl_monitor", env) as server:
        _served(server, port, 1)  # warm-up: loads the scanner
        ours_result: dict[str, object] = {}
        theirs = None
        for run in range(args.runs):
            elapsed, ours_result = _served(server, port, 2 + run)
            times["tls_scan (served)"].append(elapsed)
            started = time.perf_counter()
            theirs = sslyze_scan(port, directory)
            times["sslyze"].append(time.perf_counter() - started)
            times["tls_scan (one-shot CLI)"].append(_ours(port, 0)[0])
        limited = _ours(port, None)[0]
    assert theirs is not None
    suites, curves = _sets(ours_result)
    baseline = statistics.median(times["sslyze"])
    print(
        f"endpoint: gnutls-serv, {sum(len(s) for s in suites.values())} suites over {', '.join(sorted(suites))}"
    )
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:25} median {median:6.2f} s  ratio to sslyze {median / baseline:5.2f}  ({args.runs} runs)"
        )
    same_suites = suites == theirs.suites
    print(f"accepted versions and suites agree: {same_suites}; curves agree: {curves == theirs.curves}")
    for version in sorted(set(suites) | set(theirs.suites)):
        mine, other = suites.get(version, frozenset()), theirs.suites.get(version, frozenset())
        if mine != other:
            print(f"  {version}: only tls_scan {sorted(mine - other)}; only sslyze {sorted(other - mine)}")
    print(f"tls_scan at the default rate limit (10/s), one-shot CLI, once: {limited:.2f} s")
    ratio = statistics.median(times["tls_scan (served)"]) / baseline
    print(f"target (same sets, at most 0.5x sslyze): {'met' if same_suites and ratio <= 0.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
