"""Where a check's requests go: fresh connections of its own, or the connection pool shared by calls.

- `Session.fresh(...)`: a client of its own that dials only addresses the check resolved itself
  (so the DNS phase can be timed apart from the connect phase) and closes its connections when
  the check ends. `http_check`, `http_timing` and the others that report phases use it, so they
  measure what a new visitor sees.
- `Session.shared(...)`: one pooled client per event loop and trust setting, kept across calls,
  for the bulk checks where only the total matters and reusing connections is the point.

Both go through `monitor_common.netpolicy`'s guarded transport: every address dialled, each
redirect hop included, is checked against the network policy at connect time.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from monitor_common.netpolicy import resolve
from monitor_common.targets import IPAddress, parse_ip

from http_monitor import __version__
from http_monitor.tls import client_context

if TYPE_CHECKING:
    from http.cookiejar import CookieJar

    import httpx2
    from monitor_common.context import CheckContext

__all__ = ["USER_AGENT", "Session", "close_shared_clients"]

USER_AGENT = f"mcp-http-monitor/{__version__}"

_SharedKey = tuple["CheckContext", bool, "str | None"]
_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[_SharedKey, httpx2.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def _no_cookies() -> CookieJar:
    """A jar that stores nothing, for the clients: a walk carries its own cookies (exchange.Walk),
    so a cookie one site sets is never sent on a later check, nor to another caller of a pool."""
    from http.cookiejar import CookieJar, DefaultCookiePolicy

    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def _key(host: str) -> str:
    return host.lower().rstrip(".")


class Session:
    """An httpx2 client plus the DNS answers this check pinned (fresh sessions only)."""

    def __init__(
        self,
        client: httpx2.AsyncClient,
        *,
        ctx: CheckContext,
        family: int | None,
        pinned: dict[str, list[IPAddress]] | None,
        owned: bool,
        trust: Callable[[], ssl.SSLContext] | None = None,
    ) -> None:
        self.client = client
        self._trust = trust
        self.ctx = ctx
        self.family = family
        self.pinned = pinned
        self.owned = owned
        # Hosts whose address the caller chose (connect_ip): the transport dials those directly.
        self.pinned_hosts: set[str] = set()

    @classmethod
    def fresh(
        cls,
        ctx: CheckContext,
        *,
        verify_tls: bool = True,
        ca_bundle_pem: str | None = None,
        family: int | None = None,
        connect_ip: Mapping[str, str] | None = None,
    ) -> Session:
        """A session with its own connections. Defaults: system CAs, both families.

        `connect_ip` maps a host name to the address to dial instead (curl --resolve); the
        address is still checked against the policy. Names are looked up with the context's
        resolver, once: the answer `resolve` pins is what the transport dials.
        """
        import httpx2
        from monitor_common.httpclient import guarded_transport

        from http_monitor._firstbytes import FirstBytesBackend

        pinned: dict[str, list[IPAddress]] = {}
        trust = _trust(verify_tls, ca_bundle_pem)
        transport = guarded_transport(
            ctx,
            verify=trust,
            http2=True,
            connect_ip=connect_ip,
            family=family,
            pinned=pinned,
            limits=httpx2.Limits(max_connections=10, max_keepalive_connections=10),
            backend=FirstBytesBackend(),
        )
        client = httpx2.AsyncClient(
            transport=transport, trust_env=False, headers={"User-Agent": USER_AGENT}, cookies=_no_cookies()
        )
        session = cls(
            client,
            ctx=ctx,
            family=family,
            pinned=pinned,
            owned=True,
            trust=trust if callable(trust) else None,
        )
        for host in connect_ip or {}:
            session.pinned_hosts.add(_key(host))
        return session

    @classmethod
    def shared(
        cls,
        ctx: CheckContext,
        *,
        verify_tls: bool = True,
        ca_bundle_pem: str | None = None,
    ) -> Session:
        """A session on the pool shared by every call in this event loop with the same settings."""
        import httpx2
        from monitor_common.httpclient import guarded_transport

        from http_monitor._firstbytes import FirstBytesBackend

        clients = _shared.setdefault(asyncio.get_running_loop(), {})
        key: _SharedKey = (ctx, verify_tls, ca_bundle_pem)
        client = clients.get(key)
        trust = _trust(verify_tls, ca_bundle_pem)
        if client is None or client.is_closed:
            transport = guarded_transport(
                ctx,
                verify=trust,
                http2=True,
                limits=httpx2.Limits(max_connections=256, max_keepalive_connections=128, keepalive_expiry=30),
                backend=FirstBytesBackend(),
            )
            client = httpx2.AsyncClient(
                transport=transport,
                trust_env=False,
                headers={"User-Agent": USER_AGENT},
                cookies=_no_cookies(),
            )
            clients[key] = client
        return cls(
            client, ctx=ctx, family=None, pinned=None, owned=False, trust=trust if callable(trust) else None
        )

    def prepare_tls(self) -> None:
        """Build the system store's TLS context now, if this session trusts it and it is not built
        yet (once per process, cached by `tls.client_context`): the caller does this before its
        clock starts, so that a first https request does not count it in its TLS phase."""
        if self._trust is not None:
            self._trust()

    async def resolve(self, host: str, timeout: float) -> float | None:  # noqa: ASYNC109 - bounds the lookup only
        """Resolve `host` ahead of connecting and pin the answer; the milliseconds it took.

        0.0 for an IP literal, a host given in `connect_ip` or one already resolved by this
        session; None for a shared session, whose transport resolves by itself. Raises
        ResolutionError, or PolicyError when the policy refuses every address.
        """
        if self.pinned is None:
            return None
        name = _key(host)
        if name in self.pinned or name in self.pinned_hosts or parse_ip(host) is not None:
            return 0.0
        started = time.perf_counter()
        addresses = await resolve(
            host, self.ctx.policy, family=self.family, timeout=timeout, resolver=self.ctx.resolver
        )
        self.pinned[name] = addresses
        return round((time.perf_counter() - started) * 1000, 2)

    async def aclose(self) -> None:
        if self.owned:
            await self.client.aclose()


async def close_shared_clients() -> None:
    """Close the shared pools of the running event loop (at shutdown, or at the end of a test)."""
    clients = _shared.pop(asyncio.get_running_loop(), {})
    for client in clients.values():
        await client.aclose()


def _trust(verify_tls: bool, ca_bundle_pem: str | None) -> ssl.SSLContext | Callable[[], ssl.SSLContext]:
    """What the transport trusts. The system store's context is built on the first https request
    (an http:// check needs none, and it costs some 20 ms); given CAs are read at once, so that a
    bad `ca_bundle_pem` is refused before anything is sent."""
    if verify_tls and not ca_bundle_pem:
        return functools.partial(client_context, True, None)
    return client_context(verify_tls, ca_bundle_pem)
