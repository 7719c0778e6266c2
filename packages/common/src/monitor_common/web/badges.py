"""Shields-style SVG badges: `label | value` on two coloured halves, for READMEs.

Written by hand (about 40 lines): the maintained badge libraries measure text with a font file
and pull in an image stack, where these badges need only an estimate of the text's width in
Verdana 11 px, the font shields.io uses, which every browser has or substitutes.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from monitor_common.web.status import State

__all__ = ["STATE_COLOURS", "badge", "state_badge", "uptime_badge", "uptime_colour"]

# shields.io's named colours: brightgreen, red, yellow, lightgrey, blue.
STATE_COLOURS: dict[State, str] = {
    "up": "#4c1",
    "down": "#e05d44",
    "degraded": "#dfb317",
    "unknown": "#9f9f9f",
    "paused": "#007ec6",
}
LABEL_COLOUR = "#555"
# Uptime levels, best first: at least this percentage gets this colour (shields' scale).
UPTIME_LEVELS: tuple[tuple[float, str], ...] = (
    (99.9, "#4c1"),
    (99.0, "#97ca00"),
    (97.0, "#a4a61d"),
    (95.0, "#dfb317"),
    (90.0, "#fe7d37"),
)
NO_DATA = "#9f9f9f"

# Average advance of Verdana 11 px per character class, in px (narrow, wide, the rest).
_NARROW = frozenset("fijlrt.,:;!|'I() ")
_WIDE = frozenset("mwMW%@")


def _width(text: str) -> int:
    return round(sum(3.6 if c in _NARROW else 9.5 if c in _WIDE else 6.8 for c in text)) + 10


def badge(label: str, value: str, colour: str) -> str:
    """The SVG of a badge reading `label | value`, the value on `colour`."""
    left, right = _width(label), _width(value)
    total = left + right
    label_x, value_x = left * 5, (left + right / 2) * 10
    # Escaped for text and for attributes (the aria-label) alike.
    shown_label, shown_value = escape(label, {'"': "&quot;"}), escape(value, {'"': "&quot;"})
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{shown_label}: {shown_value}"><title>{shown_label}: {shown_value}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        '<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="{LABEL_COLOUR}"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        'text-rendering="geometricPrecision" font-size="110">'
        f'<text x="{label_x}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)">{shown_label}</text>'
        f'<text x="{label_x}" y="140" transform="scale(.1)">{shown_label}</text>'
        f'<text x="{value_x:.0f}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)">{shown_value}</text>'
        f'<text x="{value_x:.0f}" y="140" transform="scale(.1)">{shown_value}</text></g></svg>'
    )


def state_badge(label: str, state: State) -> str:
    return badge(label, state, STATE_COLOURS[state])


def uptime_colour(percent: float | None) -> str:
    if percent is None:
        return NO_DATA
    return next((colour for level, colour in UPTIME_LEVELS if percent >= level), STATE_COLOURS["down"])


def uptime_badge(label: str, percent: float | None) -> str:
    value = "no data" if percent is None else f"{percent:.2f}%".replace("100.00%", "100%")
    return badge(label, value, uptime_colour(percent))
