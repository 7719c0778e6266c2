"""Rerun the hardening campaigns and write their figures to `docs/reliability.md`.

    uv run python scripts/reliability.py            the CI-sized campaigns, report rewritten
    uv run python scripts/reliability.py --deep     more fuzz examples (HYPOTHESIS_PROFILE=deep)
    uv run python scripts/reliability.py --stdout   print the report instead of writing it

The campaigns are ordinary test suites (tests/faults, tests/security, tests/fuzz, tests/load and
the rate-limit tests). Run here, they also record what they measured through
`tests/support/reliability.py` (one JSON line per figure, in a temporary directory named by
RELIABILITY_REPORT_DIR); this script adds the pass/fail counts from pytest's JUnit XML and renders
both. Every figure in the report comes from this run: nothing is typed in by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "reliability.md"

# campaign -> (title, what it proves); the order of the report.
CAMPAIGNS: dict[str, tuple[str, str]] = {
    "faults": (
        "Fault injection",
        "Misbehaving local servers (refused, silent, slow headers, resets, malformed and huge "
        "responses, endless bodies, redirect loops, stalled and garbage TLS, broken DNS) against "
        "every tool they apply to: each call returns within its timeout plus one second with a "
        "verdict and a finding code that names the fault, the server answers the next call, and "
        "memory stays flat over 1000 such calls, and within 50 MB of the server's idle size over "
        "200 hostile calls of each kind (endless and trickled bodies, huge headers, deep redirect "
        "chains, CRL/OCSP/RDAP fetches of those, an endless tree of SPF includes). A caller's "
        "catastrophic regular expression (`(a+)+$`, and a pattern slow even in linear time over "
        "1 MiB) in tcp_check, http_check and an http_watch does not stall the stdio server: the "
        "event-loop stall figures are the longest wait of a ping sent every 20 ms during the call.",
    ),
    "security": (
        "Network policy (SSRF)",
        "Every tool that connects, with the default configuration, refuses loopback, private, "
        "link-local, CGNAT, unique-local and unspecified addresses in every spelling, names and "
        "redirects that lead to them, a rebinding name, and the URLs fetched on the caller's behalf "
        "(MTA-STS, RDAP, CRL, OCSP). Cases with non-loopback addresses run in a network namespace "
        "with no route out. Secrets planted in the arguments of every tool and watch action (URL "
        "passwords, credential headers, a tcp_check payload, a DoH server's password) are searched "
        "for in every result, error, resource, log record and audit line.",
    ),
    "fuzz": (
        "Fuzzing",
        "Tool arguments generated from each input schema and from hostile strings, and malformed "
        "JSON-RPC over stdio and HTTP: every answer is a result or an error with a message; the "
        "process survives and answers the next request.",
    ),
    "load": (
        "HTTP transport under load",
        "Concurrent clients calling tools over streamable HTTP through the bearer token; the "
        "transport's refusals (401, 421, 413).",
    ),
    "ratelimit": (
        "Rate limits",
        "The per-target-host rate limit shared by every call of a process, bulk and single tools alike.",
    ),
}

SUITES = ["tests/faults", "tests/security", "tests/fuzz", "tests/load"]


def _suites() -> list[str]:
    """The campaign suites present in this checkout, plus every rate-limit test file."""
    paths = [suite for suite in SUITES if (ROOT / suite).exists()]
    extra = (
        p
        for pattern in ("test_ratelimit*.py", "test_rate_limit*.py")
        for p in (ROOT / "tests").rglob(pattern)
    )
    paths += sorted({str(p.relative_to(ROOT)) for p in extra} - set(paths))
    return [p for p in paths if not any(p.startswith(f"{suite}/") for suite in SUITES if suite in paths)]


def _campaign_of(classname: str) -> str:
    """`tests.faults.test_http` or `faults.test_http` -> "faults"; rate-limit files -> "ratelimit"."""
    parts = [p for p in classname.split(".") if p != "tests"]
    if any(p.replace("_", "").startswith("testratelimit") for p in parts):
        return "ratelimit"
    return parts[0] if parts else "other"


def _junit_counts(path: Path) -> dict[str, dict[str, float]]:
    counts: dict[str, dict[str, float]] = defaultdict(
        lambda: {"passed": 0, "failed": 0, "skipped": 0, "seconds": 0.0}
    )
    if not path.exists():
        return counts
    for case in ET.parse(path).getroot().iter("testcase"):
        row = counts[_campaign_of(case.get("classname", ""))]
        row["seconds"] += float(case.get("time", "0") or 0)
        if case.find("failure") is not None or case.find("error") is not None:
            row["failed"] += 1
        elif case.find("skipped") is not None:
            row["skipped"] += 1
        else:
            row["passed"] += 1
    return counts


def _records(directory: Path) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(directory.glob("*.jsonl")):
        found[path.stem] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return found


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _figure(values: list[Any], unit: str) -> str:
    """One figure, or the spread of a figure recorded several times (per case, per server...)."""
    suffix = f" {unit}" if unit else ""
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(values) == 1:
        only = values[0]
        return (_number(only) if only in numbers else str(only)) + suffix
    if len(numbers) == len(values):
        total = f", total {_number(sum(numbers))}" if all(isinstance(v, int) for v in numbers) else ""
        return (
            f"{len(values)} records: min {_number(min(numbers))}, median "
            f"{_number(statistics.median(numbers))}, max {_number(max(numbers))}{total}{suffix}"
        )
    return "; ".join(str(v) for v in values) + suffix


def _detail(detail: dict[str, Any] | None) -> str:
    if not detail:
        return ""
    return ", ".join(f"{k}={v}" for k, v in detail.items())


def render(counts: dict[str, dict[str, float]], records: dict[str, list[dict[str, Any]]], meta: str) -> str:
    lines = [
        "# Reliability report",
        "",
        "Produced by `uv run python scripts/reliability.py`, which reruns the hardening campaigns "
        "and writes this file; do not edit by hand.",
        "",
        meta,
        "",
        "| campaign | tests passed | failed | skipped | test time |",
        "|---|---:|---:|---:|---:|",
    ]
    names = [c for c in CAMPAIGNS if c in counts or c in records]
    names += sorted((set(counts) | set(records)) - set(names) - {"other"})
    for name in names:
        row = counts.get(name, {"passed": 0, "failed": 0, "skipped": 0, "seconds": 0.0})
        title = CAMPAIGNS.get(name, (name, ""))[0]
        lines.append(
            f"| {title} | {row['passed']:.0f} | {row['failed']:.0f} | {row['skipped']:.0f} | "
            f"{row['seconds']:.0f} s |"
        )
    for name in names:
        title, about = CAMPAIGNS.get(name, (name, ""))
        lines += ["", f"## {title}", ""]
        if about:
            lines += [about, ""]
        entries = records.get(name, [])
        if not entries:
            lines.append("No figures were recorded by this campaign in this run.")
            continue
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for entry in entries:
            grouped[(entry["name"], entry.get("unit", ""))].append(entry)
        lines += ["| figure | value | detail |", "|---|---|---|"]
        for (figure, unit), group in grouped.items():
            details = "; ".join(d for d in (_detail(e.get("detail")) for e in group) if d)
            if len(details) > 300:
                details = details[:297] + "..."
            cell = _figure([e["value"] for e in group], unit).replace("|", "\\|")
            details = details.replace("|", "\\|")
            lines.append(f"| {figure} | {cell} | {details} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--deep", action="store_true", help="the deep fuzz profile (many more examples)")
    parser.add_argument("--stdout", action="store_true", help="print the report instead of writing it")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args()
    suites = _suites()
    if not suites:
        print("no campaign suites found", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
        directory = Path(tmp)
        junit = directory / "junit.xml"
        env = {**os.environ, "RELIABILITY_REPORT_DIR": str(directory / "records")}
        if args.deep:
            env["HYPOTHESIS_PROFILE"] = "deep"
        command = [sys.executable, "-m", "pytest", *suites, "-q", f"--junitxml={junit}", *args.pytest_args]
        print("$", " ".join(command), file=sys.stderr)
        started = time.monotonic()
        code = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
        elapsed = time.monotonic() - started
        counts = _junit_counts(junit)
        records = _records(directory / "records")
    meta = (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {platform.system()} {platform.release()}; "
        f"{'deep' if args.deep else 'CI'} profile; pytest exit status {code}; wall time {elapsed:.0f} s."
    )
    report = render(counts, records, meta)
    if args.stdout:
        print(report)
    else:
        REPORT.parent.mkdir(exist_ok=True)
        REPORT.write_text(report)
        print(f"wrote {REPORT.relative_to(ROOT)}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
