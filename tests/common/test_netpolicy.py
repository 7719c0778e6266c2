"""The network policy: tables of what is refused and allowed, and real connections to loopback
servers showing that the check is made on the address actually dialled, redirects included.

Every connection in this file goes to 127.0.0.0/8 or ::1. Cases that must dial other addresses
live in test_netpolicy_netns.py, which runs them in a network namespace with no route out.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Protocol, cast

import anyio.abc
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import httpx2
import pytest
from monitor_common.context import CheckContext
from monitor_common.errors import InputError, MonitorError, PolicyError
from monitor_common.httpclient import guarded_client
from monitor_common.netpolicy import (
    CATEGORIES,
    IPAddress,
    NetworkPolicy,
    ResolutionError,
    Resolver,
    classify,
    dns_resolver,
    open_tcp,
    resolve,
)
from monitor_common.ratelimit import RateLimiter
from monitor_common.targets import parse_ip


def C(policy: NetworkPolicy, resolver: Resolver | None = None) -> CheckContext:
    """A check context with `policy` and `resolver` (None: the system's) and no rate limit."""
    return CheckContext(policy=policy, resolver=resolver, limiter=RateLimiter(0))


def ip(text: str) -> IPAddress:
    parsed = parse_ip(text)
    assert parsed is not None
    return parsed


# --- a safety net: no lookup may leave this machine ---------------------------------------------

# --- classification tables ----------------------------------------------------------------------

REFUSED = [
    # the same loopback address in every spelling a URL parser or inet_aton accepts
    ("127.0.0.1", "loopback"),
    ("127.1", "loopback"),
    ("2130706433", "loopback"),
    ("0x7f.1", "loopback"),
    ("0x7f000001", "loopback"),
    ("017700000001", "loopback"),
    ("0177.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("[::1]", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
    ("::ffff:7f00:1", "loopback"),
    ("::7f00:1", "loopback"),  # IPv4-compatible
    ("::ffff:0:7f00:1", "loopback"),  # IPv4-translated
    ("64:ff9b::7f00:1", "loopback"),  # NAT64 well-known prefix
    ("64:ff9b::127.0.0.1", "loopback"),
    ("64:ff9b:1::7f00:1", "loopback"),  # NAT64 local-use prefix
    ("2002:7f00:1::", "loopback"),  # 6to4
    ("2002:7f00:1:1::5", "loopback"),
    # cloud metadata and other link-local
    ("169.254.169.254", "link-local"),
    ("0xa9fea9fe", "link-local"),
    ("169.254.169.254.", "link-local"),
    ("::ffff:169.254.169.254", "link-local"),
    ("64:ff9b::a9fe:a9fe", "link-local"),
    ("fe80::1", "link-local"),
    ("[fe80::abcd]", "link-local"),
    # RFC 1918
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("172.16.5.4", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::c0a8:101", "private"),
    ("2002:a00:1::", "private"),
    ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "private"),  # Teredo with a private server
    # the rest
    ("100.64.0.1", "cgnat"),
    ("100.127.255.255", "cgnat"),
    ("fd00::1", "unique-local"),
    ("fc00::1", "unique-local"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("0", "unspecified"),
    ("::", "unspecified"),
    ("0.1.2.3", "reserved"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.0.1", "reserved"),
    ("192.0.2.1", "reserved"),
    ("198.18.0.1", "reserved"),
    ("198.51.100.7", "reserved"),
    ("203.0.113.9", "reserved"),
    ("192.88.99.1", "reserved"),
    ("fec0::1", "reserved"),  # deprecated site-local
    ("100::1", "reserved"),
    ("2001:db8::1", "reserved"),
    ("2001:2::1", "reserved"),
    ("4000::1", "reserved"),  # outside global unicast 2000::/3
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "reserved"),  # Teredo whose client is 192.0.2.45
]

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "134744072",  # 8.8.8.8 as one number: spellings work both ways
    "93.184.216.34",
    "172.32.0.1",  # just past 172.16.0.0/12
    "100.128.0.1",  # just past 100.64.0.0/10
    "169.255.0.1",
    "2606:4700:4700::1111",
    "[2001:4860:4860::8888]",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "::ffff:8.8.8.8",
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "2001:0:808:808:8000:63bf:f7f7:f7f7",  # Teredo, server and client 8.8.8.8
]


@pytest.mark.parametrize(("text", "category"), REFUSED)
def test_classify_internal_addresses(text: str, category: str) -> None:
    assert classify(ip(text)) == category
    assert category in CATEGORIES


@pytest.mark.parametrize(("text", "category"), REFUSED)
def test_default_policy_refuses_internal_addresses(text: str, category: str) -> None:
    address = ip(text)
    with pytest.raises(PolicyError) as caught:
        NetworkPolicy().check(address, host=text)
    error = caught.value
    assert error.category == category
    assert error.address == address.compressed
    assert (
        f"refused to connect to {address.compressed} ({category.replace('cgnat', 'carrier-grade NAT')}"
        in str(error)
    )
    assert "MCP_MONITOR_ALLOW_PRIVATE=true" in str(error)
    prefix = 32 if address.version == 4 else 128
    assert f"MCP_MONITOR_ALLOW_NETWORKS={address.compressed}/{prefix}" in str(error)
    assert "MCP_MONITOR_ALLOW_HOSTS" not in str(error)  # a literal has no name to allow


@pytest.mark.parametrize("text", ALLOWED)
def test_global_addresses_are_allowed(text: str) -> None:
    assert classify(ip(text)) is None
    NetworkPolicy().check(ip(text), host=text)


@pytest.mark.parametrize(("text", "category"), REFUSED)
def test_allow_private_allows_every_internal_address(text: str, category: str) -> None:
    NetworkPolicy(allow_private=True).check(ip(text))
    NetworkPolicy.open().check(ip(text))


@pytest.mark.parametrize(
    ("text", "allowed"),
    [
        ("10.0.0.1", True),
        ("10.255.255.255", True),
        ("012.1", True),  # octal 10.0.0.1
        ("::ffff:10.0.0.1", True),  # matched through the embedded address
        ("64:ff9b::a00:1", True),
        ("127.0.0.1", False),
        ("192.168.1.1", False),
        ("172.16.0.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fd00::1", False),
        ("8.8.8.8", True),  # global addresses need no allowance
    ],
)
def test_allow_networks_allows_exactly_those_networks(text: str, allowed: bool) -> None:
    policy = NetworkPolicy(allow_networks=(IPv4Network("10.0.0.0/8"),))
    assert policy.permits(ip(text)) is allowed


def test_allow_networks_with_ipv6() -> None:
    policy = NetworkPolicy(allow_networks=(IPv6Network("fd00:1::/32"), ip_network("127.0.0.2/32")))
    assert policy.permits(ip("fd00:1::5"))
    assert not policy.permits(ip("fd00:2::5"))
    assert policy.permits(ip("127.0.0.2"))
    assert not policy.permits(ip("127.0.0.1"))


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost", True),
        ("LocalHost.", True),
        ("db.corp.example", True),
        ("a.b.corp.example", True),
        ("corp.example", False),  # ".corp.example" covers names below it only
        ("evilcorp.example", False),
        ("corp.example.evil", False),
        ("x.wild.example", True),
        ("127.0.0.1", False),  # names, not addresses
        (None, False),
    ],
)
def test_allow_hosts_allows_by_name_only(host: str | None, allowed: bool) -> None:
    policy = NetworkPolicy(allow_hosts=("localhost", ".corp.example", "*.wild.example"))
    assert policy.permits(ip("127.0.0.1"), host=host) is allowed
    assert policy.permits(ip("10.0.0.1"), host=host) is allowed


