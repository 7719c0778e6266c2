"""DNS-rebinding protection for the HTTP transport: Host and Origin headers matched exactly.

A web page can make the browser send requests to a name its author controls and then point that
name at 127.0.0.1; those requests carry the author's name in Host and the page's origin in
Origin. So the transport serves a request only when:

1. it has exactly one Host header, and that header is `host[:port]` and nothing more (RFC 9110
   section 7.2: a name, an IPv4 address or a bracketed IPv6 address, then an optional decimal
   port). `127.0.0.1:8000@evil.example` and `127.0.0.1:8000.evil.example` are not a host and a
   port, so they are refused, never matched as a prefix;
2. its host equals an allowed host, case-insensitively (`LOCALHOST` is `localhost`), and its port
   equals the allowed port as a number (`08000` is 8000, an absent port is the default of this
   server's own scheme: 443 with TLS, else 80, whatever a proxy says the client used);
   an allowed port of `*` stands for any port;
3. an Origin header, when there is one (at most one), is `scheme://host[:port]` and matches an
   allowed origin by the same rules, the scheme case-insensitively too; `null` only when listed.

Refusals are 421 for Host (the request names a server that is not this one) and 403 for Origin,
the answers of the SDK's own check, which is turned off because it matched by string prefix.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["RebindingGuard", "parse_host"]

ANY_PORT = -1  # an allowed `host:*`
NO_PORT = -2  # an origin whose scheme has no default port and that names none

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# Host names as RFC 3986 reg-names are written in practice (letters, digits, `-`, `.`, `_`):
# anything else cannot equal an allowed name, so it is refused before comparing.
_NAME = re.compile(r"[a-z0-9._-]+")
_PORT = re.compile(r"[0-9]{1,10}")  # leading zeros allowed: compared as a number
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*")


@dataclass(frozen=True)
class Authority:
    """A parsed `host[:port]`: the host lowercased (an IPv6 address bracketed, compressed)."""

    host: str
    port: int


def parse_host(text: str, default_port: int, *, pattern: bool = False) -> Authority | None:
    """`text` as `host[:port]`, or None when it is anything else.

    An absent port is `default_port`; with `pattern`, `host:*` is accepted as any port.
    """
    if text.startswith("["):
        end = text.find("]")
        try:
            address = ipaddress.IPv6Address(text[1:end]) if end > 0 else None
        except ValueError:
            address = None
        if address is None:
            return None
        host, rest = f"[{address.compressed}]", text[end + 1 :]
    else:
        name, colon, port = text.partition(":")
        host, rest = name.lower(), colon + port
        if not _NAME.fullmatch(host):
            return None
    if not rest:
        return Authority(host, default_port)
    if pattern and rest == ":*":
        return Authority(host, ANY_PORT)
    digits = rest[1:]
    if rest[0] != ":" or not _PORT.fullmatch(digits) or int(digits) > 65535:
        return None
    return Authority(host, int(digits))


def parse_origin(text: str, *, pattern: bool = False) -> tuple[str, Authority] | None:
    """`text` as `scheme://host[:port]` (the scheme lowercased), or None when it is anything else."""
    scheme, sep, authority = text.partition("://")
    scheme = scheme.lower()
    if not sep or not _SCHEME.fullmatch(scheme):
        return None
    parsed = parse_host(authority, _DEFAULT_PORTS.get(scheme, NO_PORT), pattern=pattern)
    return None if parsed is None else (scheme, parsed)


def _matches(candidate: Authority, allowed: Iterable[Authority]) -> bool:
    return any(candidate.host == a.host and (a.port == ANY_PORT or candidate.port == a.port) for a in allowed)


class RebindingGuard:
    """ASGI middleware: refuse requests whose Host (421) or Origin (403) header is not allowed.

    `hosts` are `host[:port]` patterns (`127.0.0.1:*`, `monitor.example.com:8443`), `origins`
    `scheme://host[:port]` patterns or `null`; a pattern without a port means the default port
    (for hosts, that of `tls`). ValueError names a pattern that is neither.
    """

    def __init__(self, app: ASGIApp, hosts: Iterable[str], origins: Iterable[str], *, tls: bool) -> None:
        self._app = app
        self._default_port = 443 if tls else 80
        self._hosts: list[Authority] = []
        for text in hosts:
            host = parse_host(text, self._default_port, pattern=True)
            if host is None:
                raise ValueError(f"{text!r} is not host[:port], e.g. monitor.example.com:8443")
            self._hosts.append(host)
        self._origins: dict[str, list[Authority]] = {}
        self._null_origin = False
        for text in origins:
            if text == "null":
                self._null_origin = True
                continue
            origin = parse_origin(text, pattern=True)
            if origin is None:
                raise ValueError(f"{text!r} is not scheme://host[:port], e.g. https://app.example.com")
            self._origins.setdefault(origin[0], []).append(origin[1])

    def host_allowed(self, value: str) -> bool:
        # An absent port is this server's default, as in the patterns: not the scope's scheme,
        # which a TLS-terminating proxy's X-Forwarded-Proto makes https in front of plain HTTP.
        host = parse_host(value, self._default_port)
        return host is not None and _matches(host, self._hosts)

    def origin_allowed(self, value: str) -> bool:
        if value == "null":
            return self._null_origin
        origin = parse_origin(value)
        return origin is not None and _matches(origin[1], self._origins.get(origin[0], ()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self._app(scope, receive, send)
            return
        from starlette.responses import PlainTextResponse

        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        hosts = [value.decode("latin-1") for key, value in headers if key == b"host"]
        origins = [value.decode("latin-1") for key, value in headers if key == b"origin"]
        if len(hosts) != 1 or not self.host_allowed(hosts[0]):
            await PlainTextResponse("Invalid Host header", status_code=421)(scope, receive, send)
            return
        if len(origins) > 1 or (origins and not self.origin_allowed(origins[0])):
            await PlainTextResponse("Invalid Origin header", status_code=403)(scope, receive, send)
            return
        await self._app(scope, receive, send)
