"""DNS bulk lookups and propagation timing against the local BIND9 hierarchy of the tests.

1. 2000 A lookups of distinct names (host0000.bulk.test ...) against one BIND9 server, three ways
   in one run, each best of `--rounds`:
     engine   the function behind the dns_lookup tool, `--concurrency` at a time
     floor    plain dnspython `dns.asyncquery.udp` in an asyncio gather, same concurrency, sending
              the same query as the engine (EDNS0 with a 1232-byte payload and the AD bit, as dig
              does); the target is measured against it
     floor-   the same without EDNS (dnspython's default query), printed for reference: part of
              the gap to it is EDNS itself (the OPT record to write and parse), not the engine
     dig -f   BIND's dig reading the same names from a file (C, sequential), for reference
   Target: engine at most 1.5x the floor.
2. dns_propagation over 10 local resolvers, one of which never answers: it must finish within
   its timeout plus 10%.

Needs root (addresses on lo, port 53) and bind9 + bind9-dnsutils, like the integration tests.

    uv run python bench/dns_bulk.py [--rounds 3] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import dns.asyncquery
import dns.flags
import dns.message
from dns_monitor.lookup import dns_lookup
from dns_monitor.propagation import dns_propagation
from monitor_common.context import CheckContext
from monitor_common.netpolicy import NetworkPolicy
from monitor_common.ratelimit import RateLimiter
from support.bind9 import ADDRESSES, BULK_NAMES, Bind9  # pyright: ignore[reportMissingImports]
from support.dns_server import DNSServer, drop, zone  # pyright: ignore[reportMissingImports]

SERVER = ADDRESSES["ns1"]
# The engine's speed is measured: every lookup asks one local server, which the per-host rate
# limit of the default settings would hold to 10 queries per second, so this context has none.
CTX = CheckContext(
    policy=NetworkPolicy(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),)), limiter=RateLimiter(0)
)
NAMES = [f"host{i:04d}.bulk.test." for i in range(BULK_NAMES)]
TARGET_RATIO = 1.5


async def engine(concurrency: int) -> int:
    slots = asyncio.Semaphore(concurrency)

    async def one(name: str) -> bool:
        async with slots:
            result = await dns_lookup(name, CTX, server=SERVER, timeout_s=5)
            return result.verdict == "ok" and len(result.answers) == 1

    return sum(await asyncio.gather(*(one(n) for n in NAMES)))


async def floor(concurrency: int, edns: bool = True) -> int:
    slots = asyncio.Semaphore(concurrency)

    def query(name: str) -> dns.message.Message:
        if not edns:
            return dns.message.make_query(name, "A")
        message = dns.message.make_query(name, "A", use_edns=0, payload=1232)
        message.flags |= dns.flags.AD
        return message

    async def one(name: str) -> bool:
        async with slots:
            response = await dns.asyncquery.udp(query(name), SERVER, timeout=5)
            return len(response.answer) == 1

    return sum(await asyncio.gather(*(one(n) for n in NAMES)))


async def floor_no_edns(concurrency: int) -> int:
    return await floor(concurrency, edns=False)


def dig_f(names_file: Path) -> int:
    out = subprocess.run(
        ["dig", f"@{SERVER}", "-f", str(names_file), "+noall", "+answer", "+tries=1", "+time=5"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sum(1 for line in out.splitlines() if " A " in line or "\tA\t" in line)


def timed(run: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    answered = run()
    return time.perf_counter() - started, answered


async def propagation(timeout_s: float) -> tuple[float, int, list[str]]:
    records = {("www.good.test.", "A"): ["192.0.2.10"], ("good.test.", "NS"): ["ns1.dns.test."]}
    local = [DNSServer(zone(records)).start() for _ in range(5)]
    silent = DNSServer(drop).start()
    try:
        resolvers = [ADDRESSES["resolver"], ADDRESSES["ns1"], ADDRESSES["ns2"], ADDRESSES["stale"]]
        resolvers += [f"127.0.0.1:{s.port}" for s in [*local, silent]]
        started = time.perf_counter()
        result = await dns_propagation("www.good.test", CTX, resolvers=resolvers, timeout_s=timeout_s)
        elapsed = time.perf_counter() - started
    finally:
        for server in [*local, silent]:
            server.stop()
    return elapsed, len(result.answers), [f.code for f in result.findings]


def main() -> int:
    parser = argparse.ArgumentParser(
        description="DNS bulk lookups and propagation timing against local BIND9"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=2.0, help="dns_propagation timeout_s")
    args = parser.parse_args()
    with Bind9() as _, tempfile.TemporaryDirectory() as tmp:
        names_file = Path(tmp) / "names.txt"
        names_file.write_text("".join(f"{n} A\n" for n in NAMES))
        runs: dict[str, list[tuple[float, int]]] = {"engine": [], "floor": [], "floor-": [], "dig -f": []}
        for _ in range(args.rounds):  # interleaved, so machine noise hits all of them alike
            runs["engine"].append(timed(lambda: asyncio.run(engine(args.concurrency))))
            runs["floor"].append(timed(lambda: asyncio.run(floor(args.concurrency))))
            runs["floor-"].append(timed(lambda: asyncio.run(floor_no_edns(args.concurrency))))
            runs["dig -f"].append(timed(lambda: dig_f(names_file)))
        best = {name: min(r[0] for r in results) for name, results in runs.items()}
        for name, results in runs.items():
            answered = min(r[1] for r in results)
            print(
                f"{name:8s} {len(NAMES)} lookups  best {best[name]:.3f} s  "
                f"{len(NAMES) / best[name]:8.0f} lookups/s  answered {answered}/{len(NAMES)}"
            )
        ratio = best["engine"] / best["floor"]
        print(
            f"engine / plain dnspython gather = {ratio:.2f}x (target <= {TARGET_RATIO}x, concurrency "
            f"{args.concurrency}): {'PASS' if ratio <= TARGET_RATIO else 'FAIL'}"
        )
        print(f"engine / plain gather without EDNS = {best['engine'] / best['floor-']:.2f}x (reference)")
        print(f"engine / dig -f = {best['engine'] / best['dig -f']:.2f}x (dig sequential, for reference)")
        elapsed, asked, codes = asyncio.run(propagation(args.timeout))
        limit = args.timeout * 1.1
        print(
            f"dns_propagation over 10 resolvers (1 silent) + authoritative: {elapsed:.3f} s for {asked} servers, "
            f"timeout {args.timeout:g} s, limit {limit:.2f} s: {'PASS' if elapsed <= limit else 'FAIL'}  findings {codes}"
        )
        return 0 if ratio <= TARGET_RATIO and elapsed <= limit else 1


if __name__ == "__main__":
    sys.exit(main())