def test_refusal_message_names_address_category_host_and_settings() -> None:
    with pytest.raises(PolicyError) as caught:
        NetworkPolicy().check(ip("127.0.0.1"), host="localhost")
    assert str(caught.value) == (
        "refused to connect to 127.0.0.1 (loopback address, resolved from 'localhost'): the network policy "
        "blocks internal addresses. To allow it set MCP_MONITOR_ALLOW_NETWORKS=127.0.0.1/32, "
        "MCP_MONITOR_ALLOW_HOSTS=localhost, or MCP_MONITOR_ALLOW_PRIVATE=true"
    )
    assert isinstance(caught.value, MonitorError)
    assert not isinstance(caught.value, InputError)


@pytest.mark.parametrize(
    ("address", "host", "expected"),
    [
        ("127.0.0.1", "2130706433", "(loopback address, written as '2130706433')"),
        ("127.0.0.1", None, "(loopback address)"),
        ("127.0.0.1", "127.0.0.1", "(loopback address)"),
        ("169.254.169.254", "metadata.internal", "(link-local address, resolved from 'metadata.internal')"),
        ("64:ff9b::7f00:1", None, "(loopback address 127.0.0.1 embedded in it)"),
        ("::1", "[::1]", "MCP_MONITOR_ALLOW_NETWORKS=::1/128 or MCP_MONITOR_ALLOW_PRIVATE=true"),
        ("10.0.0.1", "Bücher.Example", "MCP_MONITOR_ALLOW_HOSTS=xn--bcher-kva.example,"),
    ],
)
def test_refusal_message_details(address: str, host: str | None, expected: str) -> None:
    error = NetworkPolicy().refusal(ip(address), host=host)
    assert error is not None
    assert expected in str(error)


