"""EAI_AGAIN is two things: a resolver that did not answer (the monitor's outage) and one that
answered SERVFAIL (the name's own DNS is broken). `netpolicy` asks the resolver again to tell."""

from __future__ import annotations

import socket
from typing import Any

import anyio
import dns.message
import dns.name
import dns.resolver
import pytest
from monitor_common.netpolicy import (
    NetworkPolicy,
    ResolutionError,
    dns_resolver,
    resolve,
    resolver_silent,
    system_resolver,
)
from support.dns_server import DNSServer, drop, refused, servfail, zone


def closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_an_answer_even_servfail_is_not_silence(dns_server: DNSServer) -> None:
    dns_server.handler = servfail
    assert await resolver_silent([dns_server.host], dns_server.port) is False
    dns_server.handler = refused
    assert await resolver_silent([dns_server.host], dns_server.port) is False
    dns_server.handler = zone({("ok.test.", "A"): "192.0.2.1"})  # the root is not in it: NXDOMAIN
    assert await resolver_silent([dns_server.host], dns_server.port) is False


async def test_no_answer_is_silence(dns_server: DNSServer) -> None:
    dns_server.handler = drop
    with anyio.fail_after(5):
        assert await resolver_silent([dns_server.host], dns_server.port) is True
    assert await resolver_silent(["127.0.0.1"], closed_udp_port()) is True


@pytest.fixture
def eai_again(dns_server: DNSServer, monkeypatch: pytest.MonkeyPatch) -> DNSServer:
    """getaddrinfo fails with EAI_AGAIN (which no local server can make glibc say on demand), and
    the system's nameserver, asked again directly, is the local `dns_server`."""

    async def again(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    class Local(dns.resolver.Resolver):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(configure=False)
            self.nameservers = [dns_server.host]
            self.port = dns_server.port

    monkeypatch.setattr(anyio, "getaddrinfo", again)
    monkeypatch.setattr(dns.resolver, "Resolver", Local)
    return dns_server


@pytest.mark.parametrize(("handler", "monitor_side"), [(servfail, False), (drop, True)])
async def test_eai_again_blames_the_side_that_failed(
    eai_again: DNSServer, handler: Any, monitor_side: bool
) -> None:
    eai_again.handler = handler
    with pytest.raises(ResolutionError) as caught:
        await system_resolver("site.test", None)
    assert caught.value.monitor_side is monitor_side


def drop_only(name: str) -> Any:
    """A resolver that is up (it answers the root and other names) but never answers `name`,
    as a recursive resolver does while it chases the name's dead authoritative servers."""
    answers = zone({("ok.test.", "A"): "192.0.2.1"})

    def handler(request: dns.message.Message, transport: Any) -> Any:
        if request.question[0].name == dns.name.from_text(name):
            return None
        return answers(request, transport)

    return handler


async def test_a_name_the_configured_resolver_leaves_unanswered_is_the_targets(dns_server: DNSServer) -> None:
    # The operator's resolver answers, just not for this name: its DNS is what fails, not the
    # monitor's, so the check must not be an unknown without an incident.
    dns_server.handler = drop_only("dead.test.")
    lookup = dns_resolver(dns_server.host, dns_server.port, timeout=0.3)
    with pytest.raises(ResolutionError) as caught:
        await resolve("dead.test", NetworkPolicy(), resolver=lookup, timeout=10)
    assert caught.value.monitor_side is False


async def test_a_configured_resolver_that_answers_nothing_is_the_monitors(dns_server: DNSServer) -> None:
    dns_server.handler = drop
    lookup = dns_resolver(dns_server.host, dns_server.port, timeout=0.3)
    with pytest.raises(ResolutionError) as caught:
        await resolve("dead.test", NetworkPolicy(), resolver=lookup, timeout=10)
    assert caught.value.monitor_side is True


async def test_eai_again_for_one_name_of_an_answering_resolver_is_the_targets(eai_again: DNSServer) -> None:
    eai_again.handler = drop_only("site.test.")
    with pytest.raises(ResolutionError) as caught:
        await system_resolver("site.test", None)
    assert caught.value.monitor_side is False
