"""Run inside a sealed network namespace: the local DNS tree, zonemaster-cli and our checks.

    unshare -rn sh -c 'ip link set lo up && exec python tests/support/sealed_tree.py ZONE...'

starts the BIND9/Knot/NSD tree of support/bind9.py (its 127.x addresses are added inside the
namespace, where nothing can route out), then for each ZONE runs `zonemaster-cli --json --raw
--hints <the tree's root>` and our `dns_delegation` and `dnssec_check` through the CLI `call`
(the server's console script, with the tree's root hints, trust anchor and loopback allowed), and
prints one JSON object: {zone: {"zonemaster": [messages], "dns_delegation": result,
"dnssec_check": result, "seconds": {"zonemaster": s, "ours": s}}}.

A tree module (support/tree_*.py) may scope settings to its own zones with `ZONEMASTER_SCOPED`:
{zone: (a Zonemaster profile, our MCP_MONITOR_* variables)}, for a check that needs a service
the tree provides (tree_asn: the origin AS zone); the profile goes to zonemaster-cli with
`--profile` and the variables to our tools, for that zone only.

Outside a namespace it refuses to run: zonemaster-cli falls back to public servers when the
hints do not answer, and no test may reach them.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.bind9 import Bind9, part_modules

ZONEMASTER_TIMEOUT_S = 300


def sealed() -> bool:
    """Whether this process has no route anywhere but loopback."""
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True, check=False)
    return routes.stdout.strip() == ""


def scoped() -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """zone -> (Zonemaster profile, our variables), from each tree module's ZONEMASTER_SCOPED."""
    found: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}
    for name in part_modules():
        found.update(getattr(importlib.import_module(name), "ZONEMASTER_SCOPED", {}))
    return found


def zonemaster(zone: str, hints: Path, level: str, profile: Path | None = None) -> list[dict[str, object]]:
    extra = ["--profile", str(profile)] if profile is not None else []
    done = subprocess.run(
        [
            "zonemaster-cli",
            "--json",
            "--raw",
            "--no-ipv6",
            "--level",
            level,
            "--hints",
            str(hints),
            *extra,
            zone,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=ZONEMASTER_TIMEOUT_S,
    )
    if not done.stdout.strip().startswith("["):
        raise RuntimeError(f"zonemaster-cli gave no JSON for {zone}: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def ours(tool: str, zone: str, env: dict[str, str]) -> dict[str, object]:
    script = Path(sys.executable).parent / "mcp-dns-monitor"
    done = subprocess.run(
        [str(script), "call", tool, f"domain={zone}"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"{tool} {zone}: {done.stdout[-1000:]} {done.stderr[-2000:]}") from None


def main(zones: list[str], level: str = "NOTICE") -> int:
    if not sealed():
        print(
            "refusing to run: this network namespace has a route out (run under unshare -rn)", file=sys.stderr
        )
        return 2
    tree = Bind9().start()
    try:
        env = {
            **os.environ,
            "MCP_MONITOR_ALLOW_NETWORKS": "127.0.0.0/8",
            "MCP_MONITOR_DNS_ROOT_HINTS": str(tree.root_hints),
            "MCP_MONITOR_DNS_TRUST_ANCHORS": str(tree.trust_anchors),
            "MCP_MONITOR_RESOLVER": "127.0.3.1",
        }
        report: dict[str, object] = {}
        scopes = scoped()
        for zone in zones:
            profile: Path | None = None
            zone_env = env
            if zone in scopes:
                settings, variables = scopes[zone]
                profile = tree.directory / f"zonemaster-profile-{zone}.json"
                profile.write_text(json.dumps(settings))
                zone_env = {**env, **variables}
            started = time.monotonic()
            messages = zonemaster(zone, tree.root_hints, level, profile)
            zonemaster_s = time.monotonic() - started
            started = time.monotonic()
            delegation = ours("dns_delegation", zone, zone_env)
            dnssec = ours("dnssec_check", zone, zone_env)
            report[zone] = {
                "zonemaster": messages,
                "dns_delegation": delegation,
                "dnssec_check": dnssec,
                "seconds": {
                    "zonemaster": round(zonemaster_s, 3),
                    "ours": round(time.monotonic() - started, 3),
                },
            }
        print(json.dumps(report))
    finally:
        tree.stop()
    return 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    level = "NOTICE"
    if arguments and arguments[0].startswith("--level="):
        level = arguments.pop(0).split("=", 1)[1]
    sys.exit(main(arguments, level))