def test_policy_is_immutable() -> None:
    policy = NetworkPolicy()
    with pytest.raises(AttributeError):
        policy.allow_private = True  # pyright: ignore[reportAttributeAccessIssue]


def test_netpolicy_does_not_import_httpx2_or_dnspython() -> None:
    code = (
        "import sys, monitor_common.netpolicy as n\n"
        "heavy = [m for m in ('httpx2', 'httpcore2', 'dns') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- resolve, with resolvers that dial nothing --------------------------------------------------


def fixed(*answers: list[str]) -> tuple[Resolver, list[tuple[str, int | None]]]:
    """A resolver that gives each answer in turn (the last one forever) and records its calls."""
    calls: list[tuple[str, int | None]] = []

    async def lookup(host: str, family: int | None) -> list[IPAddress]:
        calls.append((host, family))
        answer = answers[min(len(calls), len(answers)) - 1]
        return [ip(a) for a in answer]

    return lookup, calls


async def test_resolve_literal_needs_no_lookup() -> None:
    lookup, calls = fixed(["8.8.8.8"])
    assert await resolve("0x7f.1", NetworkPolicy.open(), resolver=lookup) == [ip("127.0.0.1")]
    assert await resolve("[::1]", NetworkPolicy.open(), resolver=lookup) == [ip("::1")]
    assert calls == []


@pytest.mark.parametrize(
    "literal", ["127.0.0.1", "127.1", "2130706433", "0x7f.1", "::1", "[::ffff:127.0.0.1]"]
)
async def test_resolve_refuses_internal_literals(literal: str) -> None:
    with pytest.raises(PolicyError, match="loopback"):
        await resolve(literal, NetworkPolicy())


async def test_resolve_keeps_only_permitted_addresses_in_order() -> None:
    lookup, calls = fixed(["127.0.0.1", "8.8.8.8", "10.0.0.1", "1.1.1.1", "8.8.8.8"])
    found = await resolve("mixed.test", NetworkPolicy(), resolver=lookup)
    assert found == [ip("8.8.8.8"), ip("1.1.1.1")]
    assert calls == [("mixed.test", None)]


async def test_resolve_refuses_when_every_address_is_internal() -> None:
    lookup, _ = fixed(["10.0.0.1", "127.0.0.1"])
    with pytest.raises(PolicyError) as caught:
        await resolve("intranet.test", NetworkPolicy(), resolver=lookup)
    assert caught.value.address == "10.0.0.1"
    assert "resolved from 'intranet.test'" in str(caught.value)
    assert "MCP_MONITOR_ALLOW_HOSTS=intranet.test" in str(caught.value)


async def test_resolve_allow_hosts_applies_to_the_name_given() -> None:
    lookup, _ = fixed(["10.0.0.1"])
    policy = NetworkPolicy(allow_hosts=("intranet.test",))
    assert await resolve("intranet.test", policy, resolver=lookup) == [ip("10.0.0.1")]


async def test_resolve_filters_by_family() -> None:
    lookup, calls = fixed(["2606:4700:4700::1111", "8.8.8.8"])
    assert await resolve("dual.test", NetworkPolicy(), family=socket.AF_INET, resolver=lookup) == [
        ip("8.8.8.8")
    ]
    assert await resolve("dual.test", NetworkPolicy(), family=socket.AF_INET6, resolver=lookup) == [
        ip("2606:4700:4700::1111")
    ]
    assert calls == [("dual.test", socket.AF_INET), ("dual.test", socket.AF_INET6)]


async def test_resolve_family_without_addresses_is_a_resolution_error() -> None:
    lookup, _ = fixed(["8.8.8.8"])
    with pytest.raises(ResolutionError, match="no IPv6 address") as caught:
        await resolve("v4only.test", NetworkPolicy(), family=socket.AF_INET6, resolver=lookup)
    assert caught.value.host == "v4only.test"
    with pytest.raises(ResolutionError, match="IPv4 address, but IPv6 is required"):
        await resolve("8.8.8.8", NetworkPolicy(), family=socket.AF_INET6)
    with pytest.raises(ValueError, match="family"):
        await resolve("8.8.8.8", NetworkPolicy(), family=4)


async def test_resolve_empty_answer_is_a_resolution_error() -> None:
    lookup, _ = fixed([])
    with pytest.raises(ResolutionError, match="no IPv4 or IPv6 address"):
        await resolve("empty.test", NetworkPolicy(), resolver=lookup)


async def test_resolve_timeout_is_a_resolution_error() -> None:
    async def slow(host: str, family: int | None) -> list[IPAddress]:
        await asyncio.sleep(30)
        return []

    with pytest.raises(ResolutionError, match=r"no answer within 0\.05 s"):
        await resolve("slow.test", NetworkPolicy(), timeout=0.05, resolver=slow)


async def test_resolve_maps_resolver_socket_errors() -> None:
    async def broken(host: str, family: int | None) -> list[IPAddress]:
        raise OSError(113, "No route to host")

    with pytest.raises(ResolutionError, match="No route to host"):
        await resolve("broken.test", NetworkPolicy(), resolver=broken)


async def test_system_resolver_answer_is_checked() -> None:
    with pytest.raises(PolicyError, match="resolved from 'localhost'"):
        await resolve("localhost", NetworkPolicy())
    assert ip("127.0.0.1") in await resolve("localhost", NetworkPolicy(allow_hosts=("localhost",)))


# --- dns_resolver against a nameserver on loopback ----------------------------------------------


class NanoNameserver(asyncio.DatagramProtocol):
    """Answers A/AAAA from a table, NXDOMAIN for other names; silent when `mute`."""

    def __init__(self, records: dict[str, list[str]], *, mute: bool = False) -> None:
        self.records = records
        self.mute = mute
        self.queries: list[tuple[str, str]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Python 3.11's selector transport does not subclass DatagramTransport, though it is one.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        if self.mute:
            return
        response = dns.message.make_response(query)
        if name not in self.records:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            wanted = [a for a in self.records[name] if (ip(a).version == 4) == (rdtype == "A")]
            if wanted:
                response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", rdtype, wanted))
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def nameserver() -> AsyncIterator[tuple[NanoNameserver, int]]:
    server = NanoNameserver({"svc.test": ["127.0.0.1", "::1"], "public.test": ["8.8.8.8"]})
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: server, local_addr=("127.0.0.1", 0)
    )
    try:
        yield server, transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


async def test_dns_resolver_asks_the_configured_nameserver(nameserver: tuple[NanoNameserver, int]) -> None:
    server, port = nameserver
    lookup = dns_resolver("127.0.0.1", port, timeout=2)
    assert await resolve("public.test", NetworkPolicy(), resolver=lookup) == [ip("8.8.8.8")]
    assert await resolve("SVC.test.", NetworkPolicy.open(), resolver=lookup) == [ip("127.0.0.1"), ip("::1")]
    assert await resolve("svc.test", NetworkPolicy.open(), family=socket.AF_INET6, resolver=lookup) == [
        ip("::1")
    ]
    assert ("svc.test", "AAAA") in server.queries


async def test_dns_resolver_answers_are_still_checked(nameserver: tuple[NanoNameserver, int]) -> None:
    # The nameserver on loopback is infrastructure and may be asked; the loopback answers may not be dialled.
    _, port = nameserver
    with pytest.raises(PolicyError, match=r"resolved from 'svc\.test'"):
        await resolve("svc.test", NetworkPolicy(), resolver=dns_resolver("127.0.0.1", port))


async def test_dns_resolver_nxdomain(nameserver: tuple[NanoNameserver, int]) -> None:
    _, port = nameserver
    with pytest.raises(ResolutionError, match="NXDOMAIN") as caught:
        await resolve("missing.test", NetworkPolicy(), resolver=dns_resolver("127.0.0.1", port))
    assert caught.value.host == "missing.test"


async def test_dns_resolver_timeout() -> None:
    server = NanoNameserver({}, mute=True)
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: server, local_addr=("127.0.0.1", 0)
    )
    try:
        lookup = dns_resolver("127.0.0.1", transport.get_extra_info("sockname")[1], timeout=0.2)
        with pytest.raises(ResolutionError, match="did not answer"):
            await resolve("svc.test", NetworkPolicy(), resolver=lookup)
        assert server.queries
    finally:
        transport.close()


