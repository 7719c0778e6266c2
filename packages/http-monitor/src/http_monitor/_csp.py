"""The Content-Security-Policy parser of the MDN HTTP Observatory, ported to Python.

Written by hand because the grade must be the Observatory's, and its parser has rules of its own
that a general CSP library does not share: several policies are merged (a source of a later policy
survives only where it narrows one of the first), a repeated directive makes the whole policy
invalid (but for `report-uri` / `report-to`, which only earn a warning), a policy shorter than six
characters is invalid, and a source-less `*-src` means `'none'`. Source order follows Python's
string order where the Observatory uses `Intl.Collator("en")`; they differ only on punctuation,
which changes which of two adjacent sources is dropped as superfluous, never a verdict on the
broad or unsafe sources the test looks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise
from urllib.parse import unquote

__all__ = ["DUPLICATE_KEY", "CspError", "parse_csp", "parse_csp_meta"]

DUPLICATE_KEY = "_observatory_duplicate_key_warnings"
_SHORTEST = len("img-src") - 1
_ALLOWED_DUPLICATES = frozenset({"report-uri", "report-to"})
_NOT_IN_META = ("frame-ancestors", "report-uri", "sandbox")
_WHITESPACE = re.compile(r"\s+")


class CspError(ValueError):
    """The policy cannot be parsed (too short, or a directive repeated)."""


@dataclass
class _Source:
    source: str
    index: int
    keep: bool


def _path_part_match(a: str, b: str) -> bool:
    if not a:
        return True
    if a == "/" and not b:
        return True
    exact = not a.endswith("/")
    parts_a, parts_b = a.split("/"), b.split("/")
    if len(parts_a) > len(parts_b) or (exact and len(parts_a) != len(parts_b)):
        return False
    if not exact:
        parts_a.pop()
    return all(unquote(pa) == unquote(pb) for pa, pb in zip(parts_a, parts_b, strict=False))


def parse_csp(policies: list[str]) -> dict[str, set[str]]:
    """Directive -> sources of the merged policies (lower-case); raises CspError when invalid."""
    clean = [re.sub(r"[\r\n]", "", policy).strip() for policy in policies]
    if not clean:
        return {}
    for policy in clean:
        if len(policy) < _SHORTEST:
            raise CspError(f"invalid policy: {policy!r}")
    csp: dict[str, list[_Source]] = {}
    duplicates: set[str] = set()
    for index, policy in enumerate(clean):
        seen: set[str] = set()
        for entry in policy.split(";"):
            directive, *raw = _WHITESPACE.split(entry.strip())
            if not directive:
                continue
            directive = directive.lower()
            if directive in seen:
                if directive not in _ALLOWED_DUPLICATES:
                    raise CspError(f"directive {directive} repeated in policy {index}")
                duplicates.add(directive)
            seen.add(directive)
            keep = index == 0
            values = [_Source(value.strip().lower(), index, keep) for value in raw]
            if not raw and directive.endswith("-src"):
                values = [_Source("'none'", index, keep)]
            combined = values if index == 0 else [*csp.get(directive, []), *values]
            combined.sort(key=lambda item: item.source)
            for prev, source in pairwise(combined):
                # Within one policy a longer source under a shorter one adds nothing; across
                # policies a later source that narrows an earlier one is what is enforced.
                if source.index == prev.index and source.source.startswith(prev.source):
                    source.keep = False
                if source.index != prev.index and _path_part_match(prev.source, source.source):
                    source.keep = True
            csp[directive] = [source for source in combined if source.keep]
            if index == 0 and len(policies) > 1:
                for source in csp[directive]:
                    source.keep = False
    merged = {
        directive: {s.source for s in sources} if sources else {"'none'"}
        for directive, sources in csp.items()
    }
    if duplicates:
        merged[DUPLICATE_KEY] = duplicates
    return merged


def parse_csp_meta(policies: list[str]) -> dict[str, set[str]]:
    """As `parse_csp`, without the directives a `<meta http-equiv>` policy may not set."""
    merged = parse_csp(policies)
    for directive in _NOT_IN_META:
        merged.pop(directive, None)
    return merged
