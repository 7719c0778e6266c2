"""One DNS question to one server over one transport, and what came back.

Every engine of this package talks to DNS servers through `exchange()`: plain DNS over UDP
(falling back to TCP when the answer is truncated), TCP only, DNS over TLS (`tls://IP[:port]`)
or DNS over HTTPS (`https://host/dns-query`, through the policy-guarded HTTP client). A server
that does not answer, or cannot be reached, is an `Exchange` with an `error`, never an
exception: the engines turn it into a finding. Each exchange takes the check context
(`monitor_common.context.CheckContext`): its rate limiter paces the queries, and its policy and
resolver guard and look up a DoH server.

A check that asks many servers keeps a `Reach`: when none of them answered and every query
failed on this machine (no route out, or the operator's resolver unreachable), the outage is the
monitor's and the check says `monitor_network_unavailable` instead of blaming the servers.

`parse_server()` reads the server a caller names and checks it against the context's network
policy before any packet is sent; the system resolver (or the one the operator configured) is
infrastructure and is not checked. dnspython is imported on first use.
"""

from __future__ import annotations

import functools
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit

from monitor_common.errors import InputError, TargetError
from monitor_common.findings import MONITOR_NETWORK_UNAVAILABLE
from monitor_common.netpolicy import NetworkPolicy, monitor_side
from monitor_common.ratelimit import DNS_QUERY_COST, RateLimited, acquire, wait_meter
from monitor_common.targets import parse_host_port, parse_url, redact_url

from dns_monitor.models import DnsFlags, DnsRecord, ExtendedError

if TYPE_CHECKING:
    import dns.edns
    import dns.message
    import dns.rrset
    from monitor_common.context import CheckContext
    from monitor_common.results import Finding

__all__ = [
    "Exchange",
    "Reach",
    "ServerSpec",
    "Transport",
    "Values",
    "answer",
    "ask_values",
    "exchange",
    "extended_errors",
    "flags_of",
    "host_port",
    "make_query",
    "parse_server",
    "records_of",
    "system_server",
]

Transport = Literal["auto", "udp", "tcp"]
ErrorKind = Literal["timeout", "unreachable", "bad_response", "rate_limited"]


@dataclass(frozen=True)
class ServerSpec:
    """Where to send a question: `kind` says how, `shown` is how results name it."""

    kind: Literal["dns", "tls", "https"]
    address: str  # an IP address, or the host of a DoH URL
    port: int
    url: str | None = None

    @property
    def shown(self) -> str:
        if self.kind == "https":
            # The URL a DoH request goes to keeps its password; what results show never does.
            return redact_url(self.url) if self.url else self.address
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"tls://{host}:{self.port}" if self.kind == "tls" else f"{host}:{self.port}"


def system_server(configured: str | None) -> ServerSpec:
    """The operator's resolver: `configured` (IP[:port]) or the first of /etc/resolv.conf."""
    if configured is not None:
        parsed = parse_host_port(configured, default_port=53)
        return ServerSpec("dns", str(parsed.host.ip or parsed.host.name), parsed.port)
    import dns.resolver

    try:
        resolver = dns.resolver.Resolver(configure=True)
    except dns.resolver.NoResolverConfiguration:
        raise InputError(
            "the system has no resolver configured: pass server=IP, e.g. server=9.9.9.9"
        ) from None
    return ServerSpec("dns", str(resolver.nameservers[0]), 53)


def parse_server(server: str, ctx: CheckContext) -> ServerSpec:
    """Read `IP`, `IP:port`, `tls://IP[:port]` or `https://host[:port]/path` and apply the
    context's policy.

    Raises TargetError for a malformed server and PolicyError for a refused address (before
    anything is sent). A DoH host name is checked when the HTTP client connects.
    """
    return _parse_server(server, ctx.policy)


# Keyed by the policy, not the context: contexts that permit the same addresses share entries.
@functools.lru_cache(maxsize=256)
def _parse_server(server: str, policy: NetworkPolicy) -> ServerSpec:
    text = server.strip()
    if text.lower().startswith("https://"):
        url = parse_url(text)
        if url.ip is not None:
            policy.check(url.ip, host=url.host)
        return ServerSpec("https", url.host, url.port, url=url.geturl())
    kind: Literal["dns", "tls"] = "dns"
    default_port = 53
    if text.lower().startswith("tls://"):
        kind, default_port = "tls", 853
        text = text[len("tls://") :]
    elif "://" in text:
        scheme = urlsplit(text).scheme
        raise TargetError(
            f"server {server!r} has scheme {scheme!r}: use IP, IP:port, tls://IP or https://host/dns-query"
        )
    parsed = parse_host_port(text, default_port=default_port)
    if parsed.host.ip is None:
        raise TargetError(
            f"server {server!r} must be an IP address, optionally with :port, e.g. 9.9.9.9:53 "
            "(or tls://9.9.9.9, https://dns.quad9.net/dns-query)"
        )
    policy.check(parsed.host.ip, host=_written_host(text))
    return ServerSpec(kind, parsed.host.ip.compressed, parsed.port)


