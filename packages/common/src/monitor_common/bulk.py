"""The rules every `*_many` tool follows, so that a list checked by any server reads the same.

    ctx.check_targets(urls, name="urls", example='["https://example.com/"]')   empty / too many
    ctx.check_concurrency(concurrency)                                        above the server's
    row = Unchecked.refused(exc)      a malformed or policy-refused target: a row, not an error
    row = Unchecked.timed_out(why, timeout_s)    the `on_timeout` of `fanout`
    summary += held_back_note(ctx, per_host=held, rate_limit=waits)   what the limits cost

Rules:

1. The list as a whole is the caller's input: an empty list is an `InputError`, more targets
   than the server's `max_targets` a `LimitError`, a `concurrency` above the server's a
   `LimitError` (`CheckContext.check_targets` and `check_concurrency`, one message each). These
   fail the call, before anything is dialled.
2. One target is not the call: a target that does not parse (`InputError`, `TargetError`) or
   that the network policy refuses (`PolicyError`, whether it is an address refused before
   dialling or a name found to resolve to one) is a row with verdict unknown and a summary
   `unknown: not checked: <why>`, so one typo or one internal name in a list of hundreds does
   not hide the rest.
3. A target whose check runs past its timeout, or that has not finished when the call's
   deadline passes (`fanout`'s `on_timeout`), is a row with verdict unknown and the summary
   `unknown: no result: <why>`: the check could not complete, which says nothing about the target.
4. Rows that carry findings give these the codes `target_invalid`, `policy_refused` and
   `timeout`, severity unknown.
5. When the per-host concurrency limit (`fanout`'s rule 6) or the per-host rate limit held
   targets back, the call's summary says how many, by how much at most, and which setting
   raises the limit (`held_back_note`): a slow bulk call is not blamed on the targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from monitor_common.errors import InputError, PolicyError
from monitor_common.fanout import HeldBack, TimeoutReason
from monitor_common.results import Finding, Verdict
from monitor_common.targets import redact_url

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["Unchecked", "held_back_note"]

_NOTABLE_S = 0.05
"""Waits shorter than this are not worth a note: scheduling noise, not a limit that bites."""


def held_back_note(ctx: CheckContext, *, per_host: HeldBack | None, rate_limit: HeldBack | None) -> str:
    """ "; the per-host limit (4 at once) held 96 targets back, up to 2.1 s (raise ...)" and the
    same for the rate limit, for the end of a bulk call's summary; "" when neither held any (rule 5)."""
    from monitor_common.context import ENV_PER_HOST_CONCURRENCY, ENV_RATE_LIMIT_PER_HOST

    notes: list[str] = []
    if per_host is not None and per_host.longest_s >= _NOTABLE_S:
        notes.append(
            f"the per-host limit ({ctx.per_host_concurrency} at once) held {per_host.items} back, "
            f"up to {per_host.longest_s:.1f} s (raise {ENV_PER_HOST_CONCURRENCY})"
        )
    if rate_limit is not None and rate_limit.longest_s >= _NOTABLE_S:
        notes.append(
            f"the rate limit ({ctx.limiter.rate:g}/s per host) held {rate_limit.items} back, "
            f"up to {rate_limit.longest_s:.1f} s (raise {ENV_RATE_LIMIT_PER_HOST})"
        )
    return "".join(f"; {note}" for note in notes)


@dataclass(frozen=True)
class Unchecked:
    """Why a target of a bulk call has no result of its own (rules 2 and 3)."""

    code: str
    reason: str
    checked: bool = False  # False: never dialled (rule 2); True: started, did not finish (rule 3)

    verdict = Verdict.UNKNOWN

    @classmethod
    def refused(cls, exc: InputError | PolicyError) -> Unchecked:
        """A target that does not parse or that the network policy refuses (rule 2)."""
        code = "policy_refused" if isinstance(exc, PolicyError) else "target_invalid"
        return cls(code, redact_url(str(exc)))  # the message quotes the target as written

    @classmethod
    def timed_out(cls, why: TimeoutReason, timeout_s: float) -> Unchecked:
        """A check that ran past `timeout_s`, or was cut by the call's deadline (rule 3)."""
        reason = (
            "the call's deadline passed before it finished"
            if why == "deadline"
            else f"it ran past its timeout of {timeout_s:g} s"
        )
        return cls("timeout", reason, checked=True)

    @property
    def summary(self) -> str:
        """`unknown: not checked: ...` or `unknown: no result: ...`: the row's summary."""
        return f"{self.verdict.value}: {'no result' if self.checked else 'not checked'}: {self.reason}"

    def finding(self) -> Finding:
        """The row's one finding, for rows that list findings (rule 4)."""
        return Finding(severity=self.verdict, code=self.code, message=self.summary.split(": ", 1)[1])