def test_dns_resolver_wants_an_address() -> None:
    with pytest.raises(InputError, match="must be an IP address"):
        dns_resolver("ns.example")


# --- real connections to loopback servers -------------------------------------------------------


def http_response(status: str = "200 OK", body: bytes = b"hello", headers: tuple[str, ...] = ()) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", "Connection: close", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass
class LocalServer:
    """An HTTP/1.1 responder on a loopback address that counts the connections it accepts."""

    host: str
    response: bytes
    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list[bytes])
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            self.requests.append(await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5))
            writer.write(self.response)
            await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass  # open_tcp tests connect and hang up without a request
        finally:
            writer.close()

    async def start(self) -> LocalServer:
        self.server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


class StartServer(Protocol):
    async def __call__(
        self, host: str = ..., response: bytes | None = ..., port: int = ...
    ) -> LocalServer: ...


@pytest.fixture
async def servers() -> AsyncIterator[StartServer]:
    started: list[LocalServer] = []

    async def start(host: str = "127.0.0.1", response: bytes | None = None, port: int = 0) -> LocalServer:
        server = await LocalServer(host, response or http_response(), port).start()
        started.append(server)
        return server

    yield start
    for server in started:
        await server.stop()


async def settle() -> None:
    """Give a connection that was wrongly made time to reach the server's accept callback."""
    await asyncio.sleep(0.05)


