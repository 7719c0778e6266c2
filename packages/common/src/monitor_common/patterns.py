"""Regular expressions a caller supplies (`body_regex`, `expect_regex`): compiled once, searched
with a bound on time, never on the event loop's thread.

The engine is RE2 (`google-re2`, the bindings the RE2 authors publish). It matches in time linear
in the text, with no backtracking, so a pattern that stops a backtracking engine for minutes,
such as `(a+)+$` against thirty `a`s and a `!`, answers in microseconds with a real match or
no-match; it releases the GIL while it matches, so a search in a worker thread does not hold up
the event loop (the stdlib `re` holds the GIL: even in a thread, one such search froze the whole
process, `ping` included); and its compilation is bounded too: a counted repetition is at most
1000 and a program at most its memory budget, so no pattern of `MAX_PATTERN` characters compiles
for long. What we gave up: lookarounds, backreferences, atomic groups and possessive quantifiers,
conditionals and `\\Z` (RE2 spells it `\\z`); a pattern that uses them is refused at input with a
message that says so (`UNSUPPORTED`). `\\d`, `\\w` and `\\s` are ASCII in RE2.

The alternatives tried: `regex` with `timeout=` (and `concurrent=True` to release the GIL)
bounds a search but answers a catastrophic pattern with a timeout instead of a result, and its
compilation has no bound (`regex.compile("((a{1000}){1000}){1000}")` had not returned after
minutes when its process was killed; `a{1000000}` takes half a second, on the caller's thread); a
separate process per search can be killed at the deadline but costs a process start per check
and a helper in every bundle.

Rules:

1. `compile_pattern(source, field)` is called when the input is parsed, before anything is sent:
   a pattern that is too long, invalid or uses what RE2 lacks is an `InputError` naming `field`.
2. `search(pattern, text, within_s)` runs in a worker thread and waits at most `within_s`, the
   time the caller's deadline has left; a search that has not answered by then raises
   `PatternTooSlow`, which the engines report as a `pattern_too_slow` finding (severity unknown:
   the text was not judged). Linear is not instant: a pattern of large counted repetitions over
   a class (`[ab]*a[ab]{999}c`) takes seconds over a MiB of text.
3. A running RE2 search cannot be interrupted. One whose caller gave up finishes on its own
   thread (its cost is linear, so it does finish) and keeps its slot until then: at most
   `SLOTS` searches use a CPU at once, so such leftovers cannot pile up, and a search that finds
   no free slot before its deadline is `PatternTooSlow` too (its message says so). The thread is
   anyio's worker, which the interpreter waits for at exit: a server stopped during such a
   search exits when it ends.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

import anyio
import anyio.to_thread

from monitor_common.errors import InputError, LimitError

if TYPE_CHECKING:
    from monitor_common.results import Finding

__all__ = ["MAX_PATTERN", "SLOTS", "UNSUPPORTED", "Pattern", "PatternTooSlow", "compile_pattern", "search"]

MAX_PATTERN: Final = 1000
"""Most characters of a pattern."""

SLOTS: Final = 2
"""Most pattern searches running at once in this process, left-over ones included (rule 3)."""

UNSUPPORTED: Final = (
    "lookarounds (?=...) (?!...) (?<=...) (?<!...), backreferences \\1 and (?P=name), atomic groups "
    "(?>...), possessive quantifiers a++, conditionals, verbose mode (?x), \\Z (write \\z), and "
    "counted repetitions above {1000}"
)
"""What Python's `re` accepts and RE2 does not, as the message of rule 1 lists it."""

_slots = threading.BoundedSemaphore(SLOTS)
_NO_SLOT: Final = object()


@functools.cache
def _engine() -> tuple[Any, Any, type[Exception]]:
    """RE2's module, options and error class, imported on first use (some ms a start-up that
    checks no pattern, a `call` from cron, need not pay)."""
    import re2  # pyright: ignore[reportMissingTypeStubs]

    options = re2.Options()  # pyright: ignore[reportUnknownMemberType]
    options.log_errors = False  # RE2 would log every refused pattern on stderr
    return re2, options, cast("type[Exception]", re2.error)  # pyright: ignore[reportUnknownMemberType]


@dataclass(frozen=True)
class Pattern:
    """A caller's pattern, compiled by RE2; `source` is what the caller wrote."""

    source: str
    field: str
    regexp: Any
    """The RE2 object (the bindings have no type information)."""


class PatternTooSlow(LimitError):
    """A search of `pattern` did not answer within the time its check had left (rule 2)."""

    def __init__(self, pattern: Pattern, *, chars: int, within_s: float, no_slot: bool) -> None:
        if no_slot:
            why = f"no pattern slot came free within {within_s:.2f} s (other slow searches hold them)"
        else:
            why = f"the search over {chars} characters did not finish within {within_s:.2f} s"
        super().__init__(f"{pattern.field} /{_shown(pattern.source)}/ was not judged: {why}")
        self.pattern = pattern
        self.no_slot = no_slot

    def finding(self) -> Finding:
        """The `pattern_too_slow` finding (unknown: the text was not judged against the pattern)."""
        from monitor_common.findings import PATTERN_TOO_SLOW

        return PATTERN_TOO_SLOW.finding(str(self))


def _shown(source: str, limit: int = 120) -> str:
    return source if len(source) <= limit else source[: limit - 1] + "…"


def compile_pattern(source: str, field: str) -> Pattern:
    """`source` compiled by RE2, or an InputError that names `field` and what is wrong (rule 1)."""
    if len(source) > MAX_PATTERN:
        raise InputError(f"{field} is {len(source)} characters long; at most {MAX_PATTERN} are allowed")
    re2, options, re2_error = _engine()
    try:
        compiled = re2.compile(source, options)
    except re2_error as exc:
        reason = _reason(exc)
        try:
            # Only to tell a construct RE2 lacks from a plain syntax error; bounded like RE2's.
            re.compile(source)
        except re.error:
            raise InputError(f"{field} {source!r} is not a valid regular expression: {reason}") from None
        except (OverflowError, RecursionError):
            pass
        raise InputError(
            f"{field} {source!r} uses what this server's regular expressions (RE2, linear time) do not "
            f"support ({reason}). Not supported: {UNSUPPORTED}. Rewrite it without them, e.g. match "
            "the text itself rather than looking around it"
        ) from None
    return Pattern(source=source, field=field, regexp=compiled)


def _reason(exc: BaseException) -> str:
    detail = exc.args[0] if exc.args else exc
    return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)


def _search_in_slot(compiled: Any, text: str, until: float, started: threading.Event) -> object:
    if not _slots.acquire(timeout=max(until - time.perf_counter(), 0.0)):
        return _NO_SLOT
    started.set()
    try:
        match = compiled.search(text)
    finally:
        _slots.release()
    return None if match is None else cast("str", match.group(0))


async def search(pattern: Pattern, text: str, *, within_s: float) -> str | None:
    """The first match of `pattern` in `text` (the matched text), None for no match.

    Raises PatternTooSlow when no answer came within `within_s` seconds (rules 2 and 3).
    """
    within_s = max(within_s, 0.0)
    started = threading.Event()
    outcome: object = _NO_SLOT
    with anyio.move_on_after(within_s):
        outcome = await anyio.to_thread.run_sync(
            _search_in_slot,
            pattern.regexp,
            text,
            time.perf_counter() + within_s,
            started,
            abandon_on_cancel=True,
        )
    if outcome is _NO_SLOT:
        raise PatternTooSlow(pattern, chars=len(text), within_s=within_s, no_slot=not started.is_set())
    return cast("str | None", outcome)
