"""httpx2 clients that enforce the network policy on every connection they open.

httpx2's transport has no hook for the address it dials, but the httpcore2 connection pool
under it takes a network backend. `GuardedBackend` is that backend: its `connect_tcp` receives
the URL's host, resolves it with `netpolicy.resolve`, checks the exact address about to be
dialled and hands the IP literal to httpcore2's AnyIO backend. TLS is started afterwards by
httpcore2 with the URL's host as server name, so SNI, certificate checks and the Host header are
unchanged. Because every new connection goes through it, each redirect hop is checked, even when
httpx2 follows redirects itself, and so is every DNS answer, whenever it is fetched.

Errors out of `client.send()` and friends:

- PolicyError, unchanged: httpx2 maps only httpcore2's exceptions and lets others through.
- ResolutionError, unchanged, for the same reason: callers tell a name that does not resolve
  (`dns_resolution_failed`) from a host that does not answer (httpx2.ConnectError /
  httpx2.ConnectTimeout) by exception type, the same contract as `netpolicy.open_tcp`.
  `netpolicy.monitor_side(exc)` says when either is the monitor's own outage (its resolver
  unreachable; no route from this machine to any address of the host).
- ratelimit.RateLimited, unchanged: `GuardedTransport` takes a token of the per-host rate limit
  for every request it sends (each redirect hop, pooled connection or not) and raises it, before
  sending anything, when the wait for one does not fit in the request's timeout.

Environment proxies and .netrc are ignored (trust_env=False): a proxy would dial on our behalf
and the policy would only ever see the proxy's address. SSL_CERT_FILE / SSL_CERT_DIR are still
honoured for `verify=True`, as they are how an operator adds a private CA.
"""

from __future__ import annotations

import functools
import logging
import os
import ssl
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

import anyio
import httpcore2
import httpx2

from monitor_common._sdk import replace_pool
from monitor_common.audit import RedactUrls
from monitor_common.errors import TargetError
from monitor_common.netpolicy import monitor_side, resolve
from monitor_common.ratelimit import acquire, acquire_address

if TYPE_CHECKING:
    from monitor_common.context import CheckContext
from monitor_common.targets import IPAddress, parse_host, parse_ip

# httpx2 logs every request's URL as given, a password in it included.
logging.getLogger("httpx2").addFilter(RedactUrls())

__all__ = [
    "ClosingBackend",
    "GuardedBackend",
    "GuardedTransport",
    "Verify",
    "guarded_client",
    "guarded_transport",
]

# Used when httpcore2 passes no connect timeout (an httpx2.Timeout with connect=None).
_DEFAULT_RESOLVE_TIMEOUT = 5.0