def _written_host(text: str) -> str:
    """The host of `host[:port]` as the caller wrote it, e.g. `127.1` of `127.1:53`.

    The refusal message quotes it: given the whole `host:port`, it would read the address as a
    name ("resolved from '127.1:53'") and suggest allowing that "host".
    """
    bare_ipv6 = text.count(":") > 1 and not text.startswith("[")
    if text.endswith("]") or bare_ipv6 or ":" not in text:
        return text
    return text.rpartition(":")[0]


def host_port(address: str, port: int) -> str:
    """`address:port`, with brackets for IPv6."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def make_query(
    name: str, rdtype: str, *, dnssec: bool = False, recursion: bool = True, cd: bool = False
) -> dns.message.Message:
    """A query with EDNS (1232-byte payload, the DNS flag day value), DO and RD as asked.

    AD is set, as dig does, so a validating resolver says whether it validated (RFC 6840 5.7).
    """
    import dns.flags
    import dns.message

    query = dns.message.make_query(name, rdtype, use_edns=0, payload=1232, want_dnssec=dnssec)
    query.flags |= dns.flags.AD
    if not recursion:
        query.flags &= ~dns.flags.RD
    if cd:
        query.flags |= dns.flags.CD
    return query


@dataclass
class Exchange:
    """The outcome of one question: a response, or why there is none."""

    server: ServerSpec
    transport: str
    response: dns.message.Message | None = None
    latency_ms: float | None = None
    error: ErrorKind | None = None
    detail: str = ""
    truncated_retried: bool = False
    attempts: list[str] = field(default_factory=lambda: list[str]())
    monitor_side: bool = False
    """The server could not be reached because this machine has no route out (`netpolicy.monitor_side`)."""


@dataclass
class Reach:
    """What a check's exchanges reached: the tally that tells the monitor's outage from the target's.

    An unreachable authoritative server is the target's fault, so one failed query proves nothing
    about the monitor. The check is `offline` only when nothing answered at all and every query
    failed on this side: no route out of this machine (`Exchange.monitor_side`), or the
    `operator`'s resolver (MCP_MONITOR_RESOLVER or the system's, which the check did not choose)
    unreachable. Any response (SERVFAIL included), a timeout or an unusable answer from anywhere
    keeps the check's own judgement; queries the rate limit held back were not sent and count
    for neither side.
    """

    operator: ServerSpec | None = None
    responses: int = 0
    local: int = 0
    remote: int = 0
    first_local: str = ""
    """What the first query that failed on this side said (`Exchange.detail`)."""

    def note(self, done: Exchange) -> None:
        """Count one finished exchange."""
        if done.response is not None:
            self.responses += 1
        elif done.error == "unreachable" and (done.monitor_side or done.server == self.operator):
            self.local += 1
            self.first_local = self.first_local or done.detail
        elif done.error != "rate_limited":
            self.remote += 1

    @property
    def offline(self) -> bool:
        """Whether every query sent failed on this machine's side and none was answered."""
        return self.local > 0 and self.responses == 0 and self.remote == 0

    def finding(self, what: str) -> Finding:
        """The one finding of an `offline` check of `what` (e.g. "the delegation of example.com.")."""
        queries = "the DNS query" if self.local == 1 else f"all {self.local} DNS queries"
        return MONITOR_NETWORK_UNAVAILABLE.finding(
            f"{what} was not checked: {queries} failed on the monitor's side, none was answered "
            f"(the first: {self.first_local})"
        )


