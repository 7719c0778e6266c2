"""The network policy: which addresses a caller may make a server connect to (the SSRF guard).

A monitoring tool connects wherever its caller points it, so without a guard a caller could use it
to reach the machine's own services, the private network around it or a cloud metadata endpoint.
By default every address that is not globally routable is refused: loopback, private (RFC 1918),
link-local (169.254.0.0/16 including 169.254.169.254), CGNAT, unique-local, multicast,
unspecified and reserved, also when written as IPv4-mapped/compatible IPv6, NAT64, 6to4 or Teredo
(`classify`). Operators widen the policy by configuration: `allow_private`, networks, host names.

The check is made on the address actually dialled, at connect time (`open_tcp`, and for httpx2
`httpclient.guarded_client`, whose network backend checks every connection, each redirect hop included).
Checking a name before connecting and then letting the client resolve it again would lose to DNS
rebinding, an answer that changes between the two lookups.

    classify(ip)                   why an address is internal, or None
    NetworkPolicy.check(ip, host)  raise PolicyError unless permitted
    resolve(host, policy)          the permitted addresses of a name or literal
    open_tcp(host, port, ctx)      a connected anyio stream to a permitted address
    dns_resolver(nameserver)       a resolver that asks one nameserver (dnspython)

The httpx2 client that enforces the policy is `monitor_common.httpclient.guarded_client`: a
module of its own, so that importing the policy does not import httpx2 and httpcore2.

`open_tcp` and the guarded clients take the check context (`context.CheckContext`, or anything
with the `Dialer` protocol's three attributes): its policy,
its resolver for target names and its rate limiter.

Infrastructure the operator configured (the system resolver, a nameserver given to
`dns_resolver`) is not subject to the policy: only the targets a caller names are.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any, Final, Protocol, TypeAlias, cast

import anyio
import anyio.abc

from monitor_common.errors import PolicyError, TargetError
from monitor_common.ratelimit import RateLimiter, acquire, acquire_address
from monitor_common.targets import IPAddress, parse_host, parse_hostname, parse_ip

__all__ = [
    "CATEGORIES",
    "ENV_ALLOW_HOSTS",
    "ENV_ALLOW_NETWORKS",
    "ENV_ALLOW_PRIVATE",
    "NO_ROUTE_ERRNOS",
    "Dialer",
    "IPAddress",
    "IPNetwork",
    "NetworkPolicy",
    "ResolutionError",
    "Resolver",
    "classify",
    "dns_resolver",
    "monitor_side",
    "open_tcp",
    "resolve",
    "system_resolver",
]

IPNetwork: TypeAlias = IPv4Network | IPv6Network
Resolver: TypeAlias = Callable[[str, "int | None"], Awaitable[list[IPAddress]]]


class Dialer(Protocol):
    """What connecting needs of the check context (`context.CheckContext` has it): declared here
    so that this module, which the context is built from, does not import the context back."""

    @property
    def policy(self) -> NetworkPolicy: ...
    @property
    def resolver(self) -> Resolver | None: ...
    @property
    def limiter(self) -> RateLimiter: ...


"""Looks up `host` for a family (socket.AF_INET, AF_INET6 or None for both); raises ResolutionError."""

# The settings named in refusal messages; config reads the same variables.
ENV_ALLOW_PRIVATE: Final = "MCP_MONITOR_ALLOW_PRIVATE"
ENV_ALLOW_NETWORKS: Final = "MCP_MONITOR_ALLOW_NETWORKS"
ENV_ALLOW_HOSTS: Final = "MCP_MONITOR_ALLOW_HOSTS"

# Stable category strings: they appear in PolicyError.category and in messages.
CATEGORIES: Final = (
    "loopback",
    "private",
    "link-local",
    "cgnat",
    "unique-local",
    "multicast",
    "unspecified",
    "reserved",
)
_DESCRIPTIONS: Final = {
    "loopback": "loopback address",
    "private": "private address",
    "link-local": "link-local address",
    "cgnat": "carrier-grade NAT address",
    "unique-local": "unique-local address",
    "multicast": "multicast address",
    "unspecified": "unspecified address",
    "reserved": "reserved address",
}

# Explicit tables rather than only `ip.is_global`, whose answers changed between Python patch
# releases (3.11.7 calls 224.0.0.1, fec0::/10 and 64:ff9b:1::/48 global). `is_global` stays as
# a final catch-all for anything the tables miss. Order matters: first match wins.
_V4_TABLE: Final[tuple[tuple[IPv4Network, str], ...]] = tuple(
    (IPv4Network(net), category)
    for net, category in (
        ("0.0.0.0/32", "unspecified"),
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("169.254.0.0/16", "link-local"),
        ("100.64.0.0/10", "cgnat"),
        ("224.0.0.0/4", "multicast"),
        ("0.0.0.0/8", "reserved"),  # "this network"
        ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
        ("192.0.2.0/24", "reserved"),  # documentation (TEST-NET-1)
        ("192.88.99.0/24", "reserved"),  # deprecated 6to4 relay anycast
        ("198.18.0.0/15", "reserved"),  # benchmarking
        ("198.51.100.0/24", "reserved"),  # documentation (TEST-NET-2)
        ("203.0.113.0/24", "reserved"),  # documentation (TEST-NET-3)
        ("240.0.0.0/4", "reserved"),  # future use, includes broadcast 255.255.255.255
    )
)
_V6_TABLE: Final[tuple[tuple[IPv6Network, str], ...]] = tuple(
    (IPv6Network(net), category)
    for net, category in (
        ("fe80::/10", "link-local"),
        ("fc00::/7", "unique-local"),
        ("ff00::/8", "multicast"),
        ("fec0::/10", "reserved"),  # deprecated site-local
        ("100::/64", "reserved"),  # discard-only
        ("2001::/23", "reserved"),  # IETF protocol assignments (Teredo is judged before)
        ("2001:db8::/32", "reserved"),  # documentation
        ("3fff::/20", "reserved"),  # documentation
        ("5f00::/16", "reserved"),  # SRv6 SIDs
    )
)
_GLOBAL_UNICAST_V6: Final = IPv6Network("2000::/3")
_V4_MAPPED: Final = IPv6Network("::ffff:0:0/96")
_V4_TRANSLATED: Final = IPv6Network("::ffff:0:0:0/96")
_V4_COMPATIBLE: Final = IPv6Network("::/96")
_NAT64: Final = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))
_SIXTOFOUR: Final = IPv6Network("2002::/16")
_TEREDO: Final = IPv6Network("2001::/32")


def _embedded_ipv4(ip: IPv6Address) -> tuple[IPv4Address, ...] | None:
    """The IPv4 addresses an IPv6 address stands for, or None when it embeds none.

    Traffic to these reaches the embedded IPv4 host (through the kernel, a NAT64 gateway or a
    relay), so they must be judged like it. The local-use NAT64 prefix 64:ff9b:1::/48 is read
    in its usual /96 form, with the IPv4 address in the last 32 bits.
    """
    low32 = IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _V4_MAPPED or ip in _V4_TRANSLATED or ip in _V4_COMPATIBLE:
        return (low32,)
    if any(ip in net for net in _NAT64):
        return (low32,)
    if ip in _SIXTOFOUR and ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip in _TEREDO and ip.teredo is not None:
        return ip.teredo  # (server, client)
    return None


def _judge(ip: IPAddress) -> tuple[str, IPAddress] | None:
    """The category of an internal address and the address that was judged (an embedded IPv4
    address, or `ip` itself); None for a globally routable address."""
    if isinstance(ip, IPv6Address):
        if ip == IPv6Address("::"):
            return "unspecified", ip
        if ip == IPv6Address("::1"):
            return "loopback", ip
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            for v4 in embedded:
                verdict = _judge(v4)
                if verdict is not None:
                    return verdict
            return None
        for net6, category in _V6_TABLE:
            if ip in net6:
                return category, ip
        if ip not in _GLOBAL_UNICAST_V6 or not ip.is_global:
            return "reserved", ip
        return None
    for net4, category in _V4_TABLE:
        if ip in net4:
            return category, ip
    if not ip.is_global:
        return "reserved", ip
    return None


def classify(ip: IPAddress) -> str | None:
    """Why `ip` is internal by default (one of `CATEGORIES`), or None when it is globally routable.

    IPv6 addresses that embed an IPv4 address (IPv4-mapped, -compatible, -translated, NAT64,
    6to4, Teredo) are judged by the embedded address, so `64:ff9b::7f00:1` is loopback.
    """
    verdict = _judge(ip)
    return None if verdict is None else verdict[0]


def _normalize_name(host: str) -> str:
    try:
        return parse_host(host).name
    except TargetError:
        return host.strip().lower().rstrip(".")


@dataclass(frozen=True)
class NetworkPolicy:
    """Which addresses may be connected to: every global address, plus what the operator allows.

    `allow_private` permits every internal address. `allow_networks` permits addresses inside
    them (an IPv6 address that embeds IPv4 also matches through the embedded address).
    `allow_hosts` permits whatever a listed name resolves to: an entry is a normalized host name
    (as `targets.parse_hostname` returns it), and one starting with "." (or "*.") matches names
    below it but not the name itself, so list both `corp.example` and `.corp.example` for both.
    """

    allow_private: bool = False
    allow_networks: tuple[IPNetwork, ...] = ()
    allow_hosts: tuple[str, ...] = ()

    @classmethod
    def open(cls) -> NetworkPolicy:
        """A policy that permits every address, for infrastructure the operator configured."""
        return cls(allow_private=True)

    def host_allowed(self, host: str) -> bool:
        """Whether `host` (the name the caller gave) is on the allow list."""
        if not self.allow_hosts:
            return False
        name = _normalize_name(host)
        for entry in self.allow_hosts:
            entry = entry.strip().lower().rstrip(".")
            if entry.startswith("*."):
                entry = entry[1:]
            if entry.startswith("."):
                if name.endswith(entry) and len(name) > len(entry):
                    return True
            elif name == entry:
                return True
        return False

    def refusal(self, ip: IPAddress, *, host: str | None = None) -> PolicyError | None:
        """The error `check` would raise, or None when `ip` is permitted."""
        verdict = _judge(ip)
        if verdict is None or self.allow_private:
            return None
        category, judged = verdict
        if any(ip in net or judged in net for net in self.allow_networks):
            return None
        if host is not None and self.host_allowed(host):
            return None
        return PolicyError(
            _refusal_message(ip, category, judged, host), address=ip.compressed, category=category
        )

    def permits(self, ip: IPAddress, *, host: str | None = None) -> bool:
        return self.refusal(ip, host=host) is None

    def check(self, ip: IPAddress, *, host: str | None = None) -> None:
        """Raise PolicyError unless the policy permits connecting to `ip`.

        `host` is the name the caller gave, if any: it is matched against `allow_hosts` and named
        in the message, which also says which setting would allow the address.
        """
        error = self.refusal(ip, host=host)
        if error is not None:
            raise error


def _refusal_message(ip: IPAddress, category: str, judged: IPAddress, host: str | None) -> str:
    details = _DESCRIPTIONS[category]
    if judged != ip:
        details += f" {judged} embedded in it"
    literal = None
    if host is not None:
        try:
            literal = parse_ip(host)
        except TargetError:
            literal = None
        if literal is None:
            details += f", resolved from {host!r}"
        elif host.strip().strip("[]").lower() != ip.compressed:
            details += f", written as {host!r}"
    prefix = 32 if isinstance(ip, IPv4Address) else 128
    settings = [f"{ENV_ALLOW_NETWORKS}={ip.compressed}/{prefix}"]
    if host is not None and literal is None:
        settings.append(f"{ENV_ALLOW_HOSTS}={_normalize_name(host)}")
    settings.append(f"{ENV_ALLOW_PRIVATE}=true")
    how = (
        f"{settings[0]} or {settings[1]}"
        if len(settings) == 2
        else f"{', '.join(settings[:-1])}, or {settings[-1]}"
    )
    return (
        f"refused to connect to {ip.compressed} ({details}): the network policy blocks internal addresses. "
        f"To allow it set {how}"
    )


# --- resolution ---------------------------------------------------------------------------------


class ResolutionError(Exception):
    """A name could not be resolved: no such name, no address of the wanted family, no answer in time.

    Not a MonitorError: the target's DNS failing is an observation about the target, which the
    engines report as a `dns_resolution_failed` finding rather than as an error of the call.
    `monitor_side` is set where the lookup itself could not be made, the monitor's resolver being
    unreachable (getaddrinfo's EAI_AGAIN, a configured nameserver that never answered, no route to
    it): nothing was learnt about the name, and the engines say `monitor_network_unavailable`.
    """

    def __init__(self, host: str, reason: str, *, monitor_side: bool = False) -> None:
        super().__init__(f"could not resolve {host!r}: {reason}")
        self.host = host
        self.reason = reason
        self.monitor_side = monitor_side


NO_ROUTE_ERRNOS: Final = frozenset({errno.ENETUNREACH, errno.EADDRNOTAVAIL})
"""Errors of a connect that never left this machine: no route out, no local address to send from."""


def monitor_side(exc: BaseException) -> bool:
    """Whether `exc` is the monitor's own network failing rather than the target's.

    True for a `ResolutionError` with `monitor_side`, and for a connection error whose errno (the
    first found along its cause chain, as httpx2 and anyio wrap the socket's) is one of
    `NO_ROUTE_ERRNOS`, or that says `monitor_side = True` itself (the guarded httpx2 backend's,
    whose cause httpcore2's pool drops). `open_tcp` and the guarded httpx2 clients raise a no-route errno only when
    every address they tried failed that way.
    """
    link: BaseException | None = exc
    while link is not None:
        if isinstance(link, ResolutionError):
            return link.monitor_side
        if getattr(link, "monitor_side", None) is True:  # the guarded httpx2 backend's no-route error
            return True
        if isinstance(link, OSError) and link.errno is not None:
            return link.errno in NO_ROUTE_ERRNOS
        link = link.__cause__ or link.__context__
    return False


_FAMILIES: Final[dict[int | None, str]] = {
    None: "IPv4 or IPv6",
    socket.AF_INET: "IPv4",
    socket.AF_INET6: "IPv6",
}


def _check_family(family: int | None) -> None:
    if family not in _FAMILIES:
        raise ValueError(f"family must be socket.AF_INET, socket.AF_INET6 or None, not {family!r}")


def _family_of(ip: IPAddress) -> int:
    return socket.AF_INET if isinstance(ip, IPv4Address) else socket.AF_INET6


async def system_resolver(host: str, family: int | None) -> list[IPAddress]:
    """The system's resolver (getaddrinfo through anyio, IDNA 2008), TCP addresses in its order."""
    try:
        infos = await anyio.getaddrinfo(host, None, family=family or 0, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        # EAI_NONAME, a name that does not exist, is the target's. EAI_AGAIN is either: glibc
        # says it when the resolver did not answer (no network: the monitor's outage) and when it
        # answered SERVFAIL or is still chasing a name whose own servers are silent (the
        # target's). Whether the resolver answers at all tells which (`resolver_silent`).
        monitor = exc.errno == socket.EAI_AGAIN and await _system_resolver_silent()
        raise ResolutionError(host, exc.strerror or str(exc), monitor_side=monitor) from exc
    except UnicodeError as exc:  # idna.IDNAError from anyio's encoding of the name
        raise ResolutionError(host, f"not a valid host name ({exc})") from exc
    return [ip_address(str(info[4][0]).partition("%")[0]) for info in infos]


async def _system_resolver_silent() -> bool:
    """Whether the system's nameservers (/etc/resolv.conf) give no answer at all."""
    import dns.resolver

    try:
        config = dns.resolver.Resolver()
    except dns.resolver.NoResolverConfiguration:
        return True  # nothing to ask: the monitor's own configuration
    return await resolver_silent([str(ns) for ns in config.nameservers], config.port)


async def resolver_silent(nameservers: Sequence[str], port: int = 53, *, lifetime: float = 2.0) -> bool:
    """Whether `nameservers` give no response at all, within `lifetime` s, to a question for the
    root, which a working resolver answers at once from its cache. Any DNS answer is one, SERVFAIL
    and REFUSED included: a resolver that answers is up, so a name it failed on is the target's
    failure, not the monitor's."""
    import dns.asyncresolver
    import dns.exception
    import dns.resolver

    stub = dns.asyncresolver.Resolver(configure=False)
    stub.nameservers = list(nameservers)
    stub.port = port
    stub.lifetime = lifetime
    try:
        await stub.resolve(".", "NS", search=False, raise_on_no_answer=False)
    except dns.resolver.NoNameservers as exc:
        return _no_response(exc)
    except (dns.exception.Timeout, OSError):
        return True
    except dns.exception.DNSException:  # NXDOMAIN and the like: an answer
        return False
    return False


def _no_response(exc: BaseException) -> bool:
    """Whether dnspython's NoNameservers `exc` saw no DNS response at all (every attempt an I/O
    error), rather than answers it could not use (SERVFAIL, REFUSED, ...)."""
    kwargs = cast("dict[str, Any]", exc.kwargs)  # pyright: ignore[reportUnknownMemberType, reportAttributeAccessIssue]
    errors = cast("list[tuple[Any, ...]]", kwargs.get("errors") or [])
    return all(len(e) > 4 and e[4] is None for e in errors)


async def resolve(
    host: str,
    policy: NetworkPolicy,
    *,
    family: int | None = None,
    timeout: float | None = 5.0,  # noqa: ASYNC109 - it bounds the lookup only, not the caller's work
    resolver: Resolver | None = None,
) -> list[IPAddress]:
    """The addresses `host` stands for that `policy` permits, deduplicated, in resolver order.

    `host` may be an IP literal in any spelling `targets.parse_ip` accepts (it is not looked up)
    or a name, looked up with `resolver` (default `system_resolver`) within `timeout` seconds
    (None: no limit). `family` is socket.AF_INET, socket.AF_INET6 or None for both.

    Raises ResolutionError when nothing of the wanted family is found, and PolicyError (for the
    first address) when the policy refuses every address found.
    """
    _check_family(family)
    literal = parse_ip(host)
    if literal is not None:
        if family is not None and _family_of(literal) != family:
            raise ResolutionError(
                host, f"it is an IPv{literal.version} address, but {_FAMILIES[family]} is required"
            )
        policy.check(literal, host=host)
        return [literal]

    lookup = system_resolver if resolver is None else resolver
    try:
        with anyio.fail_after(timeout):
            found = await lookup(host, family)
    except TimeoutError:
        raise ResolutionError(host, f"no answer within {timeout:g} s") from None
    except OSError as exc:  # a custom resolver's socket error is a failed lookup all the same
        raise ResolutionError(host, exc.strerror or str(exc), monitor_side=monitor_side(exc)) from exc

    addresses = list(dict.fromkeys(ip for ip in found if family is None or _family_of(ip) == family))
    if not addresses:
        raise ResolutionError(host, f"no {_FAMILIES[family]} address")
    permitted = [ip for ip in addresses if policy.permits(ip, host=host)]
    if not permitted:
        policy.check(addresses[0], host=host)
    return permitted


def dns_resolver(nameserver: str, port: int = 53, *, timeout: float = 5.0) -> Resolver:
    """A resolver that asks one nameserver (an IP address) for A and AAAA records, with dnspython.

    The nameserver is infrastructure the operator chose, so the policy does not apply to it. For
    both families the A records come first. Names are normalized with `targets.parse_hostname`.
    """
    # dnspython is heavy to import; only operators who configure a nameserver pay for it.
    import dns.asyncresolver
    import dns.exception
    import dns.name
    import dns.rdata
    import dns.rdatatype
    import dns.resolver

    server = parse_ip(nameserver)
    if server is None:
        raise TargetError(f"nameserver {nameserver!r} must be an IP address, e.g. 192.0.2.53 or 2001:db8::53")
    shown = server.compressed if port == 53 else f"{server.compressed} port {port}"
    stub = dns.asyncresolver.Resolver(configure=False)
    stub.nameservers = [server.compressed]
    stub.port = port
    stub.lifetime = timeout

    async def lookup(host: str, family: int | None) -> list[IPAddress]:
        name = dns.name.from_text(parse_hostname(host))
        if family is None:
            rdtypes = (dns.rdatatype.A, dns.rdatatype.AAAA)
        else:
            rdtypes = (dns.rdatatype.A,) if family == socket.AF_INET else (dns.rdatatype.AAAA,)
        found: list[IPAddress] = []
        for rdtype in rdtypes:
            try:
                answer = await stub.resolve(name, rdtype, search=False, raise_on_no_answer=False)
            except dns.resolver.NXDOMAIN:
                raise ResolutionError(host, f"no such domain (NXDOMAIN from {shown})") from None
            except dns.resolver.LifetimeTimeout:
                # The monitor's outage only when the operator's nameserver answers nothing at all:
                # one that answers the root (from its cache, at once) but is still chasing this
                # name, whose authoritative servers are silent, is up: the failure is the target's.
                silent = await resolver_silent([server.compressed], port, lifetime=1.0)
                raise ResolutionError(
                    host, f"nameserver {shown} did not answer within {timeout:g} s", monitor_side=silent
                ) from None
            except dns.resolver.NoNameservers as exc:
                # Unreachable (no response at all) is the monitor's; an answer such as SERVFAIL
                # says the name's own DNS is failing.
                raise ResolutionError(
                    host, f"nameserver {shown} failed: {exc}", monitor_side=_no_response(exc)
                ) from exc
            except dns.exception.DNSException as exc:
                raise ResolutionError(host, f"lookup at {shown} failed: {exc}") from exc
            if answer.rrset is not None:
                rdatas = cast("Iterable[dns.rdata.Rdata]", answer.rrset)  # RRset iterates untyped
                found.extend(ip_address(rdata.to_text()) for rdata in rdatas)
        return found

    return lookup


# --- connecting ---------------------------------------------------------------------------------


async def _addresses(
    host: str,
    ctx: Dialer,
    *,
    family: int | None,
    timeout: float | None,  # noqa: ASYNC109 - passed on to resolve()
    connect_ip: str | IPAddress | None,
) -> list[IPAddress]:
    if connect_ip is None:
        return await resolve(host, ctx.policy, family=family, timeout=timeout, resolver=ctx.resolver)
    _check_family(family)
    ip = connect_ip if isinstance(connect_ip, IPv4Address | IPv6Address) else parse_ip(connect_ip)
    if ip is None:
        raise TargetError(f"connect_ip {connect_ip!r} must be an IP address, e.g. 192.0.2.1 or 2001:db8::1")
    if family is not None and _family_of(ip) != family:
        raise TargetError(
            f"connect_ip {ip} is an IPv{ip.version} address, but {_FAMILIES[family]} is required"
        )
    # An override chooses the address, not the permission: it is checked like a resolved one.
    ctx.policy.check(ip, host=host)
    return [ip]


def _strerror(exc: OSError) -> str:
    if isinstance(exc, TimeoutError) and exc.errno is None:
        return "timed out"
    # asyncio's strerror is "Connect call failed (...)", which says less than the errno does.
    return os.strerror(exc.errno) if exc.errno is not None else str(exc) or type(exc).__name__


def _connect_failure(
    host: str, port: int, timeout: float, failures: Sequence[tuple[IPAddress, OSError]]
) -> OSError:
    if len(failures) == 1 and not isinstance(failures[0][1], TimeoutError):
        return failures[0][1]
    parts = [f"{ip}: {_strerror(exc)}" for ip, exc in failures]
    message = f"could not connect to {host} port {port} ({'; '.join(parts)})"
    # No route to one address (an IPv6 one from a host without IPv6, say) is the monitor's; the
    # target is blamed for what its other addresses did, and the monitor only when all were local.
    theirs = [exc for _, exc in failures if exc.errno not in NO_ROUTE_ERRNOS] or [exc for _, exc in failures]
    if all(isinstance(exc, TimeoutError) for exc in theirs):
        return TimeoutError(f"could not connect to {host} port {port} within {timeout:g} s")
    return OSError(next(exc.errno for exc in theirs if not isinstance(exc, TimeoutError)), message)


async def open_tcp(
    host: str,
    port: int,
    ctx: Dialer,
    *,
    timeout: float,  # noqa: ASYNC109 - per step (lookup, each attempt), which one scope cannot express
    family: int | None = None,
    connect_ip: str | IPAddress | None = None,
) -> anyio.abc.SocketStream:
    """A TCP connection to the first permitted address of `host` that accepts within `timeout`.

    `host` is looked up once, with the context's resolver, and each address it stands for is
    checked against the context's policy once, before anything is dialled. With `connect_ip`
    that address is dialled instead of resolving `host` (like curl --resolve), and it is still
    checked against the policy. `timeout` bounds the lookup and each connection attempt
    separately. The peer's address is `stream.extra(SocketAttribute.remote_address)`.

    Every call takes a token of the context's per-host rate limit for `host` first
    (`ratelimit.acquire`, waiting at most `timeout` and the enclosing deadline), and one of each
    address it dials when `host` is a name (`ratelimit.acquire_address`).

    Raises PolicyError (refused by the policy, before any packet is sent), ResolutionError,
    TargetError (a malformed `connect_ip`), RateLimited (over the rate limit, nothing sent),
    TimeoutError or OSError (no address accepted).
    """
    # Every address returned was checked against the policy: what is dialled is what was checked.
    addresses = await _addresses(host, ctx, family=family, timeout=timeout, connect_ip=connect_ip)
    await acquire(ctx.limiter, host, timeout)  # after the policy: a refused target costs no token
    failures: list[tuple[IPAddress, OSError]] = []
    for ip in addresses:
        await acquire_address(ctx.limiter, ip, host, timeout)  # many names of one server share its limit
        try:
            with anyio.fail_after(timeout):
                return await anyio.connect_tcp(ip.compressed, port)
        except OSError as exc:  # TimeoutError included: try the next address
            # anyio wraps the socket's error (errno and all) in a generic "All connection attempts failed".
            cause = exc.__cause__
            failures.append((ip, cause if exc.errno is None and isinstance(cause, OSError) else exc))
    raise _connect_failure(host, port, timeout, failures)
