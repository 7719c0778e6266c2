"""`mcp-X-monitor status --out DIR`: the status page written as static files, to publish on any
static host (GitHub Pages, a bucket), as Upptime users do.

    DIR/index.html                          the overview (latency over 24 h)
    DIR/index-7d.html, -30d, -90d           the overview with the latency of another window
    DIR/watch/<slug>.html                   each watch's page (24 h)
    DIR/badge/<slug>.svg                    its state badge
    DIR/badge/<slug>/uptime/<window>.svg    its uptime badges

`<slug>` is the name in safe characters plus a short hash of it, so names that differ only in
punctuation (URLs often are names) never share a file. Every link is relative: the folder
works from file:// and under any path prefix. Files of watches that no longer exist are left in
place only if they were there before: the export writes, it never deletes.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from monitor_common.watches.models import iso
from monitor_common.web.badges import state_badge, uptime_badge
from monitor_common.web.render import Links, render_overview, render_watch
from monitor_common.web.status import PAGE_WINDOWS, collect, collect_one

if TYPE_CHECKING:
    from monitor_common.store import Store
    from monitor_common.watches.kind import WatchKind

__all__ = ["export_status", "slug"]


def slug(name: str) -> str:
    """A file name for the watch `name`: its safe characters and 8 hex digits of its hash."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:60] or "watch"
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _links(prefix: str) -> Links:
    def home(window: str) -> str:
        return f"{prefix}index.html" if window == "24h" else f"{prefix}index-{window}.html"

    return Links(
        home=home,
        watch=lambda name: f"{prefix}watch/{quote(slug(name))}.html",
        badge=lambda name: f"{prefix}badge/{quote(slug(name))}.svg",
    )


async def export_status(
    store: Store | None, kinds: Sequence[WatchKind], out: Path, *, title: str
) -> list[Path]:
    """Write the pages and badges of every watch of `kinds` into `out`; returns the files written."""
    written: list[Path] = []

    def write(path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    from monitor_common.web.status import StatusPage

    now = time.time()
    for window in PAGE_WINDOWS:
        page = (
            await collect(store, kinds, window=window, now=now)
            if store is not None
            else StatusPage(generated_at=iso(now) or "", window=window)
        )
        name = "index.html" if window == "24h" else f"index-{window}.html"
        write(out / name, render_overview(page, _links(""), title=title))
        if window != "24h" or store is None:
            continue
        inner = _links("../")
        watch_links = Links(home=inner.home, watch=inner.watch, badge=inner.badge, windows=())
        for shown in page.watches:
            kind = next(k for k in kinds if k.kind == shown.kind)
            one = await collect_one(store, kind, shown.name, window="24h", now=now)
            if one is None:  # removed meanwhile
                continue
            file = slug(shown.name)
            write(
                out / "watch" / f"{file}.html",
                render_watch(one, watch_links, title=title, window="24h", generated_at=page.generated_at),
            )
            write(out / "badge" / f"{file}.svg", state_badge(shown.name, shown.state))
            for uptime_window, value in shown.uptime.items():
                write(
                    out / "badge" / file / "uptime" / f"{uptime_window}.svg",
                    uptime_badge(f"uptime {uptime_window}", value),
                )
    return written
