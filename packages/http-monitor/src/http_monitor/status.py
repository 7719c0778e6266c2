"""Expected-status specifications: `"200-399"`, `"2xx,301,404"`."""

from __future__ import annotations

from dataclasses import dataclass

from monitor_common.errors import InputError

__all__ = ["StatusSpec", "parse_status_spec"]


@dataclass(frozen=True)
class StatusSpec:
    """A set of status codes, kept as inclusive ranges, with the text it was parsed from."""

    text: str
    ranges: tuple[tuple[int, int], ...]

    def __contains__(self, status: object) -> bool:
        return isinstance(status, int) and any(lo <= status <= hi for lo, hi in self.ranges)


def parse_status_spec(text: str) -> StatusSpec:
    """Parse a comma-separated list of codes (`404`), classes (`2xx`) and ranges (`200-299`)."""
    ranges: list[tuple[int, int]] = []
    for raw in text.split(","):
        part = raw.strip().lower()
        if not part:
            continue
        if len(part) == 3 and part.endswith("xx") and part[0] in "12345":
            base = int(part[0]) * 100
            ranges.append((base, base + 99))
            continue
        lo_text, sep, hi_text = part.partition("-")
        try:
            lo = int(lo_text)
            hi = int(hi_text) if sep else lo
        except ValueError:
            raise InputError(
                f"expect_status part {raw.strip()!r} is not a status code, class or range: "
                'use e.g. "200-399" or "2xx,301,404"'
            ) from None
        if not (100 <= lo <= hi <= 599):
            raise InputError(
                f"expect_status part {raw.strip()!r} must lie within 100-599 with the low end first, e.g. 200-299"
            )
        ranges.append((lo, hi))
    if not ranges:
        raise InputError('expect_status is empty: use e.g. "200-399" or "2xx,301,404"')
    return StatusSpec(text=text, ranges=tuple(ranges))
