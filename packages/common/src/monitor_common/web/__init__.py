"""What the HTTP transport serves beside `/mcp`: the status page, badges and `/metrics`, all read
from the watches' store, and the same page written as static files (`status --out DIR`).

    status.py    what is shown, gathered from the store with the watch report's own pieces
    render.py    the HTML (Jinja2 templates in templates/, the stylesheet in assets/) and inline SVG
    badges.py    shields-style SVG badges
    metrics.py   the Prometheus text exposition
    app.py       the routes and their access rules
    export.py    the static export
"""

from __future__ import annotations
