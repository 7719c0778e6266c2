"""The guard that keeps every in-process test on loopback, even through a broken network policy."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

__all__ = ["loopback_only", "offbox"]

_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_sendto = socket.socket.sendto


def offbox(address: Any) -> str | None:
    """The destination if it is not loopback (or a Unix socket path), else None."""
    if not isinstance(address, tuple) or not address:
        return None
    host = str(address[0]).partition("%")[0]  # pyright: ignore[reportUnknownArgumentType]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host  # a name at this level would be resolved by the C library
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return None if ip.is_loopback or (mapped is not None and mapped.is_loopback) else host


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """No test may send a packet beyond loopback, even through a broken network policy.

    Every in-process connect/sendto to a non-loopback address fails locally (ENETUNREACH), and a
    system lookup of any name but localhost fails, since it would query the machine's resolver.
    Each attempt is recorded and fails the test, so a refusal cannot hide inside a finding.
    """
    attempts: list[str] = []

    def refuse(what: str) -> OSError:
        attempts.append(what)
        return OSError(101, f"test isolation: {what} refused (tests talk to loopback only)")

    def getaddrinfo(host: bytes | str | None, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name != "localhost":
            try:
                ipaddress.ip_address(name.partition("%")[0])
            except ValueError:
                raise refuse(f"system DNS lookup of {name!r}") from None
        return _real_getaddrinfo(host, *args, **kwargs)  # pyright: ignore[reportArgumentType]

    def connect(self: socket.socket, address: Any) -> None:
        if (host := offbox(address)) is not None:
            raise refuse(f"connect to {host}")
        return _real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if (host := offbox(address)) is not None:
            raise refuse(f"connect to {host}")
        return _real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        if (host := offbox(args[-1])) is not None:
            raise refuse(f"datagram to {host}")
        return _real_sendto(self, data, *args)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    yield attempts
    assert not attempts, f"the test tried to leave loopback: {attempts}"
