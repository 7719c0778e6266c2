"""The status page as HTML: Jinja2 templates (autoescaped) and inline SVG drawn here.

Everything a reader needs is in the HTML itself: the state, uptime, incidents, the 90-day bars and
the latency charts are server-side SVG, so the page needs no JavaScript, no font and no request
besides its own (the stylesheet, shipped in the wheel as `assets/status.css`, is inlined). The
same templates write the served page and the static export; only the links differ (`Links`).
"""

# ruff: noqa: S704 - the SVG built here holds numbers and dates only; names and texts go through the autoescaping templates

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from itertools import groupby
from typing import TYPE_CHECKING

from markupsafe import Markup

from monitor_common.web.status import BAR_DAYS, PAGE_WINDOWS, Point, StatusPage, WatchStatus

if TYPE_CHECKING:
    import jinja2

__all__ = ["Links", "bar_svg", "latency_svg", "render_overview", "render_watch", "stylesheet"]

OVERVIEW_POINTS = 12  # the overview's sparklines are thinned to this many points (page weight)


@dataclass(frozen=True)
class Links:
    """Where the page's links point: the served routes or the static export's files."""

    home: Callable[[str], str]  # window -> the overview
    watch: Callable[[str], str]  # watch name -> its page
    badge: Callable[[str], str]  # watch name -> its state badge
    windows: Sequence[str] = tuple(PAGE_WINDOWS)  # the windows a watch's page offers (?window=)


@cache
def stylesheet() -> str:
    return resources.files("monitor_common.web").joinpath("assets/status.css").read_text(encoding="utf-8")


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("monitor_common.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    # Jinja2 types these dicts' values as its own Callable aliases, which pyright cannot see through.
    env.filters.update(pct=_pct, when=_when, duration=_duration)  # pyright: ignore[reportUnknownMemberType]
    env.globals.update(bar_svg=bar_svg, latency_svg=latency_svg)  # pyright: ignore[reportUnknownMemberType]
    return env


def _pct(value: float | None) -> str:
    if value is None:
        return "–"
    return "100%" if value >= 100 else f"{min(value, 99.99):.2f}%"


def _when(iso_text: str | None) -> str:
    return (iso_text or "–").replace("T", " ").replace("Z", " UTC")


def _duration(seconds: float) -> str:
    minutes = seconds / 60
    if minutes < 1:
        return f"{seconds:.0f} s"
    if minutes < 120:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def _level(percent: float | None) -> str:
    if percent is None:
        return "n"
    if percent >= 99.9:
        return "u"
    return "w" if percent >= 95 else "d"


def bar_svg(days: Sequence[float | None], *, detailed: bool = False) -> Markup:
    """The 90-day bar: one column per day, green when fully up, amber, red, grey without data.

    The overview's bar (the 8th cell of a row) is styled by its place, not by a class, and drawn
    in the proportions it is shown in (180 x 22 px), to keep each of the overview's rows small.

    Runs of days of one level are one rectangle (the gaps between days are the stylesheet's), so a
    watch that was up all along costs one path; `detailed` draws each day with its own tooltip.
    """
    up = sum(1 for d in days if d is not None and d >= 99.9)
    failing = sum(1 for d in days if d is not None and d < 99.9)
    label = f"{len(days)} days: {up} up, {failing} failing, {len(days) - up - failing} no data"
    if detailed:
        rects = "".join(
            f'<rect class="{_level(d)}" x="{i}" width=".8" height="10"><title>{_pct(d)}</title></rect>'
            for i, d in enumerate(days)
        )
        return Markup(
            f'<svg class="bar big" viewBox="0 0 {BAR_DAYS} 10" preserveAspectRatio="none" role="img" '
            f'aria-label="{label}">{rects}</svg>'
        )
    levels = [_level(d) for d in days]
    paths: dict[str, list[str]] = {}
    start = 0
    for level, run in groupby(levels):
        length = len(list(run))
        paths.setdefault(level, []).append(f"M{start} 0h{length}v11H{start}z")
        start += length
    drawn = "".join(f'<path class="{level}" d="{"".join(d)}"/>' for level, d in paths.items())
    return Markup(
        f'<span><svg viewBox="0 0 {BAR_DAYS} 11" role="img" aria-label="{label}">{drawn}</svg></span>'
    )


def _thin(points: Sequence[Point], most: int) -> list[Point]:
    if len(points) <= most:
        return list(points)
    size = len(points) / most
    thinned: list[Point] = []
    for i in range(most):
        group = points[round(i * size) : round((i + 1) * size)] or [points[-1]]
        thinned.append(
            Point(
                group[0].start,
                sum(p.mean_ms for p in group) / len(group),
                max(p.max_ms for p in group),
            )
        )
    return thinned


def latency_svg(points: Sequence[Point], *, detailed: bool = False) -> Markup:
    """The latency chart: mean per bucket (and, `detailed`, the maximum, with its scale); the
    overview's sparkline is the 7th cell of its row."""
    if not points:
        return Markup('<span class="nolat">no latency yet</span>')
    if not detailed:
        shown = _thin(points, OVERVIEW_POINTS)
        top = max(p.mean_ms for p in shown) or 1.0
        step = 120 / max(1, len(shown) - 1)
        line = " ".join(f"{i * step:.0f},{19 - 18 * p.mean_ms / top:.0f}" for i, p in enumerate(shown))
        # Decorative beside the figures of the row (the watch's page has the chart with its scale).
        return Markup(f'<svg viewBox="0 0 120 20" aria-hidden="true"><polyline points="{line}"/></svg>')
    width, height, left = 600.0, 160.0, 48.0
    top = max(p.max_ms for p in points) or 1.0
    span = max(points[-1].start - points[0].start, 1.0)

    def xy(p: Point, value: float) -> str:
        x = left + (width - left - 4) * (p.start - points[0].start) / span
        return f"{x:.1f},{height - 20 - (height - 30) * value / top:.1f}"

    mean = " ".join(xy(p, p.mean_ms) for p in points)
    peak = " ".join(xy(p, p.max_ms) for p in points)
    first = datetime.fromtimestamp(points[0].start, UTC).strftime("%Y-%m-%d %H:%M")
    last = datetime.fromtimestamp(points[-1].start, UTC).strftime("%Y-%m-%d %H:%M")
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="latency from {first} to {last} UTC, mean and maximum, up to {top:.0f} ms">'
        f'<line x1="{left}" y1="10" x2="{left}" y2="{height - 20}"/>'
        f'<line x1="{left}" y1="{height - 20}" x2="{width - 4}" y2="{height - 20}"/>'
        f'<text x="{left - 4}" y="14" text-anchor="end">{top:.0f} ms</text>'
        f'<text x="{left - 4}" y="{height - 20}" text-anchor="end">0</text>'
        f'<text x="{left}" y="{height - 4}">{first}</text>'
        f'<text x="{width - 4}" y="{height - 4}" text-anchor="end">{last} UTC</text>'
        f'<polyline class="max" points="{peak}"/><polyline class="mean" points="{mean}"/></svg>'
    )


def render_overview(page: StatusPage, links: Links, *, title: str) -> str:
    return (
        _environment()
        .get_template("overview.html")
        .render(page=page, links=links, title=title, css=Markup(stylesheet()), windows=PAGE_WINDOWS)
    )


def render_watch(watch: WatchStatus, links: Links, *, title: str, window: str, generated_at: str) -> str:
    return (
        _environment()
        .get_template("watch.html")
        .render(
            w=watch,
            links=links,
            title=title,
            window=window,
            generated_at=generated_at,
            css=Markup(stylesheet()),
            windows=PAGE_WINDOWS,
        )
    )
