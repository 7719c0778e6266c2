"""The routes the HTTP transport serves beside `/mcp`, and who may read them.

    GET /status[?window=24h|7d|30d|90d]              the status page of every watch of this server
    GET /status/{watch}[?window=...]                 one watch: its report over the window
    GET /badge/{watch}.svg                           its state, as a shields-style badge
    GET /badge/{watch}/uptime/{24h|7d|30d|90d}.svg   its uptime over a window, as a badge
    GET /metrics                                     Prometheus text exposition (`web.metrics`)

Access (`WebRoutes`): `/status` and the badges take the same bearer token as `/mcp`, or none when
`MCP_MONITOR_STATUS_PUBLIC=true`; `/metrics` takes `MCP_MONITOR_METRICS_TOKEN` when it is set,
else the same token as `/mcp`. Host and Origin are checked for every path, as for `/mcp` (the
caller wraps this in the same `RebindingGuard`). A store that cannot be read is the monitor's
own problem: 503 with the reason, never a page that shows the watches down.

What the overview shows is gathered at most once per `PAGE_TTL_S` per window (the badges share
it): the first request waits for it; after that, requests are answered from what was gathered
while a stale page is gathered anew after answering (stale-while-revalidate, one gathering at a
time). A page read by many, or a README with many badges, costs the store one read every few
seconds, and a reader waits for the store only once. /metrics and a watch's own page are always
read afresh.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote

import anyio

from monitor_common.errors import StoreError
from monitor_common.watches.models import iso
from monitor_common.web.badges import state_badge, uptime_badge
from monitor_common.web.render import Links, render_overview, render_watch
from monitor_common.web.status import PAGE_WINDOWS, StatusPage, WatchStatus, collect, collect_one

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Receive, Scope, Send

    from monitor_common.store import Store
    from monitor_common.watches.service import WatchService

__all__ = ["STATUS_PREFIXES", "WebRoutes", "served_links", "web_app"]

logger = logging.getLogger("monitor_common.web")

STATUS_PREFIXES = ("/status", "/badge/")
METRICS_PATH = "/metrics"
SVG = "image/svg+xml"
PAGE_TTL_S = 5.0
NO_STORE = {"cache-control": "no-cache"}  # revalidate: the state changes


def served_links() -> Links:
    """Links between the served routes, relative so the page works behind a proxy's prefix too."""

    def home(window: str) -> str:
        return "/status" if window == "24h" else f"/status?window={window}"

    return Links(
        home=home,
        watch=lambda name: "/status/" + quote(name, safe=""),
        badge=lambda name: "/badge/" + quote(name, safe="") + ".svg",
    )


