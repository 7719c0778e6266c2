"""dns_delegation + dnssec_check against zonemaster-cli, same zones, same run.

Two zones of the tests' local tree (support/bind9.py): good.test (healthy, signed) and
fivefault.test (five faults: a lame nameserver, one without TCP, a dead one listed only at the
parent, so the NS sets differ, and expired RRSIGs). For each, best of `--rounds`:

    zonemaster   `zonemaster-cli --json --raw --no-ipv6 --hints <tree root>` (a process per run,
                 as it is used)
    ours         dns_delegation then dnssec_check, in process (as a running server answers them),
                 with the default settings' per-host rate limit, a fresh limiter per call (a server
                 idle before the call)
    ours-nolimit the same without the rate limit (every nameserver of the tree is on a few
                 loopback addresses, which the per-host limit paces as one host each), for reference

Target: ours at most a fifth of Zonemaster's time, with every fault Zonemaster finds found (by
the README's tag table, as tests/peers/test_zonemaster.py checks it).

Runs itself inside `unshare -rn` (loopback only: zonemaster-cli falls back to public servers when
the hints fail). Needs root like the integration tests, bind9, knot, nsd and zonemaster-cli.

    uv run python bench/dns_audit.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from dns_monitor.anchors import load_root_hints, load_trust_anchors  # noqa: E402
from dns_monitor.delegation import dns_delegation  # noqa: E402
from dns_monitor.dnssec import dnssec_check  # noqa: E402
from monitor_common.config import Settings  # noqa: E402
from monitor_common.context import CheckContext  # noqa: E402
from monitor_common.netpolicy import NetworkPolicy  # noqa: E402
from monitor_common.ratelimit import RateLimiter  # noqa: E402
from support.bind9 import Bind9  # noqa: E402  # pyright: ignore[reportMissingImports]
from support.sealed_tree import sealed  # noqa: E402  # pyright: ignore[reportMissingImports]

ZONES = ("good.test.", "fivefault.test.")
TARGET = 0.2
LEVELS = {"WARNING": 1, "ERROR": 2, "CRITICAL": 2}
RANK = {"ok": 0, "warning": 1, "critical": 2}
BED = {"NAMESERVER_IP_PRIVATE_NETWORK", "NAMESERVER_IP_WITHOUT_REVERSE"}


def table() -> dict[str, tuple[set[str], bool]]:
    text = (ROOT / "packages" / "dns-monitor" / "README.md").read_text()
    rows: dict[str, tuple[set[str], bool]] = {}
    for line in text.split("### Zonemaster message tags", 1)[1].split("\n\n", 2)[1].splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        for tag in re.findall(r"`([A-Z0-9_]+)`", cells[0]):
            rows[tag] = (
                set(re.findall(r"`([a-z0-9_]+)`", cells[2])),
                cells[3].startswith("severity exception"),
            )
    return rows


def zonemaster(zone: str, hints: Path) -> tuple[float, list[dict[str, Any]]]:
    started = time.perf_counter()
    done = subprocess.run(
        ["zonemaster-cli", "--json", "--raw", "--no-ipv6", "--level", "WARNING", "--hints", str(hints), zone],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    return time.perf_counter() - started, json.loads(done.stdout)


async def ours(zone: str, ctx: CheckContext, tree: Bind9) -> tuple[float, list[tuple[str, str]]]:
    hints, anchors = load_root_hints(tree.root_hints), load_trust_anchors(tree.trust_anchors)
    started = time.perf_counter()
    delegation = await dns_delegation(zone, ctx, hints=hints)
    dnssec = await dnssec_check(zone, ctx, hints=hints, anchors=anchors)
    elapsed = time.perf_counter() - started
    return elapsed, [(f.code, f.severity.value) for f in [*delegation.findings, *dnssec.findings]]


def main() -> int:
    parser = argparse.ArgumentParser(description="dns_delegation + dnssec_check against zonemaster-cli")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not sealed():
        command = (
            f"ip link set lo up && exec {sys.executable} {Path(__file__).resolve()} --rounds {args.rounds}"
        )
        return subprocess.run(["unshare", "-rn", "sh", "-c", command], check=False, env=os.environ).returncode
    policy = NetworkPolicy(allow_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    # A fresh limiter per call: a server that was idle before the call (its buckets full).
    contexts: dict[str, Callable[[], CheckContext]] = {
        "ours": lambda: CheckContext(policy=policy, limiter=RateLimiter(Settings().rate_limit_per_host)),
        "ours-nolimit": lambda: CheckContext(policy=policy, limiter=RateLimiter(0)),
    }
    rows = table()
    ok = True
    with Bind9() as tree:
        for zone in ZONES:
            times: dict[str, list[float]] = {"zonemaster": [], "ours": [], "ours-nolimit": []}
            messages: list[dict[str, Any]] = []
            found: list[tuple[str, str]] = []
            for _ in range(args.rounds):  # interleaved, so machine noise hits all alike
                elapsed, messages = zonemaster(zone, tree.root_hints)
                times["zonemaster"].append(elapsed)
                for name, make in contexts.items():
                    elapsed, found = asyncio.run(ours(zone, make(), tree))
                    times[name].append(elapsed)
            best = {name: min(values) for name, values in times.items()}
            faults = [m for m in messages if m["level"] in LEVELS and m["tag"] not in BED]
            missed = sorted(
                {
                    m["tag"]
                    for m in faults
                    if not any(
                        code in rows.get(m["tag"], (set[str](), False))[0]
                        and RANK.get(severity, 0) >= (1 if rows[m["tag"]][1] else LEVELS[m["level"]])
                        for code, severity in found
                    )
                }
            )
            ratio = best["ours"] / best["zonemaster"]
            passed = ratio <= TARGET and not missed
            ok = ok and passed
            print(f"{zone}")
            for name, value in best.items():
                print(
                    f"  {name:13s} best {value:7.3f} s, median {statistics.median(times[name]):7.3f} s, "
                    f"first {times[name][0]:7.3f} s of {args.rounds}"
                )
            print(f"  zonemaster ERROR/WARNING tags: {sorted({m['tag'] for m in faults}) or 'none'}")
            print(f"  ours: {sorted(set(found)) or 'none'}")
            print(
                f"  ours / zonemaster = {ratio:.2f}x (without the rate limit {best['ours-nolimit'] / best['zonemaster']:.2f}x;"
                f" target <= {TARGET}x), Zonemaster faults we miss: {missed or 'none'}: {'PASS' if passed else 'FAIL'}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
