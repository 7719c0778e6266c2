"""Figures of the hardening campaigns, collected for `docs/reliability.md`.

The campaign tests (tests/faults, tests/security, tests/fuzz, tests/load) call `record` with what
they measured: faults survived, refusals, fuzz cases, latencies, memory. Nothing is written unless
`RELIABILITY_REPORT_DIR` names a directory; `scripts/reliability.py` sets it, reruns the
campaigns and renders the report. Each record is one JSON line in `<campaign>.jsonl`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ENV = "RELIABILITY_REPORT_DIR"


def record(campaign: str, name: str, value: float | int | str, unit: str = "", **detail: object) -> None:
    """Append one figure (`name` = `value` `unit`) of `campaign`; a no-op outside a report run."""
    directory = os.environ.get(ENV)
    if not directory:
        return
    path = Path(directory) / f"{campaign}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    line = {"name": name, "value": value, "unit": unit, **({"detail": detail} if detail else {})}
    with path.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(line, default=str) + "\n")