async def start_same_port(servers: StartServer, hosts: tuple[str, ...]) -> list[LocalServer]:
    """Servers on several loopback addresses sharing one port, so only the address differs."""
    for _ in range(20):
        first = await servers(hosts[0])
        try:
            rest = [await servers(host, port=first.port) for host in hosts[1:]]
        except OSError:  # the port was taken on another address: try another one
            continue
        return [first, *rest]
    raise AssertionError("no free port on all of " + ", ".join(hosts))


LOOPBACK_SPELLINGS = ["127.0.0.1", "localhost", "127.1", "2130706433"]


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
async def test_open_tcp_refuses_loopback_without_dialling(spelling: str, servers: StartServer) -> None:
    server = await servers()
    with pytest.raises(PolicyError) as caught:
        await open_tcp(spelling, server.port, C(NetworkPolicy()), timeout=5)
    assert caught.value.category == "loopback"
    assert caught.value.address == "127.0.0.1"
    await settle()
    assert server.connections == 0


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
async def test_guarded_client_refuses_loopback_without_dialling(spelling: str, servers: StartServer) -> None:
    server = await servers()
    async with guarded_client(C(NetworkPolicy()), timeout=5) as client:
        with pytest.raises(PolicyError) as caught:
            await client.get(f"http://{spelling}:{server.port}/")
    assert caught.value.category == "loopback"
    assert not isinstance(caught.value, httpx2.HTTPError)
    await settle()
    assert server.connections == 0


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
async def test_widened_policy_connects(spelling: str, servers: StartServer) -> None:
    server = await servers()
    policy = NetworkPolicy(allow_networks=(ip_network("127.0.0.0/8"),))

    stream = await open_tcp(spelling, server.port, C(policy), timeout=5)
    async with stream:
        assert stream.extra(anyio.abc.SocketAttribute.remote_address) == ("127.0.0.1", server.port)
        await stream.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await stream.receive()).startswith(b"HTTP/1.1 200 OK")

    async with guarded_client(C(policy), timeout=5) as client:
        response = await client.get(f"http://{spelling}:{server.port}/")
    assert (response.status_code, response.text) == (200, "hello")
    assert server.connections == 2


