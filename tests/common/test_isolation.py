"""The test-isolation guard itself: which destinations count as leaving loopback."""

from __future__ import annotations

import socket

import pytest
from support.isolation import offbox


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (("127.0.0.1", 80), None),
        (("127.3.4.5", 53), None),
        (("::1", 443, 0, 0), None),
        (("::ffff:127.0.0.1", 443, 0, 0), None),
        ("/tmp/unix.sock", None),
        (("10.255.255.53", 53), "10.255.255.53"),
        (("169.254.169.254", 80), "169.254.169.254"),
        (("2001:db8::1", 443, 0, 0), "2001:db8::1"),
        (("fe80::1%eth0", 443, 0, 0), "fe80::1"),
        (("example.com", 80), "example.com"),
    ],
)
def test_offbox(address: object, expected: str | None) -> None:
    assert offbox(address) == expected


def test_system_lookup_of_a_name_is_refused_before_the_resolver(loopback_only: list[str]) -> None:
    # The guard raises before the C library is called, so no query reaches the system resolver.
    with pytest.raises(OSError, match="test isolation"):
        socket.getaddrinfo("example.invalid", 80)
    assert loopback_only == ["system DNS lookup of 'example.invalid'"]
    loopback_only.clear()  # the attempt was this test's point


def test_localhost_and_literals_still_resolve() -> None:
    assert socket.getaddrinfo("localhost", 80)
    assert socket.getaddrinfo("127.0.0.1", 80)[0][4][0] == "127.0.0.1"
