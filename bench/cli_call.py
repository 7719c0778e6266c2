"""`call` from cron: wall time of one `mcp-X-monitor call` process, first call to exit.

A cron job or monitoring agent starts a process per check, so what it pays is interpreter
start-up, imports and one check. One check per server, each against a local loopback target
this script starts (an HTTP server in a process of its own, a TLS endpoint and a DNS server in
threads), with the network policy widened to loopback as the tests do:

    mcp-http-monitor call http_check url=http://127.0.0.1:PORT/
    mcp-ssl-monitor  call cert_check host=127.0.0.1 port=PORT ca_bundle_pem=...
    mcp-dns-monitor  call dns_lookup name=www.bench.test server=127.0.0.1:PORT

Each is compared with `python -c "import httpx2"`, the plain-library floor (what any Python
HTTP check pays before it does anything), launched the same way, interleaved round by round so
that machine noise hits both alike. For reference, "libraries alone" is what the engines'
libraries cost before any of our code runs (pydantic with one model, the anyio loop, httpcore2),
and "plain httpx2 GET" the same request as http_check's made by a one-line httpx2 script. Every
command runs once untimed first, so that modules load
from their bytecode cache as for an installed server. Prints the median of each, the ratio to
the floor, and the targets: at most 2.5x the floor and at most 0.35 s.

    uv run python bench/cli_call.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_servers import serve, stop
from support.certs import CertAuthority  # pyright: ignore[reportMissingImports]
from support.dns_server import DNSServer, zone  # pyright: ignore[reportMissingImports]

LIBRARIES = (
    "import pydantic, httpx2, httpcore2, anyio\n"
    "class M(pydantic.BaseModel):\n    x: int\n"
    "anyio.run(anyio.sleep, 0)\n"
)
RATIO_TARGET = 2.5
SECONDS_TARGET = 0.35
# As the shell's, allowed to write .pyc files, with the policy widened to the local targets.
CHILD_ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
CHILD_ENV |= {"MCP_MONITOR_ALLOW_NETWORKS": "127.0.0.0/8,::1/128"}


def tls_endpoint(ca: CertAuthority) -> tuple[socket.socket, threading.Thread]:
    """A loopback TLS server that completes each handshake and closes; (listener, thread)."""
    context: ssl.SSLContext = ca.valid(["localhost", "127.0.0.1"]).server_ssl_context()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed: the benchmark is over
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(5)
                    tls.recv(1)  # until the client closes
            except (OSError, ssl.SSLError):
                conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return listener, thread


def time_one(command: list[str], expect: int) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=CHILD_ENV, stdin=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != expect:
        raise RuntimeError(f"{command[:5]} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    http_proc, http_port = serve(["127.0.0.1"])
    ca = CertAuthority("cli bench root")
    listener, _ = tls_endpoint(ca)
    dns = DNSServer(zone({("www.bench.test.", "A"): ["192.0.2.1"]})).start()
    py = sys.executable
    commands: dict[str, tuple[list[str], int]] = {
        'python -c "import httpx2"': ([py, "-c", "import httpx2"], 0),
        # For reference, not a target: what the engines' libraries cost before any code of ours
        # runs (a pydantic model built, the anyio event loop, httpcore2 under httpx2).
        "libraries alone": ([py, "-c", LIBRARIES], 0),
        # Also for reference: the same request made with the plain library in a script of its own,
        # what a hand-written Python check pays (httpx2 imports httpcore2, h2 and anyio only when
        # it sends something, which `import httpx2` alone never does).
        "plain httpx2 GET": (
            [py, "-c", f"import httpx2; httpx2.get('http://127.0.0.1:{http_port}/', trust_env=False)"],
            0,
        ),
        "http_check": (
            [py, "-m", "http_monitor", "call", "http_check", f"url=http://127.0.0.1:{http_port}/"],
            0,
        ),
        # The test CA's certificate expires in about a month, so the check warns (exit 1).
        "cert_check": (
            [
                py,
                "-m",
                "ssl_monitor",
                "call",
                "cert_check",
                "host=127.0.0.1",
                f"port={listener.getsockname()[1]}",
                f"ca_bundle_pem={ca.cert_pem}",
                "warn_days=1",
                "critical_days=0",
            ],
            0,
        ),
        "dns_lookup": (
            [
                py,
                "-m",
                "dns_monitor",
                "call",
                "dns_lookup",
                "name=www.bench.test",
                f"server=127.0.0.1:{dns.port}",
            ],
            0,
        ),
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    try:
        for command, expect in commands.values():
            time_one(command, expect)  # untimed: bytecode caches written, files in the page cache
        for _ in range(args.rounds):
            for name, (command, expect) in commands.items():
                times[name].append(time_one(command, expect))
    finally:
        stop(http_proc)
        listener.close()
        dns.stop()

    floor = statistics.median(times['python -c "import httpx2"'])
    print(
        f"first-call wall time, median of {args.rounds} rounds (targets: <= {RATIO_TARGET}x the floor, <= {SECONDS_TARGET} s)"
    )
    failed = False
    for name, samples in times.items():
        median = statistics.median(samples)
        ratio = median / floor
        if name.startswith("python"):
            print(f"  {name:28} {median * 1000:7.1f} ms   (the floor)")
            continue
        if name in ("libraries alone", "plain httpx2 GET"):
            print(f"  {name:28} {median * 1000:7.1f} ms   {ratio:4.2f}x the floor   (reference)")
            continue
        ok = ratio <= RATIO_TARGET and median <= SECONDS_TARGET
        failed |= not ok
        print(f"  {name:28} {median * 1000:7.1f} ms   {ratio:4.2f}x the floor   {'ok' if ok else 'MISSED'}")
    plain = statistics.median(times["plain httpx2 GET"])
    print(
        f"  http_check against the plain httpx2 GET of the same URL: {statistics.median(times['http_check']) / plain:4.2f}x"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