async def test_allow_hosts_lets_a_name_through_but_not_its_address(servers: StartServer) -> None:
    server = await servers()
    policy = NetworkPolicy(allow_hosts=("localhost",))
    async with guarded_client(C(policy), timeout=5) as client:
        assert (await client.get(f"http://localhost:{server.port}/")).status_code == 200
        with pytest.raises(PolicyError):
            await client.get(f"http://127.0.0.1:{server.port}/")
    assert server.connections == 1


async def test_ipv6_loopback(servers: StartServer) -> None:
    try:
        server = await servers("::1")
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    async with guarded_client(C(NetworkPolicy()), timeout=5) as client:
        with pytest.raises(PolicyError, match=r"refused to connect to ::1 \(loopback"):
            await client.get(server.url)
    with pytest.raises(PolicyError):
        await open_tcp("::1", server.port, C(NetworkPolicy()), timeout=5)
    await settle()
    assert server.connections == 0
    async with guarded_client(C(NetworkPolicy(allow_networks=(ip_network("::1/128"),))), timeout=5) as client:
        assert (await client.get(server.url)).status_code == 200


async def test_a_changing_dns_answer_is_checked_when_dialled(servers: StartServer) -> None:
    allowed, refused = await start_same_port(servers, ("127.0.0.2", "127.0.0.1"))
    policy = NetworkPolicy(allow_networks=(ip_network("127.0.0.2/32"),))
    lookup, calls = fixed(["127.0.0.2"], ["127.0.0.1"])  # rebinding: a permitted answer, then another

    stream = await open_tcp("rebind.test", allowed.port, C(policy, lookup), timeout=5)
    await stream.aclose()
    with pytest.raises(PolicyError, match=r"127\.0\.0\.1 \(loopback address, resolved from 'rebind.test'\)"):
        await open_tcp("rebind.test", allowed.port, C(policy, lookup), timeout=5)

    lookup, calls = fixed(["127.0.0.2"], ["127.0.0.1"])
    url = f"http://rebind.test:{allowed.port}/"
    async with guarded_client(C(policy, lookup), timeout=5) as client:
        assert (await client.get(url)).status_code == 200
        with pytest.raises(PolicyError):
            await client.get(url)  # the server closed the first connection: a new one is dialled
    assert len(calls) == 2
    await settle()
    assert allowed.connections == 2
    assert refused.connections == 0