async def exchange(
    query: dns.message.Message,
    server: ServerSpec,
    ctx: CheckContext,
    *,
    transport: Transport = "auto",
    timeout: float = 5.0,  # noqa: ASYNC109 - the dnspython calls take it; this bounds them all
    verify: ssl.SSLContext | bool = True,
    reach: Reach | None = None,
    one_rr_per_rrset: bool = False,
) -> Exchange:
    """Send `query` to `server`; the whole exchange (TCP retry included) takes at most `timeout`.

    `transport` applies to plain DNS: auto (UDP, then TCP when truncated), udp only, tcp only.
    The context's policy guards the connections of DoH (the HTTP client checks each address it
    dials), and its resolver looks up a DoH server's name (None: the system's resolver).
    `verify` is how DoT and DoH certificates are checked: True for the system's CAs, an
    SSLContext for others (a private CA), False not at all. A DoT server named by its IP address
    must present a certificate for that address, as the public ones (1.1.1.1, 9.9.9.9) do.

    Every query sent (the TCP retry of a truncated answer too) first takes a token of the
    context's per-host rate limit for the server asked; one that cannot get it in time is not sent and the
    exchange ends with error "rate_limited". The wait is not counted in `latency_ms`.
    `reach`, when given, counts the outcome. `one_rr_per_rrset` parses plain DNS answers with
    each record in its own RRset, so that duplicates of a singleton type (two SOA records) are
    seen rather than merged into one.
    """
    import dns.exception
    import dns.flags

    deadline = time.monotonic() + timeout
    started = time.perf_counter()
    first = "tcp" if transport == "tcp" else "udp"
    if server.kind != "dns":
        first = server.kind
    result = Exchange(server=server, transport=first)

    def left() -> float:
        return max(deadline - time.monotonic(), 0.001)

    async def slot() -> None:
        nonlocal started
        # A question over UDP or TCP costs a quarter of a request; DoT opens a TLS connection each.
        cost = DNS_QUERY_COST if server.kind == "dns" else 1.0
        started += await acquire(ctx.limiter, server.address, left(), cost=cost)  # not the server's latency

    try:
        if server.kind == "https":
            with wait_meter() as meter:  # the HTTP client takes the slot: leave its wait out too
                response = await _https(query, server, left(), ctx, verify)
            started += meter.waited_s
            result.response = response
        elif server.kind == "tls":
            import dns.asyncquery

            await slot()
            result.response = await dns.asyncquery.tls(  # pyright: ignore[reportUnknownMemberType]
                query,
                server.address,
                timeout=left(),
                port=server.port,
                ssl_context=_tls_context(verify),
                server_hostname=server.address if verify is not False else None,
            )
        elif first == "tcp":
            await slot()
            result.response = await _tcp(query, server, left(), one_rr_per_rrset)
        else:
            await slot()
            response = await _udp(query, server, left(), one_rr_per_rrset)
            if response.flags & dns.flags.TC and transport == "auto":
                # The truncated answer is not the answer: if TCP fails, there is none.
                result.transport = "tcp"
                result.truncated_retried = True
                await slot()
                response = await _tcp(query, server, left(), one_rr_per_rrset)
            result.response = response
    except RateLimited as exc:
        result.error = "rate_limited"
        result.detail = f"{result.transport} query to {server.shown} not sent: {exc}"
    except dns.exception.Timeout:
        result.error = "timeout"
        result.detail = f"no answer over {result.transport} within {timeout:g} s"
    except (OSError, EOFError) as exc:
        result.error = "unreachable"
        result.monitor_side = isinstance(exc, OSError) and monitor_side(exc)
        result.detail = (
            f"{result.transport} to {server.shown} failed: {exc.strerror or exc}"
            if isinstance(exc, OSError)
            else f"{result.transport} connection to {server.shown} closed early"
        )
    except (dns.exception.DNSException, _OnlyMismatched) as exc:
        result.error = "bad_response"
        result.detail = f"unusable answer over {result.transport}: {exc}"
    if result.response is not None:
        result.latency_ms = round((time.perf_counter() - started) * 1000, 2)
    if reach is not None:
        reach.note(result)
    return result


_SHOWN_MISMATCHES = 3


class _OnlyMismatched(Exception):
    """Only datagrams that do not answer the query came back (wrong ID, question or garbage)."""


