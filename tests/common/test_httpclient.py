"""A guarded client closes the connections it gives up on, however the request ends.

A check's own deadline can end a request in the middle of the TLS handshake (on a loaded machine
it expires together with httpcore2's connect timeout, and the outer one wins): the TCP connection
must be closed then, not left to the garbage collector (a ResourceWarning, an error in the tests).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from ipaddress import ip_network

import anyio
import pytest
from monitor_common.context import CheckContext
from monitor_common.httpclient import guarded_client
from monitor_common.netpolicy import NetworkPolicy
from monitor_common.ratelimit import RateLimiter

LOOPBACK = CheckContext(
    policy=NetworkPolicy(allow_networks=(ip_network("127.0.0.0/8"),)), limiter=RateLimiter(0)
)


class StallingServer:
    """Accepts, reads the ClientHello, never answers; records when each client hangs up."""

    def __init__(self) -> None:
        self.hung_up = asyncio.Event()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.read(4096):
                pass
            self.hung_up.set()
        except ConnectionError:
            self.hung_up.set()
        finally:
            writer.close()

    async def __aenter__(self) -> StallingServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def stalling() -> AsyncIterator[StallingServer]:
    async with StallingServer() as server:
        yield server


async def test_a_cancelled_tls_handshake_closes_the_connection(stalling: StallingServer) -> None:
    async with guarded_client(LOOPBACK, timeout=30, verify=False) as client:
        # The caller's deadline, far shorter than the client's own timeout, ends the handshake.
        with anyio.move_on_after(0.3) as scope:
            await client.get(f"https://127.0.0.1:{stalling.port}/")
        assert scope.cancelled_caught
        # The connection is closed by the cancellation itself, not by the client's exit or by GC.
        with anyio.fail_after(10):
            await stalling.hung_up.wait()