async def test_only_permitted_addresses_of_an_answer_are_dialled(servers: StartServer) -> None:
    allowed, refused = await start_same_port(servers, ("127.0.0.2", "127.0.0.1"))
    policy = NetworkPolicy(allow_networks=(ip_network("127.0.0.2/32"),))
    lookup, _ = fixed(["127.0.0.1", "127.0.0.2"])
    async with guarded_client(C(policy, lookup), timeout=5) as client:
        assert (await client.get(f"http://mixed.test:{allowed.port}/")).status_code == 200
    stream = await open_tcp("mixed.test", allowed.port, C(policy, lookup), timeout=5)
    async with stream:
        assert stream.extra(anyio.abc.SocketAttribute.remote_address)[0] == "127.0.0.2"
    await settle()
    assert (allowed.connections, refused.connections) == (2, 0)


async def test_next_address_is_tried_when_one_refuses(servers: StartServer) -> None:
    server = await servers("127.0.0.3")
    policy = NetworkPolicy(allow_networks=(ip_network("127.0.0.0/8"),))
    lookup, _ = fixed(["127.0.0.4", "127.0.0.3"])  # nothing listens on 127.0.0.4
    stream = await open_tcp("two.test", server.port, C(policy, lookup), timeout=5)
    async with stream:
        assert stream.extra(anyio.abc.SocketAttribute.remote_address) == ("127.0.0.3", server.port)
    async with guarded_client(C(policy, lookup), timeout=5) as client:
        assert (await client.get(f"http://two.test:{server.port}/")).status_code == 200


async def test_a_redirect_to_a_refused_address_is_refused(servers: StartServer) -> None:
    second = await servers("127.0.0.3")
    first = await servers(
        "127.0.0.2", http_response("302 Found", b"", (f"Location: http://127.0.0.3:{second.port}/next",))
    )
    policy = NetworkPolicy(allow_networks=(ip_network("127.0.0.2/32"),))
    async with guarded_client(C(policy), timeout=5, follow_redirects=True) as client:
        with pytest.raises(PolicyError) as caught:
            await client.get(first.url)
    assert caught.value.address == "127.0.0.3"
    await settle()
    assert (first.connections, second.connections) == (1, 0)

    both = NetworkPolicy(allow_networks=(ip_network("127.0.0.2/32"), ip_network("127.0.0.3/32")))
    async with guarded_client(C(both), timeout=5, follow_redirects=True) as client:
        response = await client.get(first.url)
    assert (response.status_code, str(response.url)) == (200, f"http://127.0.0.3:{second.port}/next")


async def test_a_redirect_to_a_name_of_a_refused_address_is_refused(servers: StartServer) -> None:
    second = await servers("127.0.0.1")
    first = await servers(
        "127.0.0.2",
        http_response("301 Moved Permanently", b"", (f"Location: http://localhost:{second.port}/",)),
    )
    policy = NetworkPolicy(allow_networks=(ip_network("127.0.0.2/32"),))
    async with guarded_client(C(policy), timeout=5, follow_redirects=True) as client:
        with pytest.raises(PolicyError, match="resolved from 'localhost'"):
            await client.get(first.url)
    await settle()
    assert second.connections == 0


