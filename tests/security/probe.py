"""The refusal matrix: every tool that connects, against every spelling of an internal address.

Used in two places: in-process by the pytest tests (addresses whose dial would land on loopback,
where the isolation guard and a local `Listener` prove nothing was dialled), and inside a network
namespace with no route out (`python -m security.probe`, run by test_matrix_netns.py) for the
non-loopback addresses, so that a broken policy fails locally instead of sending a packet.

A case is one tool call through the in-process MCP client with the default settings. Its outcome
is the refusal message the caller saw (a ToolError's text, or a finding's message anywhere in the
structured result) and every connect/sendto the process attempted while the call ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from ipaddress import ip_address
from typing import Any, Protocol, TypeVar, cast

__all__ = [
    "EXOTIC_HOSTS",
    "LOOPBACK_NAMES",
    "LOOPBACK_SPELLINGS",
    "NETNS_NAMES",
    "NETNS_SPELLINGS",
    "NETNS_TARGETS",
    "WIDENED_NETNS",
    "Case",
    "DialRecorder",
    "Listener",
    "Outcome",
    "Spelling",
    "cases_for",
    "exotic_cases",
    "name_records",
    "refusal_in",
    "refusal_problems",
    "run_cases",
    "run_sealed",
    "unshare_command",
    "watched",
]


class _HasPort(Protocol):
    @property
    def port(self) -> int: ...


ServerT = TypeVar("ServerT", bound=_HasPort)

DESCRIPTIONS = {
    "loopback": "loopback address",
    "private": "private address",
    "link-local": "link-local address",
    "cgnat": "carrier-grade NAT address",
    "unique-local": "unique-local address",
    "multicast": "multicast address",
    "unspecified": "unspecified address",
    "reserved": "reserved address",
}


@dataclass(frozen=True)
class Spelling:
    """One way of writing an internal address: as a URL host and as a bare host."""

    text: str  # as written in a URL's authority (IPv6 in brackets)
    category: str  # what the policy must call it
    address: str  # the address it stands for (compressed)

    @property
    def is_name(self) -> bool:
        """A host name (looked up), not an address literal."""
        from monitor_common.targets import parse_ip

        return parse_ip(self.text) is None

    @property
    def bare(self) -> str:
        """The host as tools that take a host (not a URL) receive it."""
        return self.text

    def host_port(self, port: int) -> str:
        return f"{self.text}:{port}"

    def url(self, scheme: str, port: int, path: str = "/") -> str:
        return f"{scheme}://{self.text}:{port}{path}"


def _s(text: str, category: str, address: str) -> Spelling:
    return Spelling(text, category, address)


# Spellings whose dial, were the policy broken, would reach this machine's loopback: safe in-process.
LOOPBACK_SPELLINGS: tuple[Spelling, ...] = (
    _s("127.0.0.1", "loopback", "127.0.0.1"),
    _s("127.1", "loopback", "127.0.0.1"),
    _s("0x7f000001", "loopback", "127.0.0.1"),
    _s("2130706433", "loopback", "127.0.0.1"),
    _s("017700000001", "loopback", "127.0.0.1"),
    _s("0x7f.1", "loopback", "127.0.0.1"),
    _s("0177.0.0.1", "loopback", "127.0.0.1"),
    _s("127.000.000.001", "loopback", "127.0.0.1"),
    _s("127.0.0.1.", "loopback", "127.0.0.1"),
    _s("127.255.255.254", "loopback", "127.255.255.254"),
    _s("[::1]", "loopback", "::1"),
    _s("[0:0:0:0:0:0:0:1]", "loopback", "::1"),
    _s("[::ffff:127.0.0.1]", "loopback", "::ffff:7f00:1"),
    _s("[::ffff:7f00:1]", "loopback", "::ffff:7f00:1"),
    _s("0X7F.0.0.1", "loopback", "127.0.0.1"),
    _s("127.0.1", "loopback", "127.0.0.1"),
    _s("\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11", "loopback", "127.0.0.1"),  # full-width
    _s("[::FFFF:7F00:1]", "loopback", "::ffff:7f00:1"),
    _s("[0::1]", "loopback", "::1"),
    _s("localhost", "loopback", "127.0.0.1|::1"),
    _s("LOCALHOST", "loopback", "127.0.0.1|::1"),
)

# Spellings of addresses beyond loopback: only ever dialled inside the sealed namespace.
NETNS_SPELLINGS: tuple[Spelling, ...] = (
    _s("10.0.0.1", "private", "10.0.0.1"),
    _s("10.1", "private", "10.0.0.1"),
    _s("0x0a000001", "private", "10.0.0.1"),
    _s("167772161", "private", "10.0.0.1"),
    _s("012.0.0.1", "private", "10.0.0.1"),
    _s("172.16.0.1", "private", "172.16.0.1"),
    _s("192.168.1.1", "private", "192.168.1.1"),
    _s("169.254.169.254", "link-local", "169.254.169.254"),
    _s("0xa9fea9fe", "link-local", "169.254.169.254"),
    _s("2852039166", "link-local", "169.254.169.254"),
    _s("0251.0376.0251.0376", "link-local", "169.254.169.254"),
    _s("[::ffff:169.254.169.254]", "link-local", "::ffff:a9fe:a9fe"),
    _s("[fe80::1]", "link-local", "fe80::1"),
    _s("100.64.0.1", "cgnat", "100.64.0.1"),
    _s("100.127.255.254", "cgnat", "100.127.255.254"),
    _s("[fc00::1]", "unique-local", "fc00::1"),
    _s("[fd12:3456::1]", "unique-local", "fd12:3456::1"),
    _s("0.0.0.0", "unspecified", "0.0.0.0"),
    _s("0", "unspecified", "0.0.0.0"),
    _s("[::]", "unspecified", "::"),
    _s("[64:ff9b::7f00:1]", "loopback", "64:ff9b::7f00:1"),
    _s("[64:ff9b::a9fe:a9fe]", "link-local", "64:ff9b::a9fe:a9fe"),
    _s("[::127.0.0.1]", "loopback", "::7f00:1"),
    _s("[2002:7f00:1::1]", "loopback", "2002:7f00:1::1"),
    _s("[2002:a00:1::1]", "private", "2002:a00:1::1"),
    _s("224.0.0.1", "multicast", "224.0.0.1"),
    _s("[ff02::1]", "multicast", "ff02::1"),
    _s("240.0.0.1", "reserved", "240.0.0.1"),
    _s("192.0.2.1", "reserved", "192.0.2.1"),
)


# Malformed or unusual host text around 127.0.0.1 / ::1 / localhost: each must be refused by the
# policy or rejected as input (a ToolError saying what is wrong), never dialled.
EXOTIC_HOSTS: tuple[str, ...] = (
    "%31%32%37.0.0.1",
    "127.0.0.1%2e",
    "0x7f.0x0.0x0.0x1",
    "0177.1",
    "00000177.0.0.1",
    "0x00007f.1",
    "127.0.0.0x1",
    "127.1.",
    "2130706433.",
    "127\u30020\u30020\u30021",  # ideographic full stops
    "\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3",  # circled letters: localhost under UTS 46
    "LocalHost",
    "localhost.",
    "[::ffff:127.0.0.1%25lo]",
    "[0:0:0:0:0:ffff:127.0.0.1]",
    "[::ffff:0:127.0.0.1]",
    "[0000::0001]",
    "[::1]%2f",
    "[::1]:",
    " 127.0.0.1",
    "127.0.0.1\t",
    "user@127.0.0.1",
    "example.com@127.0.0.1",
    "127.0.0.1#@example.com",
    "127.0.0.1\\@example.com",
)


def exotic_cases(host: str, port: int) -> list[Case]:
    """The URL, host and DNS-server forms of one unusual host text."""
    # Judged as what they stand for (the label shows the text given).
    s, t, shown = (
        Spelling("127.0.0.1", "loopback", "127.0.0.1|::1|::ffff:7f00:1|::ffff:0:7f00:1"),
        {"timeout_s": 2},
        repr(host),
    )
    return [
        Case("http", "http_check", {"url": f"http://{host}:{port}/", **t}, s, shown),
        Case("http", "tcp_check", {"host": host, "port": port, **t}, s, shown),
        Case("ssl", "cert_check", {"host": host, "port": port, **t}, s, shown),
        Case("dns", "dns_lookup", {"name": "example.com", "server": f"{host}:{port}", **t}, s, shown),
    ]


# Names the local DNS server answers with internal addresses: (spelling, record type).
LOOPBACK_NAMES: tuple[tuple[Spelling, str], ...] = (
    (_s("loop4.test", "loopback", "127.0.0.1"), "A"),
    (_s("loop6.test", "loopback", "::1"), "AAAA"),
    (_s("mapped.test", "loopback", "::ffff:7f00:1"), "AAAA"),
)
NETNS_NAMES: tuple[tuple[Spelling, str], ...] = (
    (_s("intranet.test", "private", "10.0.0.1"), "A"),
    (_s("metadata.test", "link-local", "169.254.169.254"), "A"),
    (_s("cgnat.test", "cgnat", "100.64.0.1"), "A"),
    (_s("ula.test", "unique-local", "fd00::1"), "AAAA"),
    (_s("zero.test", "unspecified", "0.0.0.0"), "A"),
    (_s("nat64.test", "link-local", "64:ff9b::a9fe:a9fe"), "AAAA"),
    (_s("sixtofour.test", "private", "2002:a00:1::1"), "AAAA"),
)


# Widened policies (as the operator sets them) and whether each address is then allowed.
WIDENED_NETNS: tuple[tuple[dict[str, str], dict[str, bool]], ...] = (
    (
        {"MCP_MONITOR_ALLOW_NETWORKS": "10.0.0.0/8"},
        {
            "10.1.2.3": True,
            "10.255.255.254": True,
            "[::ffff:10.1.2.3]": True,
            "172.16.0.1": False,
            "169.254.169.254": False,
        },
    ),
    (
        {"MCP_MONITOR_ALLOW_NETWORKS": "fd00::1/128,169.254.169.254/32"},
        {
            "[fd00::1]": True,
            "[fd00::2]": False,
            "169.254.169.254": True,
            "169.254.169.253": False,
            "10.0.0.1": False,
        },
    ),
    (
        {"MCP_MONITOR_ALLOW_PRIVATE": "true"},
        {"169.254.169.254": True, "[fd00::1]": True, "100.64.0.1": True, "0.0.0.0": True},
    ),
)


def name_records(names: Sequence[tuple[Spelling, str]]) -> dict[tuple[str, str], list[str]]:
    """The zone that makes each name resolve to its internal address (TTL left to `zone`)."""
    return {(f"{s.text}.", rdtype): [s.address] for s, rdtype in names}


@dataclass(frozen=True)
class Case:
    """One tool call: `server` is http, ssl or dns; `spelling` the address it names."""

    server: str
    tool: str
    arguments: Mapping[str, Any]
    spelling: Spelling
    variant: str = ""  # which argument carries the address, when a tool has several

    @property
    def named(self) -> bool:
        """Whether the address stands for another name than the spelling (a connect_ip override,
        the MTA-STS host of a domain)."""
        return self.variant.startswith(("connect_ip", "mta-sts"))

    @property
    def label(self) -> str:
        variant = f"[{self.variant}]" if self.variant else ""
        return f"{self.tool}{variant} {self.spelling.text}"


@dataclass
class Outcome:
    label: str
    tool: str
    category: str
    is_error: bool
    message: str | None  # the refusal message found, if any
    text: str  # what the caller saw (error text, or the summary)
    named: bool = False
    dials: list[str] = field(default_factory=lambda: [])


def cases_for(spelling: Spelling, port: int, *, watches: bool = True) -> list[Case]:
    """Every tool of the three servers that connects, pointed at `spelling` on `port`.

    A host name is left out of the arguments that take addresses only (connect_ip, DNS servers),
    where it is refused as input before anything else.
    """
    s, t = spelling, {"timeout_s": 2}
    http_url, https_url, hp = s.url("http", port), s.url("https", port), s.host_port(port)
    doh = s.url("https", port, "/dns-query")
    cases = [
        Case("http", "http_check", {"url": http_url, **t}, s),
        Case("http", "http_check", {"url": https_url, **t}, s, "https"),
        Case("http", "http_check_many", {"urls": [http_url], **t}, s),
        Case("http", "http_timing", {"url": http_url, "samples": 1, **t}, s),
        Case("http", "http_check_each_ip", {"url": http_url, **t}, s),
        Case("http", "http_redirects", {"url": http_url, **t}, s),
        Case("http", "http_security_headers", {"url": https_url, **t}, s),
        Case("http", "tcp_check", {"host": s.bare, "port": port, **t}, s),
        Case("http", "tcp_check", {"host": s.bare, "port": port, "tls": True, **t}, s, "tls"),
        Case("ssl", "cert_check", {"host": s.bare, "port": port, **t}, s),
        Case("ssl", "cert_check", {"host": s.bare, "port": port, "starttls": "smtp", **t}, s, "smtp"),
        Case("ssl", "cert_check_many", {"targets": [hp], **t}, s),
        Case("ssl", "tls_scan", {"host": s.bare, "port": port, **t}, s),
        Case("ssl", "cert_compare_endpoints", {"host": s.bare, "port": port, **t}, s),
        Case("ssl", "cert_revocation", {"host": s.bare, "port": port, **t}, s),
        Case(
            "dns",
            "dns_lookup",
            {"name": "example.com", "server": s.url("https", port, "/dns-query"), **t},
            s,
            "doh",
        ),
        Case(
            "dns",
            "dns_propagation",
            {"name": "example.com", "resolvers": [doh], "include_authoritative": False, **t},
            s,
            "doh",
        ),
        Case(
            "dns",
            "dns_lookup",
            {"name": "example.com", "server": doh, "record_types": ["A", "AAAA", "MX"], **t},
            s,
            "doh-many",
        ),
        Case("dns", "reverse_dns", {"target": "192.0.2.1", "server": doh, **t}, s, "doh"),
        Case("dns", "email_auth_check", {"domain": "example.com", "server": doh, **t}, s, "doh"),
    ]
    if not s.is_name:
        cases += [
            Case(
                "http",
                "http_check",
                {"url": f"http://example.com:{port}/", "connect_ip": s.text, **t},
                s,
                "connect_ip",
            ),
            Case(
                "ssl",
                "cert_check",
                {"host": "example.com", "port": port, "connect_ip": s.text, **t},
                s,
                "connect_ip",
            ),
            Case(
                "ssl",
                "cert_compare_endpoints",
                {"host": "example.com", "port": port, "connect_ips": [s.text], **t},
                s,
                "connect_ips",
            ),
            Case("dns", "dns_lookup", {"name": "example.com", "server": hp, **t}, s),
            Case("dns", "dns_lookup", {"name": "example.com", "server": f"tls://{hp}", **t}, s, "dot"),
            Case(
                "dns",
                "dns_propagation",
                {"name": "example.com", "resolvers": [hp], "include_authoritative": False, **t},
                s,
            ),
            Case("dns", "reverse_dns", {"target": "192.0.2.1", "server": hp, **t}, s),
            Case("dns", "email_auth_check", {"domain": "example.com", "server": hp, **t}, s),
        ]
    if watches:
        cases += [
            Case("http", "http_watch", {"action": "add", "url": http_url, **t}, s),
            Case("ssl", "cert_watch", {"action": "add", "host": s.bare, "port": port, **t}, s),
        ]
        if not s.is_name:
            cases.append(
                Case("dns", "dns_watch", {"action": "add", "domain": "example.com", "server": hp, **t}, s)
            )
    return cases


# --- observing dials ------------------------------------------------------------------------------


class DialRecorder:
    """Records every connect/connect_ex/sendto of this process (on top of whatever is patched)."""

    def __init__(self) -> None:
        self.dials: list[str] = []
        self._lock = threading.Lock()

    # The local test servers' own threads (DNS answers go out with sendto) are not the code under test.
    SERVER_THREADS = ("dns-", "http-server", "tls-server")

    def _note(self, what: str, address: Any) -> None:
        if threading.current_thread().name.startswith(self.SERVER_THREADS):
            return
        if isinstance(address, tuple) and len(cast("tuple[Any, ...]", address)) >= 2:
            host, port = cast("tuple[Any, ...]", address)[:2]
            shown = f"{what} {host}:{port}"
            with self._lock:
                self.dials.append(shown)

    def take(self) -> list[str]:
        with self._lock:
            dials, self.dials = self.dials, []
        return dials

    @contextlib.contextmanager
    def installed(self) -> Iterator[DialRecorder]:
        sock = socket.socket
        connect, connect_ex, sendto = sock.connect, sock.connect_ex, sock.sendto
        recorder = self

        def rec_connect(self: socket.socket, address: Any) -> None:
            recorder._note("connect", address)
            return connect(self, address)

        def rec_connect_ex(self: socket.socket, address: Any) -> int:
            recorder._note("connect", address)
            return connect_ex(self, address)

        def rec_sendto(self: socket.socket, data: Any, *args: Any) -> int:
            recorder._note("sendto", args[-1])
            return sendto(self, data, *args)

        sock.connect = rec_connect  # type: ignore[method-assign]
        sock.connect_ex = rec_connect_ex  # type: ignore[method-assign]
        sock.sendto = rec_sendto  # type: ignore[method-assign]
        try:
            yield self
        finally:
            sock.connect, sock.connect_ex, sock.sendto = connect, connect_ex, sendto  # type: ignore[method-assign]


class Listener:
    """TCP and UDP on one port of `hosts` (loopback), counting every connection and datagram.

    Pointed at by the cases: had a refused address been dialled, it would have landed here.
    `port` 0 picks a port free on every host; `hits` names the host that was reached.
    """

    def __init__(self, hosts: Sequence[str] = ("127.0.0.1", "::1"), port: int = 0) -> None:
        self.hosts = tuple(hosts)
        self.hits: list[str] = []
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()
        self.port = port

    def __enter__(self) -> Listener:
        for _ in range(1 if self.port else 20):  # find a port free on every host, both protocols
            try:
                self._bind()
                break
            except OSError:
                for sock in self._sockets:
                    sock.close()
                self._sockets = []
        else:
            raise RuntimeError(f"no port free on {self.hosts} for TCP and UDP")
        for sock in self._sockets:
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()
        return self

    def _bind(self) -> None:
        port = self.port
        for host in self.hosts:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                sock = socket.socket(family, kind)
                self._sockets.append(sock)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((host, port))
                port = sock.getsockname()[1]
        self.port = port
        for sock in self._sockets:
            if sock.type == socket.SOCK_STREAM:
                sock.listen(64)
            sock.settimeout(0.05)

    async def wait_for_hit(self, seconds: float = 2.0) -> None:
        """Give the accepting threads time to note a connection that was made."""
        for _ in range(int(seconds / 0.01)):
            if self.hits:
                return
            await asyncio.sleep(0.01)

    def _serve(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                if sock.type == socket.SOCK_STREAM:
                    conn, _ = sock.accept()
                    conn.close()
                    self.hits.append(f"tcp to {sock.getsockname()[0]}")
                else:
                    sock.recvfrom(65536)
                    self.hits.append(f"udp to {sock.getsockname()[0]}")
            except TimeoutError:
                continue
            except OSError:
                return

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for sock in self._sockets:
            sock.close()


@contextlib.contextmanager
def watched(
    start: Callable[[], contextlib.AbstractContextManager[ServerT]], hosts: Sequence[str]
) -> Iterator[tuple[ServerT, Listener]]:
    """A server from `start()` (with a `port`), and a `Listener` on that port of `hosts`.

    For the cases where a refused address would be dialled on the allowed server's port (a DNS
    answer that changes, glue pointing elsewhere): the listener sees such a dial. When the port is
    taken on `hosts` (ports are shared with every other program), the server is started again.
    """
    for _ in range(10):
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(start())
            try:
                listener = stack.enter_context(Listener(hosts, port=server.port))
            except RuntimeError:
                continue
            yield server, listener
            return
    raise RuntimeError(f"no port free on {hosts} and the server's address at once")


# --- running --------------------------------------------------------------------------------------


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in cast("Mapping[str, Any]", value).values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in cast("Sequence[Any]", value):
            yield from _strings(item)


def refusal_in(texts: Sequence[str]) -> str | None:
    """The first policy refusal message among `texts`."""
    for text in texts:
        start = text.find("refused to connect to ")
        if start != -1:
            return text[start:]
    return None


def refusal_problems(outcome: Outcome, spelling: Spelling, *, named: bool = False) -> list[str]:
    """What is wrong with an outcome that should be a refusal of `spelling` (empty: nothing).

    `named`: the caller gave a host name that stands for the address (a DNS answer, or a host
    with a connect_ip override); otherwise the refusal must not claim the address was resolved.
    """
    problems: list[str] = []
    if outcome.dials:
        problems.append(f"dialled {outcome.dials}")
    message = outcome.message
    if message is None:
        problems.append(f"no refusal: {outcome.text[:300]!r}")
        return problems
    shown = [ip_address(a).compressed for a in spelling.address.split("|")]
    if not any(message.startswith(f"refused to connect to {a} ") for a in shown):
        problems.append(f"refusal names another address than {' or '.join(shown)}: {message!r}")
    if f"({DESCRIPTIONS[spelling.category]}" not in message:
        problems.append(f"refusal does not say {DESCRIPTIONS[spelling.category]!r}: {message!r}")
    named = named or outcome.named
    if spelling.is_name and not named and f"resolved from {spelling.text.lower()!r}" not in message:
        problems.append(
            f"refusal does not name {spelling.text!r} as where the address came from: {message!r}"
        )
    if not (named or spelling.is_name) and "resolved from" in message:
        problems.append(f"refusal calls the literal {spelling.text!r} a name: {message!r}")
    hosts = [w.rstrip(",") for w in message.split() if w.startswith("MCP_MONITOR_ALLOW_HOSTS=")]
    if any(not re.fullmatch(r"MCP_MONITOR_ALLOW_HOSTS=[a-z0-9_.-]+", h) for h in hosts):
        problems.append(f"refusal suggests allowing a host that is not a host name: {message!r}")
    if "MCP_MONITOR_ALLOW_NETWORKS=" not in message or "MCP_MONITOR_ALLOW_PRIVATE=true" not in message:
        problems.append(f"refusal does not say how to allow it: {message!r}")
    return problems


def servers() -> dict[str, Any]:
    from dns_monitor.server import mcp as dns_mcp
    from http_monitor.server import mcp as http_mcp
    from ssl_monitor.server import mcp as ssl_mcp

    return {"http": http_mcp, "ssl": ssl_mcp, "dns": dns_mcp}


async def run_cases(
    cases: Sequence[Case], recorder: DialRecorder, *, infrastructure: Sequence[str] = ()
) -> list[Outcome]:
    """Run `cases` through one in-process client per server, noting the dials of each call.

    Dials to `infrastructure` ("host:port" the operator configured, such as the resolver) are
    allowed and not noted.
    """
    from mcp import Client

    outcomes: list[Outcome] = []
    mcps = servers()
    async with contextlib.AsyncExitStack() as stack:
        clients = {name: await stack.enter_async_context(Client(server)) for name, server in mcps.items()}
        for case in cases:
            recorder.take()
            result = await clients[case.server].call_tool(case.tool, dict(case.arguments))
            texts = [c.text for c in result.content if c.type == "text"]
            structured = result.structured_content
            found = [*texts, *_strings(structured)] if not result.is_error else texts
            summary = " ".join(texts) if result.is_error else str((structured or {}).get("summary", texts))
            outcomes.append(
                Outcome(
                    label=case.label,
                    tool=case.tool,
                    category=case.spelling.category,
                    is_error=result.is_error,
                    message=refusal_in(found),
                    text=summary,
                    named=case.named,
                    dials=[d for d in recorder.take() if d.split(" ", 1)[1] not in infrastructure],
                )
            )
    return outcomes


def unshare_command() -> tuple[list[str] | None, str]:
    """The unshare invocation that makes a network namespace here, or None and why none does."""
    import os
    import shutil
    import subprocess

    if shutil.which("unshare") is None:
        return None, "needs unshare (util-linux) to run the probes in an isolated network namespace"
    candidates = [["unshare", "-n"], ["unshare", "-rn"]] if os.geteuid() == 0 else [["unshare", "-rn"]]
    errors: list[str] = []
    for command in candidates:
        trial = subprocess.run([*command, "true"], capture_output=True, text=True, timeout=30, check=False)
        if trial.returncode == 0:
            return command, ""
        errors.append(f"{' '.join(command)}: {trial.stderr.strip() or trial.returncode}")
    return None, "cannot create a network namespace (" + "; ".join(errors) + ")"


def run_sealed(args: list[str], *, timeout: float) -> dict[str, Any]:
    """Run `python ARGS` in a new network namespace with tests/ on its path; its JSON report.

    Skips the calling test when no namespace can be made here; fails it when the child does.
    """
    import os
    import subprocess
    from pathlib import Path

    import pytest

    command, why = unshare_command()
    if command is None:
        pytest.skip(why)
    tests = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [*command, sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return cast("dict[str, Any]", json.loads(done.stdout))


def _loopback_up() -> None:
    """Bring `lo` up in this (new, empty) network namespace, for the local DNS and HTTP servers."""
    import fcntl
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def _routes() -> list[str]:
    """The namespace's routes other than loopback's own (there must be none)."""
    found: list[str] = []
    with open("/proc/net/route") as table:
        found += [line.split()[0] for line in table.readlines()[1:] if line.split()[0] != "lo"]
    with open("/proc/net/ipv6_route") as table:
        found += [line.split()[-1] for line in table if line.split()[-1] != "lo"]
    return found


def _outcomes(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    return [asdict(o) for o in outcomes]


async def _netns_suites(tmp: str) -> dict[str, Any]:
    from monitor_common.config import Settings, set_settings
    from support.dns_server import DNSServer, zone

    recorder = DialRecorder()
    report: dict[str, Any] = {}
    with recorder.installed():
        set_settings(Settings(db=f"{tmp}/spellings.db"))
        cases = [case for spelling in NETNS_SPELLINGS for case in cases_for(spelling, 8443)]
        report["spellings"] = _outcomes(await run_cases(cases, recorder))

        with DNSServer(zone(name_records(NETNS_NAMES), ttl=0)) as dns:
            resolver = f"{dns.host}:{dns.port}"
            set_settings(Settings(db=f"{tmp}/names.db", resolver=resolver))
            cases = [case for spelling, _ in NETNS_NAMES for case in cases_for(spelling, 8443)]
            report["names"] = _outcomes(await run_cases(cases, recorder, infrastructure=[resolver]))

        widened: list[dict[str, Any]] = []
        for environ, expected in WIDENED_NETNS:
            set_settings(Settings.load(environ=environ))
            cases = [
                Case("http", "tcp_check", {"host": host, "port": 8443, "timeout_s": 2}, NETNS_SPELLINGS[0])
                for host in expected
            ]
            for (host, allowed), outcome in zip(
                expected.items(), await run_cases(cases, recorder), strict=True
            ):
                widened.append({"environ": environ, "host": host, "allowed": allowed, **asdict(outcome)})
        report["widened"] = widened

        fetches, first_hops, dns_queries = await _fetch_suite(tmp, recorder)
        report["fetches"] = _outcomes(fetches)
        report["fetch_servers"] = {"http_requests": first_hops, "dns_queries": dns_queries}

        # Controls: allowed, the same calls dial, and fail inside the namespace (no route out).
        set_settings(Settings(allow_private=True))
        controls = [
            Case("http", "tcp_check", {"host": "10.0.0.1", "port": 8443, "timeout_s": 2}, NETNS_SPELLINGS[0]),
            Case(
                "http", "http_check", {"url": "http://169.254.169.254/", "timeout_s": 2}, NETNS_SPELLINGS[7]
            ),
        ]
        report["controls"] = _outcomes(await run_cases(controls, recorder))
    return report


# Addresses beyond loopback that redirects and fetches are aimed at, inside the sealed namespace.
NETNS_TARGETS: tuple[tuple[Spelling, str], ...] = (
    (_s("169.254.169.254", "link-local", "169.254.169.254"), "http://169.254.169.254/latest/meta-data/"),
    (_s("0xa9fea9fe", "link-local", "169.254.169.254"), "http://0xa9fea9fe/latest/meta-data/"),
    (_s("10.0.0.1", "private", "10.0.0.1"), "http://10.0.0.1/"),
    (_s("[fd00::1]", "unique-local", "fd00::1"), "http://[fd00::1]/"),
    (_s("100.64.0.1", "cgnat", "100.64.0.1"), "http://100.64.0.1/"),
    (_s("metadata.test", "link-local", "169.254.169.254"), "http://metadata.test/latest/meta-data/"),
)


async def _fetch_suite(tmp: str, recorder: DialRecorder) -> tuple[list[Outcome], int, int]:
    """Redirects, MTA-STS, RDAP, CRL and OCSP aimed at NETNS_TARGETS, from servers on 127.0.0.2.

    The policy allows exactly 127.0.0.2, where the HTTP, TLS and DNS servers of the case run.
    """
    import ipaddress
    from urllib.parse import quote

    from monitor_common.config import Settings, set_settings
    from support.certs import CertAuthority, serve_tls
    from support.dns_server import DNSServer, zone
    from support.http_server import HttpServer

    records: dict[tuple[str, str], str | list[str]] = {("metadata.test.", "A"): "169.254.169.254"}
    for spelling, _ in NETNS_TARGETS:
        host = f"mta-sts.{spelling.text.strip('[]').replace(':', '-').replace('.', '-')}.test"
        ip = ipaddress.ip_address(spelling.address)
        records[(f"{host}.", "A" if ip.version == 4 else "AAAA")] = spelling.address
        records[(f"_mta-sts.{host[len('mta-sts.') :]}.", "TXT")] = '"v=STSv1; id=1"'
    ca = CertAuthority()
    cases: list[Case] = []
    with (
        DNSServer(zone(records, origin="test.", ttl=0), host="127.0.0.2") as dns,
        HttpServer(host="127.0.0.2") as web,
    ):
        resolver = f"127.0.0.2:{dns.port}"
        services = [[[f"tld{i}"], [target]] for i, (_, target) in enumerate(NETNS_TARGETS)]
        body = quote(json.dumps({"version": "1.0", "services": services}), safe="")
        bootstrap = web.url_for(f"/text?content_type=application/json&body={body}")
        set_settings(
            Settings(
                allow_networks=(ipaddress.ip_network("127.0.0.2/32"),),
                resolver=resolver,
                rdap_url=(f"bootstrap={bootstrap}",),
                db=f"{tmp}/fetches.db",
            )
        )
        t = {"timeout_s": 3}
        for i, (spelling, target) in enumerate(NETNS_TARGETS):
            for status in (301, 302, 307, 308):
                url = web.url_for(f"/redirect-to?status={status}&url={quote(target, safe='')}")
                for tool in ("http_check", "http_redirects", "http_security_headers"):
                    cases.append(Case("http", tool, {"url": url, **t}, spelling, f"redirect-{status}"))
                cases.append(
                    Case("http", "http_check_many", {"urls": [url], **t}, spelling, f"redirect-{status}")
                )
            domain = f"{spelling.text.strip('[]').replace(':', '-').replace('.', '-')}.test"
            cases.append(
                Case(
                    "dns",
                    "email_auth_check",
                    {"domain": domain, "server": resolver, **t},
                    spelling,
                    "mta-sts",
                )
            )
            cases.append(Case("dns", "domain_expiry", {"domain": f"example.tld{i}", **t}, spelling, "rdap"))
        infrastructure = [resolver, f"127.0.0.2:{web.port}"]
        outcomes = await run_cases(cases, recorder, infrastructure=infrastructure)
        # CRL and OCSP URLs of a certificate served from 127.0.0.2, one source per certificate.
        for spelling, target in NETNS_TARGETS:
            for method in ("crl", "ocsp"):
                leaf = (
                    ca.issue_leaf(["127.0.0.2"], crl_url=target)
                    if method == "crl"
                    else ca.issue_leaf(["127.0.0.2"], ocsp_url=target)
                )
                async with serve_tls(leaf.server_ssl_context(), host="127.0.0.2") as (_, port):
                    case = Case(
                        "ssl",
                        "cert_revocation",
                        {"host": "127.0.0.2", "port": port, "ca_bundle_pem": leaf.ca_pem, **t},
                        spelling,
                        method,
                    )
                    outcomes += await run_cases(
                        [case], recorder, infrastructure=[*infrastructure, f"127.0.0.2:{port}"]
                    )
        # What the allowed servers saw: the first hops and the DNS questions really happened.
        return outcomes, web.count(), dns.queries["udp"] + dns.queries["tcp"]


def _netns_main() -> None:
    """Run the non-loopback suites (default settings); print the outcomes as JSON on stdout."""
    import os
    import tempfile

    _loopback_up()
    with tempfile.TemporaryDirectory() as tmp:
        suites = asyncio.run(_netns_suites(tmp))
    report = {
        "netns": os.readlink("/proc/self/ns/net"),
        "interfaces": sorted(name for _, name in socket.if_nameindex()),
        "routes": _routes(),
        **suites,
    }
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    _netns_main()
