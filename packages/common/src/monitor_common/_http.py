"""Streamable HTTP transport: bearer-token auth, DNS-rebinding protection, optional TLS.

The rules, from ARCHITECTURE.md: loopback binds may run without a token; any other bind refuses
to start unless `MCP_MONITOR_AUTH_TOKEN` is set, or the operator declares that only a gateway
that authenticates its users reaches the port (`MCP_MONITOR_HTTP_BEHIND_GATEWAY`, Smithery).
Host and Origin headers are matched exactly (`_rebinding`: 421 / 403) so that a web page cannot
reach a local server through a rebound DNS name (not behind a gateway, which no browser passes).
The token check runs first and compares in constant time. The query string of /mcp carries a
hosted session's settings (`session_config`): one the session may not set is 400 (`SessionQuery`). A POST body that is JSON but no
JSON-RPC message is answered -32600 here (`ProtocolErrors`); bodies over the SDK's limit (4 MiB)
get 413. A request whose head or body takes longer than 10 s to arrive gets 408 and its
connection is closed (`_deadlines`: slow clients).

Beside `/mcp`, a server with watches serves its status page, badges and `/metrics`
(`monitor_common.web`), under the same Host/Origin check and each behind its own token rule.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE, TransportSecuritySettings

from monitor_common._deadlines import REQUEST_TIMEOUT_S, BodyDeadline, head_deadline
from monitor_common._rebinding import RebindingGuard
from monitor_common.config import ENV_PREFIX, Settings
from monitor_common.errors import ConfigError

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp_types import JSONRPCError
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
    from uvicorn import Config

__all__ = ["BearerAuth", "ProtocolErrors", "SessionQuery", "build_app", "serve_http", "uvicorn_config"]

logger = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class BearerAuth:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`.

    The scheme is matched case-insensitively (RFC 7235 section 2.1: `bearer` and `BEARER` are
    `Bearer`), the token exactly and in constant time.
    """

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
        scheme, _, credentials = supplied.partition(b" ")
        if scheme.lower() == b"bearer":  # the scheme is no secret: only the token is compared
            supplied = b"Bearer " + credentials.lstrip(b" ")
        if not hmac.compare_digest(supplied, self._expected):
            body = b'{"error":"unauthorized","error_description":"missing or wrong bearer token"}'
            await _send_json(send, 401, body, (b"www-authenticate", b'Bearer realm="mcp-monitor"'))
            return
        await self._app(scope, receive, send)


