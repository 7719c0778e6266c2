"""A real DNS server on loopback, UDP and TCP on one port, whose answers each test decides.

After dnspython's `tests/nanonameserver.py`: the server runs in background threads, and a
test sets `server.handler` to a function of the request and the transport it came over::

    with DNSServer() as server:
        server.handler = zone({("www.example.com.", "A"): ["192.0.2.1"]})
        answer = dns.query.udp(dns.message.make_query("www.example.com.", "A"), *server.address)
        assert server.queries["udp"] == 1

A handler returns what to send back:

    dns.message.Message     rendered to wire format; over UDP, an answer bigger than the client's
                            EDNS payload (512 bytes without EDNS) goes out truncated (TC bit, no
                            records), so the client retries over TCP, as real servers do
    bytes                   sent as is (over TCP the two-byte length prefix is added)
    None                    nothing: the query is dropped and the client times out
    Delayed(seconds, x)     x, after a pause (cut short when the server stops)
    Elsewhere(host, x)      x, sent over UDP from another local address `host` (a server whose
                            answers do not come from the address asked); over TCP, x as is
    a list of the above     each in turn (e.g. a reply with the wrong ID, then the right one)

Ready-made handlers and combinators: `zone(records)` answers from a dict with NXDOMAIN and
NODATA (with an SOA) for what it lacks; `rcode(dns.rcode.SERVFAIL)`, `servfail`, `refused`;
`drop`; `truncate_udp(h)` answers UDP with TC only and TCP with `h`; `delayed(s, h)`;
`wrong_id(h)`; `answer_for(name, h)` (an answer about another name); `big_txt(n)` builds TXT
records of about n bytes for an answer that only fits over TCP (up to 64 KB); `spf_tree(width)`
answers every TXT question with an SPF record of `width` includes one level further down, an
endless tree of includes.

The default handler answers REFUSED to everything, so a test that forgot to set one fails loudly.
`queries` counts queries per transport; `requests` keeps them, in order of arrival.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import re
import selectors
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

__all__ = [
    "DNSServer",
    "Delayed",
    "Elsewhere",
    "Handler",
    "Response",
    "Transport",
    "answer_for",
    "big_txt",
    "delayed",
    "drop",
    "rcode",
    "refused",
    "servfail",
    "spf_tree",
    "truncate_udp",
    "wrong_id",
    "zone",
]

Transport = Literal["udp", "tcp"]


@dataclass(frozen=True)
class Delayed:
    """Send `response` after `seconds` (interrupted, and nothing sent, if the server stops)."""

    seconds: float
    response: Response


@dataclass(frozen=True)
class Elsewhere:
    """Send `response` over UDP from `host`, another loopback address (port chosen by the system)."""

    host: str
    response: Response


Response: TypeAlias = "dns.message.Message | bytes | Delayed | Elsewhere | list[Response] | None"
Handler = Callable[[dns.message.Message, Transport], Response]

_POLL = 0.05  # how often idle threads look at the stop flag
_MAX_UDP_WITHOUT_EDNS = 512


class DNSServer:
    """A UDP+TCP DNS server on `host` (loopback only), port chosen by the system unless `port`
    names one (the BIND9 tier's hand-made servers sit on fixed addresses, port 53).

    Use it as a context manager, or call `start()` and `stop()`. `handler` may be replaced at
    any time; it is called from the server's threads, one per query, so a slow handler does
    not hold up other queries.
    """

    def __init__(self, handler: Handler | None = None, *, host: str = "127.0.0.1", port: int = 0) -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"test servers bind loopback only, not {host}")
        self.host = host
        self.port = port
        self.handler: Handler = handler if handler is not None else refused
        self.queries: Counter[Transport] = Counter()
        self.requests: list[tuple[Transport, dns.message.Message]] = []
        self.malformed = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    # Life cycle ----------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int]:
        """(host, port), as `dns.query.udp(q, *server.address)` takes them."""
        return self.host, self.port

    def start(self) -> DNSServer:
        self._udp, self._tcp = self._bind()
        self.port = self._udp.getsockname()[1]
        self._spawn(self._serve, "dns-server")
        return self

    def stop(self) -> None:
        """Stop serving and close the sockets; returns within a second whatever handlers do."""
        self._stopping.set()
        give_up = time.monotonic() + 1.0
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=max(0.0, give_up - time.monotonic()))
        for sock in (self._udp, self._tcp):
            if sock is not None:
                sock.close()

    def __enter__(self) -> DNSServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def resolver(self, *, timeout: float = 2.0) -> dns.resolver.Resolver:
        """A dnspython resolver that asks only this server."""
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [self.host]
        resolver.port = self.port
        resolver.timeout = timeout
        resolver.lifetime = timeout
        resolver.cache = None
        return resolver

    def reset_counts(self) -> None:
        with self._lock:
            self.queries.clear()
            self.requests.clear()
            self.malformed = 0

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # The same port for both transports: take a free UDP port, then TCP on it; another
        # process may hold that TCP port, so try again with a fresh UDP port.
        for _ in range(1 if self.port else 50):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            udp.bind((self.host, self.port))
            port = udp.getsockname()[1]
            tcp = socket.socket(family, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((self.host, port))
            except OSError as exc:
                udp.close()
                tcp.close()
                if exc.errno == errno.EADDRINUSE:
                    continue
                raise
            tcp.listen(16)
            udp.setblocking(False)
            tcp.setblocking(False)
            return udp, tcp
        raise OSError(errno.EADDRINUSE, f"no port free for both UDP and TCP on {self.host}")

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    # Serving -------------------------------------------------------------------------------

    def _serve(self) -> None:
        assert self._udp is not None and self._tcp is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._udp, selectors.EVENT_READ)
            selector.register(self._tcp, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for ready, _ in selector.select(_POLL):
                    if ready.fileobj is self._udp:
                        with contextlib.suppress(BlockingIOError, InterruptedError):
                            wire, peer = self._udp.recvfrom(65535)
                            self._spawn(self._answer_udp, "dns-udp", wire, peer)
                    else:
                        with contextlib.suppress(BlockingIOError, InterruptedError):
                            conn, _ = self._tcp.accept()
                            self._spawn(self._serve_tcp, "dns-tcp", conn)

    def _parse(self, wire: bytes, transport: Transport) -> dns.message.Message | None:
        try:
            request = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            with self._lock:
                self.malformed += 1
            return None
        with self._lock:
            self.queries[transport] += 1
            self.requests.append((transport, request))
        return request

    def _answer_udp(self, wire: bytes, peer: tuple[str, int]) -> None:
        request = self._parse(wire, "udp")
        if request is None:
            return
        max_size = request.payload if request.edns >= 0 else _MAX_UDP_WITHOUT_EDNS
        response = self.handler(request, "udp")
        assert self._udp is not None
        with contextlib.ExitStack() as stack:
            sender = self._udp
            if isinstance(response, Elsewhere):
                sender = stack.enter_context(socket.socket(self._udp.family, socket.SOCK_DGRAM))
                sender.bind((response.host, 0))
                response = response.response
            for message in self._outgoing(response):
                if isinstance(message, dns.message.Message):
                    message = _udp_wire(message, max(max_size, _MAX_UDP_WITHOUT_EDNS))
                with contextlib.suppress(OSError):  # the socket closes when the server stops
                    sender.sendto(message, peer)

    def _serve_tcp(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(_POLL)
            while not self._stopping.is_set():
                try:
                    (length,) = struct.unpack("!H", self._recv_exactly(conn, 2))
                    wire = self._recv_exactly(conn, length)
                except (ConnectionError, EOFError, OSError):
                    return
                request = self._parse(wire, "tcp")
                if request is None:
                    return
                for message in self._outgoing(self.handler(request, "tcp")):
                    if isinstance(message, dns.message.Message):
                        message = message.to_wire(max_size=65535)
                    try:
                        conn.settimeout(2.0)  # a 64 KB answer may need the client to read first
                        conn.sendall(struct.pack("!H", len(message)) + message)
                        conn.settimeout(_POLL)
                    except OSError:
                        return

    def _recv_exactly(self, conn: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            try:
                chunk = conn.recv(size - len(data))
            except TimeoutError:
                if self._stopping.is_set():
                    raise EOFError from None
                continue
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _outgoing(self, response: Response) -> Iterator[dns.message.Message | bytes]:
        """Flatten a handler's response into the messages to send, sleeping where it says so."""
        if response is None:
            return
        if isinstance(response, list):
            for part in response:
                yield from self._outgoing(part)
        elif isinstance(response, Delayed):
            if not self._stopping.wait(response.seconds):
                yield from self._outgoing(response.response)
        elif isinstance(response, Elsewhere):
            yield from self._outgoing(response.response)  # over TCP (UDP unwraps it first)
        else:
            yield response


def _udp_wire(message: dns.message.Message, max_size: int) -> bytes:
    try:
        return message.to_wire(max_size=max_size)
    except dns.exception.TooBig:
        truncated = _reply_like(message)
        truncated.flags |= dns.flags.TC
        return truncated.to_wire(max_size=max_size)


def _reply_like(message: dns.message.Message) -> dns.message.Message:
    """A copy of `message`'s header, question and EDNS, without records."""
    copy = dns.message.Message(id=message.id)
    copy.flags = message.flags
    copy.question = list(message.question)
    if message.edns >= 0:
        copy.use_edns(message.edns, message.ednsflags, message.payload)
    return copy


# Handlers ----------------------------------------------------------------------------------


def rcode(code: dns.rcode.Rcode) -> Handler:
    """A handler that answers every query with `code` and no records."""

    def handler(request: dns.message.Message, transport: Transport) -> Response:
        response = dns.message.make_response(request)
        response.set_rcode(code)
        return response

    return handler


servfail = rcode(dns.rcode.SERVFAIL)
refused = rcode(dns.rcode.REFUSED)


def drop(request: dns.message.Message, transport: Transport) -> Response:
    """Never answer (the client times out)."""
    return None


def delayed(seconds: float, handler: Handler) -> Handler:
    """`handler`'s answer, sent `seconds` late."""

    def wrapper(request: dns.message.Message, transport: Transport) -> Response:
        return Delayed(seconds, handler(request, transport))

    return wrapper


def truncate_udp(handler: Handler) -> Handler:
    """Over UDP, an empty answer with the TC bit; over TCP, `handler`'s answer."""

    def wrapper(request: dns.message.Message, transport: Transport) -> Response:
        if transport == "tcp":
            return handler(request, transport)
        response = dns.message.make_response(request)
        response.flags |= dns.flags.TC
        return response

    return wrapper


def wrong_id(handler: Handler) -> Handler:
    """`handler`'s answer with a message ID that does not match the query's."""

    def wrapper(request: dns.message.Message, transport: Transport) -> Response:
        response = handler(request, transport)
        if isinstance(response, dns.message.Message):
            response.id = (request.id + 1) % 65536
        return response

    return wrapper


def answer_for(name: str, handler: Handler) -> Handler:
    """An answer about `name` (question and records) whatever the query asked, with its ID."""

    def wrapper(request: dns.message.Message, transport: Transport) -> Response:
        question = request.question[0]
        other = dns.message.make_query(name, question.rdtype, question.rdclass, id=request.id)
        other.flags = request.flags
        return handler(other, transport)

    return wrapper


RecordKey = tuple[str, str]
Records = Mapping[RecordKey, Sequence[str] | str]


def zone(records: Records, *, origin: str | None = None, ttl: int = 300) -> Handler:
    """Answer authoritatively from `records`, like a server for one zone.

    `records` maps (owner name, type) to rdata in zone-file text, e.g.
    `{("www.example.com.", "A"): ["192.0.2.1"], ("example.com.", "TXT"): ['"v=spf1 -all"']}`.
    A CNAME is followed within the records. A name that has records of other types (or
    names below it) gets NODATA, any other name NXDOMAIN, both with the zone's SOA in the
    authority section. The zone apex is `origin`, by default the longest common suffix of
    the owner names.
    """
    table: dict[tuple[dns.name.Name, dns.rdatatype.RdataType], list[str]] = {}
    for (owner, rdtype), values in records.items():
        table[(dns.name.from_text(owner), dns.rdatatype.from_text(rdtype))] = (
            [values] if isinstance(values, str) else list(values)
        )
    apex = dns.name.from_text(origin) if origin is not None else _common_suffix([n for n, _ in table])
    soa_key = (apex, dns.rdatatype.SOA)
    if soa_key not in table:
        table[soa_key] = [f"ns1.{apex} hostmaster.{apex} 1 3600 600 86400 {ttl}"]
    names = {n for n, _ in table}

    def exists(name: dns.name.Name) -> bool:
        return any(n == name or n.is_subdomain(name) for n in names)

    def handler(request: dns.message.Message, transport: Transport) -> Response:
        response = dns.message.make_response(request)
        response.flags |= dns.flags.AA
        question = request.question[0]
        name, rdtype = question.name, question.rdtype
        for _ in range(8):  # CNAME chain, bounded
            values = table.get((name, rdtype))
            if values is not None:
                response.answer.append(dns.rrset.from_text_list(name, ttl, "IN", rdtype, values))
                return response
            cname = table.get((name, dns.rdatatype.CNAME))
            if cname is None or rdtype == dns.rdatatype.CNAME:
                break
            rrset = dns.rrset.from_text_list(name, ttl, "IN", "CNAME", cname[:1])
            response.answer.append(rrset)
            name = dns.name.from_text(cname[0])
        if not exists(name):
            response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(dns.rrset.from_text_list(apex, ttl, "IN", "SOA", table[soa_key]))
        return response

    return handler


def _common_suffix(names: Sequence[dns.name.Name]) -> dns.name.Name:
    if not names:
        return dns.name.root
    suffix = names[0]
    for name in names[1:]:
        while not name.is_subdomain(suffix):
            suffix = suffix.parent()
    return suffix


def big_txt(total_bytes: int = 60_000, *, chunk: int = 200) -> list[str]:
    """TXT rdata, in zone-file text, adding up to about `total_bytes` on the wire.

    Each record carries one `chunk`-byte string, so (with name compression) a record costs
    about chunk + 13 bytes. The default makes an answer of about 60 KB: too big for UDP,
    within TCP's 64 KB.
    """
    count = max(1, total_bytes // (chunk + 13))
    return [f'"{index:06d}{"x" * (chunk - 6)}"' for index in range(count)]


def spf_tree(width: int = 40) -> Handler:
    """A hostile zone: TXT for any name is `v=spf1 include:l{n+1}-0.test ... include:l{n+1}-{width-1}.test
    -all`, where n is the level of the name asked (`l{n}-{i}.test`; 0 for any other name), so
    that every include leads to `width` more, without end. Other types get an empty answer."""
    level = re.compile(r"^l(\d+)-\d+\.test\.$", re.IGNORECASE)

    def handler(request: dns.message.Message, transport: Transport) -> Response:
        response = dns.message.make_response(request)
        question = request.question[0]
        if question.rdtype != dns.rdatatype.TXT:
            return response
        found = level.match(question.name.to_text())
        below = int(found.group(1)) + 1 if found else 1
        record = " ".join(["v=spf1", *(f"include:l{below}-{i}.test" for i in range(width)), "-all"])
        # A TXT string holds at most 255 bytes; receivers join a record's strings.
        strings = " ".join(f'"{record[at : at + 255]}"' for at in range(0, len(record), 255))
        response.answer.append(dns.rrset.from_text_list(question.name, 300, "IN", "TXT", [strings]))
        return response

    return handler
