"""Cross-check tier: zonemaster-cli against dns_delegation + dnssec_check on the same zones.

Both run inside a network namespace with no route out (`unshare -rn`, loopback up), where
support/sealed_tree.py starts the BIND9/Knot/NSD tree on its 127.x addresses and runs both tools
(zonemaster-cli falls back to public servers when the hints fail: the namespace keeps it home).
The mapping from Zonemaster's message tags to our finding codes is the table in
packages/dns-monitor/README.md ("Zonemaster message tags"), read from there.
"""

from __future__ import annotations

import importlib
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.bind9 import part_modules

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "packages" / "dns-monitor" / "README.md"
HEALTHY = ["good.test", "good-knot.test", "good-nsd.test"]  # served by BIND9, Knot, NSD
FAULTS = [
    "lame.test",  # ns3 refuses the zone
    "serial.test",  # two serials
    "notcp.test",  # ns4 answers UDP only
    "nsdiff-bind9.test",  # the parent lists ns2, the zone does not
    "expired.test",  # RRSIGs expired in 2020, one nameserver
    "future.test",  # RRSIGs valid only in two hours, one nameserver
    "badds.test",  # the DS matches no key
    "oldalg.test",  # RSASHA1
    # and the fault zones of the tree's parts (tests/support/tree_*.py), each module's ZONEMASTER_FAULTS
    *(
        zone
        for name in part_modules()
        for zone in getattr(importlib.import_module(name), "ZONEMASTER_FAULTS", ())
    ),
]
# What the test tree is, not a fault of a zone: every nameserver is on loopback (a network the
# tree's policy names as its own, MCP_MONITOR_ALLOW_NETWORKS=127.0.0.0/8, which
# nameserver_address_special leaves alone), and only 127.0.22.0/24 has a reverse zone (our
# missing-PTR finding is a notice). A private address that is not loopback is a fault that maps.
BED = {"NAMESERVER_IP_PRIVATE_NETWORK", "NAMESERVER_IP_WITHOUT_REVERSE"}
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def bed(message: dict[str, Any]) -> bool:
    """Whether a Zonemaster message describes the test tree rather than the zone."""
    if message["tag"] == "NAMESERVER_IP_PRIVATE_NETWORK":
        address = str((message.get("args") or {}).get("ns_ip", ""))
        return address != "" and ipaddress.ip_address(address) in LOOPBACK
    return message["tag"] in BED


RANK = {"ok": 0, "warning": 1, "critical": 2}
REQUIRED = {"WARNING": "warning", "ERROR": "critical", "CRITICAL": "critical"}

# The sealed tree (three servers, zonemaster-cli over eleven zones) runs in the module fixture:
# 35 s at load 6, past 120 s inside a full run at load 8, so the limit is the subprocess's (900 s).
pytestmark = [pytest.mark.netns, pytest.mark.timeout(900)]


def mapping() -> dict[str, tuple[set[str], bool]]:
    """tag -> (our codes, severity exception) from the README table."""
    text = README.read_text()
    table = text.split("### Zonemaster message tags", 1)[1].split("\n\n", 2)[1]
    rows: dict[str, tuple[set[str], bool]] = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        codes = set(re.findall(r"`([a-z0-9_]+)`", cells[2]))
        for tag in re.findall(r"`([A-Z0-9_]+)`", cells[0]):
            rows[tag] = (codes, cells[3].startswith("severity exception"))
    return rows


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    for tool in ("zonemaster-cli", "unshare", "ip", "named", "knotd", "nsd"):
        if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists():
            pytest.skip(f"{tool} is not installed")
    script = ROOT / "tests" / "support" / "sealed_tree.py"
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"no network namespaces here: {probe.stderr.decode().strip()}")
    out = tmp_path_factory.mktemp("zonemaster") / "report.json"
    command = f"ip link set lo up && exec {sys.executable} {script} {' '.join(HEALTHY + FAULTS)} > {out}"
    # The tree's own TMPDIR: its BIND9 hierarchy lives in another network namespace, so it must
    # not wait for the lock the session's hierarchy (tests/support/bind9.py) holds in this one.
    private = tmp_path_factory.mktemp("zonemaster-tmp")
    done = subprocess.run(
        ["unshare", "-rn", "sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "TMPDIR": str(private)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def test_the_mapping_table_is_read() -> None:
    rows = mapping()
    assert rows["NS_FAILED"] == ({"lame_delegation", "ns_unreachable"}, False)
    assert rows["NOT_ENOUGH_NS_DEL"] == ({"single_nameserver"}, True)


@pytest.mark.parametrize("zone", HEALTHY)
def test_healthy_zone_gets_nothing_above_notice_from_either_tool(report: dict[str, Any], zone: str) -> None:
    healthy = report[zone]
    above = [m for m in healthy["zonemaster"] if m["level"] in REQUIRED and not bed(m)]
    assert above == []
    for tool in ("dns_delegation", "dnssec_check"):
        assert healthy[tool]["verdict"] == "ok", healthy[tool]["findings"]
        assert all(f["severity"] == "ok" for f in healthy[tool]["findings"])
    assert healthy["dnssec_check"]["status"] == "secure"


@pytest.mark.parametrize("zone", FAULTS)
def test_every_zonemaster_error_or_warning_is_one_of_our_findings(report: dict[str, Any], zone: str) -> None:
    rows = mapping()
    ours = [f for tool in ("dns_delegation", "dnssec_check") for f in report[zone][tool]["findings"]]
    reported = [m for m in report[zone]["zonemaster"] if m["level"] in REQUIRED and not bed(m)]
    assert reported, f"Zonemaster found no fault in {zone}: the case checks nothing"
    missing: list[str] = []
    for message in reported:
        tag = message["tag"]
        assert tag in rows, f"{zone}: Zonemaster tag {tag} ({message['level']}) is not in the README table"
        codes, exception = rows[tag]
        needed = "warning" if exception else REQUIRED[message["level"]]
        if not any(f["code"] in codes and RANK.get(f["severity"], 0) >= RANK[needed] for f in ours):
            missing.append(f"{tag} ({message['level']}) -> {sorted(codes)} at {needed}")
    assert missing == [], f"{zone}: ours {[(f['code'], f['severity']) for f in ours]}"