async def _udp(
    query: dns.message.Message,
    server: ServerSpec,
    timeout: float,  # noqa: ASYNC109
    one_rr_per_rrset: bool = False,
) -> dns.message.Message:
    """`dns.asyncquery.udp` that ignores datagrams not answering `query`, as resolvers do, but
    remembers them: when nothing else arrives in time, `_OnlyMismatched` says what came instead
    of a bare timeout (a server answering with the wrong message ID or about another name)."""
    import socket

    import dns.asyncbackend
    import dns.asyncquery
    import dns.exception
    import dns.inet
    import dns.rdatatype

    backend = dns.asyncbackend.get_default_backend()
    family = dns.inet.af_for_address(server.address)
    destination = dns.inet.low_level_address_tuple((server.address, server.port), family)
    connected = (server.address, server.port) if backend.datagram_connection_required() else None
    expiration = time.time() + timeout  # dnspython's clock for expirations
    ignored: list[str] = []
    # dnspython types its backends' sockets loosely; this is a dns.asyncbackend.DatagramSocket.
    made = cast("Any", await backend.make_socket(family, socket.SOCK_DGRAM, 0, None, connected))  # pyright: ignore[reportUnknownMemberType]
    async with made as sock:
        await dns.asyncquery.send_udp(sock, query, destination, expiration)
        while True:
            try:
                response, _, _ = await dns.asyncquery.receive_udp(
                    sock, destination, expiration, ignore_unexpected=True, one_rr_per_rrset=one_rr_per_rrset
                )
            except dns.exception.Timeout:
                if ignored:
                    # The server is the untrusted party: a flood of replies must not make a huge message.
                    distinct = list(dict.fromkeys(ignored))
                    shown = "; ".join(distinct[:_SHOWN_MISMATCHES])
                    if len(distinct) > _SHOWN_MISMATCHES:
                        shown += f"; and {len(distinct) - _SHOWN_MISMATCHES} more"
                    raise _OnlyMismatched(
                        f"only answers that do not match the query came within {timeout:.3g} s "
                        f"(ignored, as they could be spoofed): {shown}"
                    ) from None
                raise
            except dns.exception.DNSException as exc:
                ignored.append(f"an unparseable message ({exc})")
                continue
            if query.is_response(response):
                return response
            if response.id != query.id:
                ignored.append(f"message ID {response.id} instead of {query.id}")
            elif response.question and query.question and response.question[0] != query.question[0]:
                asked, got = query.question[0], response.question[0]
                ignored.append(
                    f"an answer about {got.name} {dns.rdatatype.to_text(got.rdtype)} instead of "
                    f"{asked.name} {dns.rdatatype.to_text(asked.rdtype)}"
                )
            else:
                ignored.append("a message that is not a response to the query")


async def _tcp(
    query: dns.message.Message,
    server: ServerSpec,
    timeout: float,  # noqa: ASYNC109
    one_rr_per_rrset: bool = False,
) -> dns.message.Message:
    import dns.asyncquery

    return await dns.asyncquery.tcp(
        query, server.address, timeout=timeout, port=server.port, one_rr_per_rrset=one_rr_per_rrset
    )


def _tls_context(verify: ssl.SSLContext | bool) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["dot"])
    return context


async def _https(
    query: dns.message.Message,
    server: ServerSpec,
    timeout: float,  # noqa: ASYNC109
    ctx: CheckContext,
    verify: ssl.SSLContext | bool,
) -> dns.message.Message:
    import dns.exception
    import dns.message
    import httpx2
    from monitor_common.fetch import DOH_CAP, FetchTimeout, fetch
    from monitor_common.netpolicy import ResolutionError

    assert server.url is not None
    try:
        fetched = await fetch(
            ctx,
            server.url,
            cap=DOH_CAP,
            timeout_s=timeout,
            method="POST",
            content=query.to_wire(),
            headers={"content-type": "application/dns-message", "accept": "application/dns-message"},
            verify=verify,
        )
    except FetchTimeout:
        raise dns.exception.Timeout(timeout=timeout) from None
    except (httpx2.HTTPError, ResolutionError) as exc:
        raise OSError(f"DNS over HTTPS to {server.shown} failed: {exc}") from exc
    if fetched.status_code != 200:
        raise dns.exception.DNSException(f"{server.shown} answered HTTP {fetched.status_code}")
    if fetched.truncated:
        raise dns.exception.DNSException(f"{fetched.over_cap}: no DNS message is that long")
    return dns.message.from_wire(fetched.body)


# --- reading a response ---------------------------------------------------------------------------


# The models below are filled from parsed wire data whose types this code guarantees, so they are
# built with model_construct (no validation): it keeps bulk lookups close to plain dnspython.


def flags_of(response: dns.message.Message) -> DnsFlags:
    f = int(response.flags)  # plain ints: the Flag enum's & is slow in bulk
    return DnsFlags.model_construct(
        aa=bool(f & 0x0400),
        tc=bool(f & 0x0200),
        rd=bool(f & 0x0100),
        ra=bool(f & 0x0080),
        ad=bool(f & 0x0020),
        cd=bool(f & 0x0010),
    )