class _Web:
    def __init__(self, services: Sequence[WatchService], title: str) -> None:
        self.services = list(services)
        self.kinds = [s.kind for s in services]
        self.title = title
        self.links = served_links()
        # window -> (when gathered, the page, its HTML once rendered)
        self._pages: dict[str, tuple[float, StatusPage, str | None]] = {}
        self._refreshing: set[str] = set()
        self._lock = anyio.Lock()

    async def _gather(self, window: str) -> tuple[StatusPage, str | None]:
        async with self._lock:  # one gathering at a time; the others wait for it
            found = self._pages.get(window)
            if found is None or time.monotonic() - found[0] > PAGE_TTL_S:
                found = (time.monotonic(), await self._page(window), None)
                self._pages[window] = found
            return found[1], found[2]

    async def _cached(self, window: str) -> tuple[StatusPage, str | None, BackgroundTask | None]:
        """The page of `window`, and the refresh to run after answering when it is stale.

        Only the first request waits for the store; later ones get what was gathered (never
        older than one TTL plus one gathering) while one of them gathers anew after answering.
        """
        from starlette.background import BackgroundTask

        found = self._pages.get(window)
        if found is None:
            page, html = await self._gather(window)
            return page, html, None
        refresh = None
        if time.monotonic() - found[0] > PAGE_TTL_S and window not in self._refreshing:
            self._refreshing.add(window)
            refresh = BackgroundTask(self._refresh, window)
        return found[1], found[2], refresh

    async def _refresh(self, window: str) -> None:
        try:
            page, _ = await self._gather(window)
            html = render_overview(page, self.links, title=self.title)
            self._pages[window] = (self._pages[window][0], page, html)
        except StoreError as exc:
            logger.warning("could not refresh the status page: %s", exc)
        finally:
            self._refreshing.discard(window)

    def _rendered(self, window: str, page: StatusPage, html: str | None) -> str:
        if html is None:
            html = render_overview(page, self.links, title=self.title)
            stamp = self._pages[window][0]
            self._pages[window] = (stamp, page, html)
        return html

    async def _store(self) -> Store | None:
        # Not created when missing: a server that never had a watch shows an empty page.
        return await self.services[0].handle.get(create=False) if self.services else None

    def _window(self, request: Request) -> str:
        from starlette.exceptions import HTTPException

        window = request.query_params.get("window", "24h")
        if window not in PAGE_WINDOWS:
            raise HTTPException(
                400, f"window={window!r} is not one of {', '.join(PAGE_WINDOWS)}: e.g. ?window=7d"
            )
        return window

    async def _page(self, window: str, *, history: bool = True) -> StatusPage:
        store = await self._store()
        if store is None:
            return StatusPage(generated_at=iso(time.time()) or "", window=window)
        try:
            return await collect(store, self.kinds, window=window, history=history)
        except StoreError:
            await self.services[0].handle.reset()
            raise

    async def status(self, request: Request) -> Response:
        from starlette.responses import HTMLResponse

        window = self._window(request)
        page, html, refresh = await self._cached(window)
        return HTMLResponse(self._rendered(window, page, html), headers=NO_STORE, background=refresh)

    async def _one(self, name: str, window: str) -> WatchStatus | None:
        store = await self._store()
        if store is None:
            return None
        for kind in self.kinds:
            found = await collect_one(store, kind, name, window=window)
            if found is not None:
                return found
        return None

    async def watch(self, request: Request) -> Response:
        from starlette.exceptions import HTTPException
        from starlette.responses import HTMLResponse

        name = request.path_params["watch"]
        window = self._window(request)
        found = await self._one(name, window)
        if found is None:
            raise HTTPException(404, f"no watch named {name!r}: /status lists them")
        html = render_watch(
            found, self.links, title=self.title, window=window, generated_at=iso(time.time()) or ""
        )
        return HTMLResponse(html, headers=NO_STORE)

    async def badge(self, request: Request) -> Response:
        from starlette.responses import Response

        name = request.path_params["watch"]
        window = request.path_params.get("window")
        if window is not None and window not in PAGE_WINDOWS:
            return Response(
                f"uptime window {window!r} is not one of {', '.join(PAGE_WINDOWS)}",
                400,
                media_type="text/plain",
            )
        page, _, refresh = await self._cached("24h")
        found = next((w for w in page.watches if w.name == name), None)
        if found is None:
            svg = state_badge(name, "unknown").replace(">unknown<", ">no such watch<")
            return Response(svg, 404, media_type=SVG, headers=NO_STORE, background=refresh)
        if window is None:
            svg = state_badge(name, found.state)
        else:
            svg = uptime_badge(f"uptime {window}", found.uptime[window])
        return Response(svg, media_type=SVG, headers=NO_STORE, background=refresh)

    async def metrics(self, request: Request) -> Response:
        from starlette.responses import Response

        from monitor_common.web.metrics import CONTENT_TYPE, exposition

        page = await self._page("24h", history=False)
        return Response(exposition(page), media_type=CONTENT_TYPE, headers=NO_STORE)


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    from starlette.responses import PlainTextResponse

    logger.warning("the status routes could not read the store: %s", exc)
    return PlainTextResponse(f"the monitor's store is unavailable: {exc}", 503)


def web_app(services: Sequence[WatchService], *, title: str) -> Starlette:
    """The Starlette app of the routes above, for the watches of `services`."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.routing import Route

    web = _Web(services, title)
    return Starlette(
        routes=[
            Route("/status", web.status, methods=["GET", "HEAD"]),
            Route("/status/{watch:path}", web.watch, methods=["GET", "HEAD"]),
            Route("/badge/{watch:path}/uptime/{window}.svg", web.badge, methods=["GET", "HEAD"]),
            Route("/badge/{watch:path}.svg", web.badge, methods=["GET", "HEAD"]),
            Route(METRICS_PATH, web.metrics, methods=["GET", "HEAD"]),
        ],
        # zlib's default level, as Prometheus's own exporters use: Starlette's default (9) took
        # 19 ms to compress a scrape of 500 watches that level 6 compresses 1% larger in 3 ms.
        middleware=[Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6)],
        exception_handlers={StoreError: _store_unavailable},
    )


class WebRoutes:
    """ASGI dispatch: the status routes to `web` (behind `status_auth`), `/metrics` to `web` behind
    `metrics_auth`, everything else (and the lifespan) to `mcp`. Each `*_auth` wraps `web` in the
    token check it needs, or is `web` itself when that path is public."""

    def __init__(self, mcp: ASGIApp, status: ASGIApp, metrics: ASGIApp) -> None:
        self._mcp = mcp
        self._status = status
        self._metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope.get("path", "")
            if path == METRICS_PATH:
                await self._metrics(scope, receive, send)
                return
            if path == "/status" or path.startswith(("/status/", "/badge/")):
                await self._status(scope, receive, send)
                return
        await self._mcp(scope, receive, send)