async def test_connect_ip_override_is_checked_too(servers: StartServer) -> None:
    allowed, refused = await start_same_port(servers, ("127.0.0.2", "127.0.0.1"))
    policy = NetworkPolicy(allow_networks=(ip_network("127.0.0.2/32"),))
    url = f"http://pinned.test:{allowed.port}/"

    async with guarded_client(C(policy), timeout=5, connect_ip={"pinned.test": "127.0.0.2"}) as client:
        assert (await client.get(url)).status_code == 200
    assert b"\r\nhost: pinned.test:" in allowed.requests[0].lower()  # the URL's name is still sent

    async with guarded_client(C(policy), timeout=5, connect_ip={"PINNED.test": "2130706433"}) as client:
        with pytest.raises(PolicyError, match=r"127\.0\.0\.1"):
            await client.get(url)
    with pytest.raises(PolicyError):
        await open_tcp("pinned.test", allowed.port, C(policy), timeout=5, connect_ip="127.0.0.1")
    stream = await open_tcp("pinned.test", allowed.port, C(policy), timeout=5, connect_ip="127.0.0.2")
    await stream.aclose()
    await settle()
    assert (allowed.connections, refused.connections) == (2, 0)


async def test_family_selects_the_addresses_dialled(servers: StartServer) -> None:
    server = await servers("127.0.0.1")
    lookup, calls = fixed(["::1", "127.0.0.1"])
    async with guarded_client(C(NetworkPolicy.open(), lookup), timeout=5, family=socket.AF_INET) as client:
        assert (await client.get(f"http://dual.test:{server.port}/")).status_code == 200
    assert calls == [("dual.test", socket.AF_INET)]


async def test_resolution_errors_propagate_unchanged_from_the_client() -> None:
    async def nxdomain(host: str, family: int | None) -> list[IPAddress]:
        raise ResolutionError(host, "no such domain")

    async with guarded_client(C(NetworkPolicy(), nxdomain), timeout=5) as client:
        with pytest.raises(ResolutionError, match=r"could not resolve 'gone\.test': no such domain"):
            await client.get("http://gone.test/")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connect_failures_are_os_errors_and_http_connect_errors() -> None:
    port = closed_port()
    policy = NetworkPolicy(allow_networks=(ip_network("127.0.0.0/8"),))
    with pytest.raises(ConnectionRefusedError):
        await open_tcp("127.0.0.1", port, C(policy), timeout=5)
    async with guarded_client(C(policy), timeout=5) as client:
        with pytest.raises(httpx2.ConnectError, match=rf"^127\.0\.0\.1 port {port}: Connection refused$"):
            await client.get(f"http://127.0.0.1:{port}/")


async def test_several_failed_addresses_are_reported_together() -> None:
    port = closed_port()
    lookup, _ = fixed(["127.0.0.5", "127.0.0.6"])
    with pytest.raises(OSError) as caught:
        await open_tcp("many.test", port, C(NetworkPolicy.open(), lookup), timeout=5)
    assert caught.value.errno == errno.ECONNREFUSED
    assert caught.value.strerror == (
        f"could not connect to many.test port {port} "
        "(127.0.0.5: Connection refused; 127.0.0.6: Connection refused)"
    )
    async with guarded_client(C(NetworkPolicy.open(), lookup), timeout=5) as client:
        with pytest.raises(httpx2.ConnectError) as http_caught:
            await client.get(f"http://many.test:{port}/")
    assert str(http_caught.value) == (
        f"127.0.0.5 port {port}: Connection refused; 127.0.0.6 port {port}: Connection refused"
    )


def test_guarded_transport_ignores_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy would dial for us, and the policy would only see the proxy's address.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.9:3128")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.9:3128")
    client = guarded_client(C(NetworkPolicy()), timeout=5)
    assert not client.trust_env
    transport = client._transport_for_url(httpx2.URL("http://example.com/"))  # pyright: ignore[reportPrivateUsage]
    assert type(transport).__name__ == "GuardedTransport"