class _ClosingStream(httpcore2.AsyncNetworkStream):
    """A stream of httpcore2's AnyIO backend whose TCP connection is closed when starting TLS on
    it fails in any way, a cancellation included."""

    def __init__(self, stream: httpcore2.AsyncNetworkStream) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's interface
    ) -> httpcore2.AsyncNetworkStream:
        # httpcore2 closes the TCP stream when the handshake raises an Exception, not when it is
        # cancelled; and its caller keeps no reference to it then. A check whose own deadline
        # ends the handshake (its deadline and httpcore2's connect timeout expire together on a
        # loaded machine, and the outer one wins) would leave the socket to the garbage collector.
        try:
            return await self._stream.start_tls(ssl_context, server_hostname, timeout)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._stream.aclose()
            raise

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class ClosingBackend(httpcore2.AsyncNetworkBackend):
    """httpcore2's AnyIO backend, except that a connection whose TLS handshake is cancelled is
    closed at once rather than left unclosed (see `_ClosingStream`). The default backend of
    `GuardedBackend`, and the one to wrap for a backend of one's own."""

    def __init__(self) -> None:
        # httpcore2 declares AnyIOBackend conditionally (on anyio being installed), hence the cast.
        self._backend = cast(httpcore2.AsyncNetworkBackend, httpcore2.AnyIOBackend())

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(
            host, port, timeout=timeout, local_address=local_address, socket_options=socket_options
        )
        return _ClosingStream(stream)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's interface
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        raise httpcore2.ConnectError(f"unix sockets are not used: {path}")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """An httpcore2 network backend that dials only addresses the context's policy permits.

    `connect_ip` maps host names to the address to dial instead of resolving them (curl
    --resolve semantics, for any port); those addresses are checked like resolved ones.
    `pinned` maps host names to the addresses a check already resolved (and the policy already
    passed) with `netpolicy.resolve`: those are dialled as they are, so a name is looked up and
    its addresses checked once per connection, not once by the check and again here. Other names
    are resolved with the context's resolver, for `family` (socket.AF_INET / AF_INET6 / None).
    """

    def __init__(
        self,
        ctx: CheckContext,
        *,
        connect_ip: Mapping[str, str] | None = None,
        family: int | None = None,
        pinned: Mapping[str, list[IPAddress]] | None = None,
        backend: httpcore2.AsyncNetworkBackend | None = None,
    ) -> None:
        self.ctx = ctx
        self.policy = ctx.policy
        self.family = family
        self.pinned = pinned
        self.connect_ip: dict[str, IPAddress] = {}
        for name, address in (connect_ip or {}).items():
            ip = parse_ip(address)
            if ip is None:
                raise TargetError(
                    f"connect_ip for {name!r} must be an IP address, not {address!r}: e.g. 192.0.2.1"
                )
            self.connect_ip[parse_host(name).name] = ip
        self._backend = ClosingBackend() if backend is None else backend

    async def _addresses(self, host: str, timeout: float | None) -> list[IPAddress]:  # noqa: ASYNC109
        override = self.connect_ip.get(host) or self.connect_ip.get(host.lower().rstrip("."))
        if override is not None:
            self.policy.check(override, host=host)
            return [override]
        if self.pinned is not None:
            known = self.pinned.get(host.lower().rstrip("."))
            if known is not None:
                return known  # resolved and checked by the check itself (Session.resolve)
        resolve_timeout = _DEFAULT_RESOLVE_TIMEOUT if timeout is None else timeout
        return await resolve(
            host, self.policy, family=self.family, timeout=resolve_timeout, resolver=self.ctx.resolver
        )

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        # Every address returned was checked against the policy: what is dialled is what was checked.
        addresses = await self._addresses(host, timeout)
        failure: httpcore2.ConnectError | httpcore2.ConnectTimeout | None = None
        reasons: list[str] = []
        for ip in addresses:
            await acquire_address(
                self.ctx.limiter, ip, host, timeout
            )  # many names of one server share its limit
            try:
                return await self._backend.connect_tcp(
                    ip.compressed,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                # Try the next address, like a browser. The error raised at the end is the target's
                # when one of its addresses failed there, the monitor's (no route) only when all did.
                if failure is None or not monitor_side(exc) or monitor_side(failure):
                    failure = exc
                reasons.append(f"{ip.compressed} port {port}: {_reason(exc)}")
        assert failure is not None  # resolve() returns at least one address or raises
        # httpcore2 passes on anyio's "All connection attempts failed"; say what failed, and where.
        # Its pool re-raises `from None`, which drops the cause: the no-route case is a type.
        kind = _NoRoute if monitor_side(failure) else type(failure)
        raise kind("; ".join(reasons)) from failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore2's interface
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        # Never configured by guarded_transport; refusing keeps a stray `uds=` from bypassing the policy.
        raise httpcore2.ConnectError(f"unix sockets are not allowed by the network policy: {path}")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _NoRoute(httpcore2.ConnectError):
    """Every address failed without leaving this machine (`netpolicy.NO_ROUTE_ERRNOS`)."""

    monitor_side = True  # read by netpolicy.monitor_side through httpx2's ConnectError's cause


def _reason(exc: BaseException) -> str:
    """The most specific explanation in an exception's chain, e.g. "Connection refused"."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            return os.strerror(seen.errno)  # asyncio's strerror is "Connect call failed (...)"
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, httpcore2.ConnectTimeout):
        return "timed out"
    return str(exc) or type(exc).__name__


# What a transport is given to trust: a context, True (the system store, or SSL_CERT_FILE/DIR),
# False (no checks), or a function that builds the context when the first https request needs it.
Verify = ssl.SSLContext | bool | Callable[[], ssl.SSLContext]


class _SchemePools:
    """The pool an httpx2 transport sends through: one for http://, and one for https:// built,
    with its SSL context, on the first https request.

    Building a context that trusts the system store reads every CA certificate (some 20 ms), which
    a check of an http:// URL - or a `call` from cron - should not pay for nothing.
    """

    def __init__(
        self,
        pool: Callable[[ssl.SSLContext | None], httpcore2.AsyncConnectionPool],
        tls_context: Callable[[], ssl.SSLContext],
    ) -> None:
        self._pool = pool
        self._tls_context = tls_context
        # No TLS is ever started on this one (no proxies, no CONNECT): it needs no context.
        self.plain = pool(None)
        self.tls: httpcore2.AsyncConnectionPool | None = None

    def _for(self, request: httpcore2.Request) -> httpcore2.AsyncConnectionPool:
        if request.url.scheme not in (b"https", b"wss"):
            return self.plain
        if self.tls is None:
            self.tls = self._pool(self._tls_context())
        return self.tls

    async def handle_async_request(self, request: httpcore2.Request) -> httpcore2.Response:
        return await self._for(request).handle_async_request(request)

    async def aclose(self) -> None:
        await self.plain.aclose()
        if self.tls is not None:
            await self.tls.aclose()

    async def __aenter__(self) -> _SchemePools:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """An AsyncHTTPTransport whose connection pools dial through a `GuardedBackend`.

    Every request first waits for the per-host rate limit (`ratelimit.acquire`), within its
    pool timeout and the enclosing cancel scope's deadline. The TLS context is built on the
    first https request (`verify`, see `Verify`); the limits apply to http and https apart.
    """

    def __init__(
        self,
        ctx: CheckContext,
        *,
        verify: Verify = True,
        http2: bool = False,
        connect_ip: Mapping[str, str] | None = None,
        family: int | None = None,
        pinned: Mapping[str, list[IPAddress]] | None = None,
        limits: httpx2.Limits | None = None,
        retries: int = 0,
        backend: httpcore2.AsyncNetworkBackend | None = None,
    ) -> None:
        limits = (
            httpx2.Limits(max_connections=100, max_keepalive_connections=20) if limits is None else limits
        )
        self.backend = GuardedBackend(
            ctx, connect_ip=connect_ip, family=family, pinned=pinned, backend=backend
        )
        if isinstance(verify, ssl.SSLContext):
            given = verify
            tls_context: Callable[[], ssl.SSLContext] = lambda: given  # noqa: E731
        elif isinstance(verify, bool):
            tls_context = functools.partial(httpx2.create_ssl_context, verify=verify)
        else:
            tls_context = verify

        def pool(ssl_context: ssl.SSLContext | None) -> httpcore2.AsyncConnectionPool:
            return httpcore2.AsyncConnectionPool(
                ssl_context=ssl_context,
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                http1=True,
                http2=http2,
                retries=retries,
                network_backend=self.backend,
            )

        # httpx2's __init__ is not called: all it does is build an SSL context (at once) and a
        # pool with the default backend; this transport needs neither (see _sdk.replace_pool).
        replace_pool(self, _SchemePools(pool, tls_context))

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        host = request.url.raw_host.decode("ascii")
        literal = _literal(host)
        if literal is not None:  # refused before taking a token, as open_tcp does
            self.backend.policy.check(literal, host=host)
        # Per request, not per connection: a pooled connection is reused without being dialled.
        timeouts = cast("dict[str, float | None]", request.extensions.get("timeout") or {})
        await acquire(self.backend.ctx.limiter, host, timeouts.get("pool"))
        return await super().handle_async_request(request)


@functools.lru_cache(maxsize=1024)
def _literal(host: str) -> IPAddress | None:
    try:
        return parse_ip(host)
    except TargetError:
        return None


def guarded_transport(
    ctx: CheckContext,
    *,
    verify: Verify = True,
    http2: bool = False,
    connect_ip: Mapping[str, str] | None = None,
    family: int | None = None,
    pinned: Mapping[str, list[IPAddress]] | None = None,
    limits: httpx2.Limits | None = None,
    backend: httpcore2.AsyncNetworkBackend | None = None,
) -> httpx2.AsyncHTTPTransport:
    """An httpx2 transport that connects only to addresses the context's policy permits.

    Defaults: verify=True (system CAs, or SSL_CERT_FILE/SSL_CERT_DIR), HTTP/1.1 only, no
    connect_ip overrides, both address families, nothing pinned (names are looked up with the
    context's resolver), limits of 100 connections and 20 kept alive, `ClosingBackend` dialling
    the checked addresses (`backend`, e.g. one that keeps what it reads). No proxies.
    """
    return GuardedTransport(
        ctx,
        verify=verify,
        http2=http2,
        connect_ip=connect_ip,
        family=family,
        pinned=pinned,
        limits=limits,
        backend=backend,
    )


def guarded_client(
    ctx: CheckContext,
    *,
    timeout: float | httpx2.Timeout,
    verify: Verify = True,
    http2: bool = False,
    follow_redirects: bool = False,
    connect_ip: Mapping[str, str] | None = None,
    family: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx2.AsyncClient:
    """An httpx2.AsyncClient whose every connection, redirect hops included, obeys the context's
    policy and rate limit, and looks names up with its resolver.

    Defaults as for `guarded_transport`; redirects are not followed unless asked, environment
    proxies and .netrc are ignored. PolicyError and ResolutionError propagate unchanged from
    `send()`/`get()`; connection failures are httpx2.ConnectError / ConnectTimeout as usual.
    """
    transport = guarded_transport(ctx, verify=verify, http2=http2, connect_ip=connect_ip, family=family)
    return httpx2.AsyncClient(
        transport=transport,
        timeout=timeout,
        follow_redirects=follow_redirects,
        headers=headers,
        trust_env=False,
    )
