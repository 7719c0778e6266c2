"""The rules every `*_many` tool follows, so that a list checked by any server reads the same.

    ctx.check_targets(urls, name="urls", example='["https://example.com/"]')   empty / too many
    ctx.check_concurrency(concurrency)                                        above the server's
    row = Unchecked.refused(exc)      a malformed or policy-refused target: a row, not an error
    row = Unchecked.timed_out(why, timeout_s)    the `on_timeout` of `fanout`

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
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor_common.errors import InputError, PolicyError
from monitor_common.fanout import TimeoutReason
from monitor_common.results import Finding, Verdict
from monitor_common.targets import redact_url

__all__ = ["Unchecked"]


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
