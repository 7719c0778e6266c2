"""Streamable HTTP transport: bearer-token auth, DNS-rebinding protection, optional TLS.

The rules, from ARCHITECTURE.md: loopback binds may run without a token; any other bind refuses
to start unless `MCP_MONITOR_AUTH_TOKEN` is set. Host and Origin headers are validated (421 / 403)
so that a web page cannot reach a local server through a rebound DNS name. The token check runs
first and compares in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import TYPE_CHECKING

from mcp.server.transport_security import TransportSecuritySettings

from monitor_common.config import ENV_PREFIX, Settings
from monitor_common.errors import ConfigError

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from monitor_common.serve import MonitorServer

__all__ = ["BearerAuth", "build_app", "serve_http"]

logger = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BearerAuth:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan must reach the app: it starts the session manager
            await self._app(scope, receive, send)
            return
        supplied = b""
        for key, value in scope.get("headers", []):
            if key == b"authorization":
                supplied = value
                break
        if not hmac.compare_digest(supplied, self._expected):
            body = b'{"error":"unauthorized","error_description":"missing or wrong bearer token"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"www-authenticate", b'Bearer realm="mcp-monitor"'),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await self._app(scope, receive, send)


def build_app(server: MonitorServer, settings: Settings) -> ASGIApp:
    """The ASGI app for `settings`; raises ConfigError for an unsafe combination."""
    loopback = _is_loopback(settings.host)
    if not loopback and not settings.auth_token:
        raise ConfigError(
            f"refusing to serve HTTP on {settings.host}, which is not a loopback address, without a bearer "
            f"token: set {ENV_PREFIX}AUTH_TOKEN to a long random secret (or bind 127.0.0.1)"
        )
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    if not loopback and settings.host not in ("0.0.0.0", "::"):
        bind = f"[{settings.host}]" if ":" in settings.host else settings.host
        hosts.append(f"{bind}:*")
    if settings.tls_cert is not None:
        origins += ["https://127.0.0.1:*", "https://localhost:*", "https://[::1]:*"]
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts + list(settings.http_allowed_hosts),
        allowed_origins=origins + list(settings.http_allowed_origins),
    )
    app: ASGIApp = server.streamable_http_app(
        transport_security=security, host=settings.host, stateless_http=settings.http_stateless
    )
    if settings.auth_token:
        app = BearerAuth(app, settings.auth_token)
    return app


def serve_http(server: MonitorServer, settings: Settings) -> None:
    """Serve until interrupted."""
    import uvicorn

    app = build_app(server, settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        log_level=settings.log_level,
        access_log=settings.log_level in ("debug", "info"),
        log_config=None,  # keep our stderr logging; uvicorn's default config is stdout for access
        lifespan="on",
    )
    logger.info("serving streamable HTTP on %s:%s", settings.host, settings.port)
    uvicorn.Server(config).run()
