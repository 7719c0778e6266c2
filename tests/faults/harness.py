"""Running a fault x tool matrix through the in-process MCP client, and judging each answer.

A `Case` is one tool call against one misbehaving server and what its answer must say: the
finding codes (the result's own and those of its rows), optionally a phrase (the phase of a
timeout, say), and the verdicts that fit. `run` makes every call of a fault at once, in one
client session, timing each; `judge` lists what is wrong with an outcome (empty: it survived).
Then `next_calls` checks that the same session still answers normal calls.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from mcp import Client

__all__ = ["Case", "Outcome", "Tally", "judge", "run"]

NOT_OK = ("critical", "unknown", "warning")
GRACE_S = 1.0
"""How far past its timeout a tool may answer (the issue's "within its timeout plus one second")."""


@dataclass(frozen=True)
class Case:
    """One call: `tool` with `arguments` (timeout_s included) and what its result must show."""

    tool: str
    arguments: dict[str, Any]
    codes: tuple[str, ...]
    says: str = ""
    verdicts: tuple[str, ...] = ("critical",)

    @property
    def timeout(self) -> float:
        return float(self.arguments["timeout_s"])


@dataclass
class Outcome:
    case: Case
    elapsed: float
    is_error: bool
    content: dict[str, Any]
    text: str

    @property
    def codes(self) -> set[str]:
        found = {f["code"] for f in self.content.get("findings", [])}
        for key in ("rows", "results", "targets"):
            for row in self.content.get(key) or []:
                if isinstance(row, dict):
                    found |= {f["code"] for f in row.get("findings", []) if isinstance(f, dict)}  # pyright: ignore[reportUnknownVariableType]
        return found

    @property
    def overrun(self) -> float:
        return self.elapsed - self.case.timeout


async def _call(client: Client, case: Case) -> Outcome:
    started = time.perf_counter()
    result = await client.call_tool(case.tool, case.arguments)
    elapsed = time.perf_counter() - started
    content: dict[str, Any] = result.structured_content or {}
    text = " ".join(c.text for c in result.content if c.type == "text")
    return Outcome(case, elapsed, result.is_error, content, text)


async def run(client: Client, cases: list[Case]) -> list[Outcome]:
    """Every case at once (the hanging ones cost their timeout once, not once each)."""
    return list(await asyncio.gather(*(_call(client, case) for case in cases)))


def judge(outcome: Outcome) -> list[str]:
    """What is wrong with `outcome` (empty when the tool handled the fault as it should)."""
    case = outcome.case
    problems: list[str] = []
    if outcome.is_error:
        return [f"{case.tool}: a ToolError instead of a result: {outcome.text[:300]}"]
    if outcome.overrun > GRACE_S:
        problems.append(f"{case.tool}: answered after {outcome.elapsed:.2f} s (timeout {case.timeout:g} s)")
    verdict = outcome.content.get("verdict")
    if verdict not in case.verdicts:
        problems.append(f"{case.tool}: verdict {verdict!r}, expected one of {case.verdicts}")
    missing = [code for code in case.codes if code not in outcome.codes]
    if missing:
        problems.append(f"{case.tool}: codes {sorted(outcome.codes)} lack {missing}")
    if case.says and case.says not in json.dumps(outcome.content):
        problems.append(
            f"{case.tool}: the result does not say {case.says!r}: {outcome.content.get('summary')}"
        )
    return problems


@dataclass
class Tally:
    """What the campaign survived, for `support.reliability.record`."""

    cases: int = 0
    max_overrun_s: float = float("-inf")
    per_server: dict[str, int] = field(default_factory=lambda: dict[str, int]())

    def add(self, server: str, outcomes: list[Outcome]) -> None:
        self.cases += len(outcomes)
        self.per_server[server] = self.per_server.get(server, 0) + len(outcomes)
        for outcome in outcomes:
            self.max_overrun_s = max(self.max_overrun_s, outcome.overrun)