async def _send_json(send: Send, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
    """Answer the request with `status` and the JSON `body` (plus `headers`), bypassing the app."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class ProtocolErrors:
    """ASGI middleware: a POST body that is JSON but not a JSON-RPC message gets -32600.

    JSON-RPC 2.0 section 5 answers an Invalid Request with -32600. The SDK answers such a body
    -32602 (invalid params), and takes a request whose id is of the wrong type (an object, a list)
    for a notification: 202 and no answer at all. Bodies that are not JSON (-32700), that are
    valid messages, or that are larger than `limit` (413) go to the SDK unchanged.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self._app = app
        self._limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self._app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more and size <= self._limit:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk: bytes = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        error = None if more else _invalid_request(body)
        if error is not None:
            await _send_json(send, 400, error.model_dump_json(by_alias=True, exclude_unset=True).encode())
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": more}

        await self._app(scope, replay, send)


class SessionQuery:
    """ASGI middleware: a request whose query string sets what its session may not, or sets it
    wrong, gets 400 with the reason (`session_config`, rules 1 and 2) before it reaches the
    server; the server applies a valid one to the request's tool calls."""

    def __init__(self, app: ASGIApp, allowed: Collection[str], settings: Settings) -> None:
        self._app = app
        self._allowed = tuple(allowed)
        self._settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mcp = scope["type"] == "http" and str(scope.get("path", "")).rstrip("/") == "/mcp"
        query = scope.get("query_string", b"") if mcp else b""
        if query:
            from monitor_common.errors import MonitorError
            from monitor_common.session_config import parse_query, session_changes

            try:
                session_changes(parse_query(query), self._allowed, self._settings)
            except MonitorError as exc:
                body = json.dumps({"error": "invalid_session_config", "error_description": str(exc)})
                await _send_json(send, 400, body.encode())
                return
        await self._app(scope, receive, send)


def _invalid_request(body: bytes) -> JSONRPCError | None:
    """The -32600 answer to `body` when it is JSON but no JSON-RPC message, else None."""
    import mcp_types
    import pydantic_core
    from pydantic import ValidationError

    from monitor_common._jsonrpc import protocol_error, unusable_id

    try:
        # The SDK's parser, not json.loads: the same verdict on what is JSON, and a nesting limit
        # (200 levels) where json.loads raised RecursionError, a 500, on 100,000 `[`.
        parsed: object = pydantic_core.from_json(body)
    except ValueError:  # not JSON, not UTF-8, or nested too deeply: the SDK's -32700
        return None
    try:
        mcp_types.jsonrpc_message_adapter.validate_python(parsed, by_name=False)
    except ValidationError as exc:
        return protocol_error(exc)
    return unusable_id(parsed)


def build_app(
    server: MCPServer[Any], settings: Settings, *, request_timeout_s: float = REQUEST_TIMEOUT_S
) -> ASGIApp:
    """The ASGI app for `settings`; raises ConfigError for an unsafe combination.

    `request_timeout_s` bounds the arrival of each request's body (`_deadlines`).
    """
    loopback = _is_loopback(settings.host)
    if not loopback and not settings.auth_token and not settings.http_behind_gateway:
        raise ConfigError(
            f"refusing to serve HTTP on {settings.host}, which is not a loopback address, without a bearer "
            f"token: set {ENV_PREFIX}AUTH_TOKEN to a long random secret (or bind 127.0.0.1; behind a gateway "
            f"that authenticates its users and is the only way to this port, {ENV_PREFIX}HTTP_BEHIND_GATEWAY=true)"
        )
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    if not loopback and settings.host not in ("0.0.0.0", "::"):
        bind = f"[{settings.host}]" if ":" in settings.host else settings.host
        hosts.append(f"{bind}:*")
    if settings.tls_cert is not None:
        origins += ["https://127.0.0.1:*", "https://localhost:*", "https://[::1]:*"]
    app: ASGIApp = server.streamable_http_app(
        # Off: it matches Host and Origin by string prefix; RebindingGuard matches them exactly.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        host=settings.host,
        stateless_http=settings.http_stateless,
        max_request_body_size=DEFAULT_MAX_REQUEST_BODY_SIZE,
    )
    app = ProtocolErrors(app, DEFAULT_MAX_REQUEST_BODY_SIZE)
    app = SessionQuery(app, getattr(server, "session_settings", ()), settings)
    # Behind a gateway no browser reaches this port (DNS rebinding needs one), and the gateway's
    # name for it is not known in advance: Host and Origin are the gateway's to check.
    if not settings.http_behind_gateway:
        try:
            app = RebindingGuard(
                app,
                hosts + list(settings.http_allowed_hosts),
                origins + list(settings.http_allowed_origins),
                tls=settings.tls_cert is not None,
            )
        except ValueError as exc:
            raise ConfigError(
                f"{exc} in {ENV_PREFIX}HTTP_ALLOWED_HOSTS or {ENV_PREFIX}HTTP_ALLOWED_ORIGINS"
            ) from exc
    if settings.auth_token:
        app = BearerAuth(app, settings.auth_token)
    services = list(getattr(server, "watch_services", ()))
    if services:
        app = _with_web_routes(app, server, services, settings, hosts, origins)
    return BodyDeadline(app, request_timeout_s)


def _with_web_routes(
    mcp: ASGIApp,
    server: MCPServer[Any],
    services: list[Any],
    settings: Settings,
    hosts: list[str],
    origins: list[str],
) -> ASGIApp:
    """`mcp` with the status page, badges and /metrics (`monitor_common.web`) beside it, each path
    behind its own token (or none, when public) and the same Host/Origin check as `/mcp` (none
    behind a gateway, whose to check they are)."""
    from monitor_common.web.app import WebRoutes, web_app

    web: ASGIApp = web_app(services, title=f"{server.name} status")
    if not settings.http_behind_gateway:
        web = RebindingGuard(
            web,
            hosts + list(settings.http_allowed_hosts),
            origins + list(settings.http_allowed_origins),
            tls=settings.tls_cert is not None,
        )
    status_token = None if settings.status_public else settings.auth_token
    metrics_token = settings.metrics_token or settings.auth_token
    return WebRoutes(
        mcp,
        status=BearerAuth(web, status_token) if status_token else web,
        metrics=BearerAuth(web, metrics_token) if metrics_token else web,
    )


def uvicorn_config(
    app: ASGIApp, settings: Settings, *, request_timeout_s: float = REQUEST_TIMEOUT_S
) -> Config:
    """How uvicorn serves `app` for `settings`: h11, with each request head bounded by
    `request_timeout_s` (`_deadlines`)."""
    import uvicorn

    return uvicorn.Config(
        app,
        http=head_deadline(request_timeout_s),
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(settings.tls_cert) if settings.tls_cert else None,
        ssl_keyfile=str(settings.tls_key) if settings.tls_key else None,
        log_level=settings.log_level,
        access_log=settings.log_level in ("debug", "info"),
        log_config=None,  # keep our stderr logging; uvicorn's default config is stdout for access
        lifespan="on",
    )


def serve_http(server: MCPServer[Any], settings: Settings) -> None:
    """Serve until interrupted."""
    import uvicorn

    config = uvicorn_config(build_app(server, settings), settings)
    logger.info("serving streamable HTTP on %s:%s", settings.host, settings.port)
    uvicorn.Server(config).run()