def records_of(rrsets: list[dns.rrset.RRset]) -> list[DnsRecord]:
    """Every record of `rrsets`, as text, in order."""
    import dns.rdatatype

    records: list[DnsRecord] = []
    for rrset in rrsets:
        rdtype = dns.rdatatype.to_text(rrset.rdtype)
        for rdata in rrset:  # pyright: ignore[reportUnknownVariableType]
            records.append(
                DnsRecord.model_construct(
                    name=rrset.name.to_text(),
                    type=rdtype,
                    ttl=rrset.ttl,
                    value=str(rdata),  # pyright: ignore[reportUnknownArgumentType]
                )
            )
    return records


def extended_errors(response: dns.message.Message) -> list[ExtendedError]:
    """The extended DNS errors (RFC 8914) the server attached, if any."""
    import dns.edns

    found: list[ExtendedError] = []
    options: list[dns.edns.Option] = list(response.options)  # pyright: ignore[reportUnknownMemberType,reportUnknownArgumentType]
    for option in options:
        if isinstance(option, dns.edns.EDEOption):
            try:
                name = dns.edns.EDECode(option.code).name.lower()
            except ValueError:
                name = "unknown"
            found.append(ExtendedError(code=int(option.code), name=name, text=option.text))
    return found


@dataclass
class Values:
    """The records of one type at one name, as text (TXT strings joined), or why there are none.

    `rcode` is NOERROR or NXDOMAIN; None when there is no usable answer (`error` says why: no
    response, or one like SERVFAIL or REFUSED).
    """

    rcode: str | None
    values: list[str]
    cname: str | None = None  # the name was an alias of this one
    error: str | None = None


async def ask_values(
    spec: ServerSpec,
    name: str,
    rdtype: str,
    ctx: CheckContext,
    *,
    timeout: float,  # noqa: ASYNC109 - passed to exchange
    reach: Reach | None = None,
) -> Values:
    """Ask `spec` (a resolver) for `name`/`rdtype`; TXT records come back as their joined strings.

    `ctx` paces the query and guards a DoH server's connections, and `reach` counts the
    outcome, as in `exchange`."""
    import dns.exception
    import dns.rcode
    import dns.rdatatype

    try:
        query = make_query(name, rdtype)
    except dns.exception.DNSException as exc:
        # A name built from a record's content (an SPF include, a selector) can be too long or
        # not encodable: nothing can be asked about it, which the caller reports like a failure.
        return Values(rcode=None, values=[], error=f"{name!r} is not a valid DNS name: {exc}")
    done = await exchange(query, spec, ctx, timeout=timeout, reach=reach)
    if done.response is None:
        return Values(rcode=None, values=[], error=done.detail)
    if done.response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        # SERVFAIL, REFUSED...: the server could not say, which is not "no such record".
        failure = dns.rcode.to_text(done.response.rcode())
        return Values(rcode=None, values=[], error=f"{spec.shown} answered {failure}")
    wanted = dns.rdatatype.from_text(rdtype)
    values: list[str] = []
    cname: str | None = None
    for rrset in done.response.answer:
        if rrset.rdtype == dns.rdatatype.CNAME and cname is None:
            cname = str(rrset[0].target)  # pyright: ignore[reportAttributeAccessIssue,reportUnknownMemberType,reportUnknownArgumentType]
        if rrset.rdtype != wanted:
            continue
        for rdata in rrset:  # pyright: ignore[reportUnknownVariableType]
            if wanted == dns.rdatatype.TXT:
                strings = cast("tuple[bytes, ...]", rdata.strings)  # pyright: ignore[reportUnknownMemberType,reportAttributeAccessIssue]
                values.append(b"".join(strings).decode("utf-8", "replace"))
            else:
                values.append(str(rdata))  # pyright: ignore[reportUnknownArgumentType]
    return Values(rcode=dns.rcode.to_text(done.response.rcode()), values=values, cname=cname)


def answer(
    response: dns.message.Message | None, zone: str, rdtype: str
) -> tuple[dns.rrset.RRset | None, dns.rrset.RRset | None]:
    """(the rrset owned by `zone` (any owner name), its RRSIGs) in the answer section of `response`."""
    import dns.name
    import dns.rdatatype

    if response is None:
        return None, None
    name = dns.name.from_text(zone)
    wanted = dns.rdatatype.from_text(rdtype)
    rrset = next((r for r in response.answer if r.name == name and r.rdtype == wanted), None)
    sigs = next(
        (
            r
            for r in response.answer
            if r.name == name and r.rdtype == dns.rdatatype.RRSIG and r.covers == wanted
        ),
        None,
    )
    return rrset, sigs
