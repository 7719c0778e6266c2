"""The badges: valid SVG, the value on the colour of its state or uptime level, text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from monitor_common.web.badges import state_badge, uptime_badge

SVG = "{http://www.w3.org/2000/svg}"


def parts(svg: str) -> tuple[str, str, list[str]]:
    """(label colour, value colour, texts) of a badge."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and int(root.attrib["height"]) == 20
    left, right, _ = root.findall(f"{SVG}g/{SVG}rect")
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    return left.attrib["fill"], right.attrib["fill"], texts


@pytest.mark.parametrize(
    ("state", "colour"),
    [
        ("up", "#4c1"),
        ("down", "#e05d44"),
        ("degraded", "#dfb317"),
        ("unknown", "#9f9f9f"),
        ("paused", "#007ec6"),
    ],
)
def test_state_badge_colour(state: str, colour: str) -> None:
    label, value, texts = parts(state_badge("api", state))  # type: ignore[arg-type]
    assert (label, value) == ("#555", colour)
    assert texts == ["api", "api", state, state]  # shadow and text of each half


@pytest.mark.parametrize(
    ("percent", "shown", "colour"),
    [
        (100.0, "100%", "#4c1"),
        (99.95, "99.95%", "#4c1"),
        (99.5, "99.50%", "#97ca00"),
        (98.0, "98.00%", "#a4a61d"),
        (96.0, "96.00%", "#dfb317"),
        (92.0, "92.00%", "#fe7d37"),
        (42.0, "42.00%", "#e05d44"),
        (None, "no data", "#9f9f9f"),
    ],
)
def test_uptime_badge_colour_per_level(percent: float | None, shown: str, colour: str) -> None:
    _, value, texts = parts(uptime_badge("uptime 30d", percent))
    assert value == colour and texts[2] == shown


def test_a_name_with_markup_stays_text_and_wider_text_makes_a_wider_badge() -> None:
    svg = state_badge('<a href="x">&', "up")
    _, _, texts = parts(svg)
    assert texts[0] == '<a href="x">&'
    narrow = ET.fromstring(state_badge("a", "up"))
    wide = ET.fromstring(state_badge("a much longer watch name", "up"))
    assert int(wide.attrib["width"]) > int(narrow.attrib["width"]) + 100
