"""A farm of loopback TLS endpoints for bench/ssl_bulk.py, run as a process of its own.

Each endpoint listens on its own loopback address (127.0.1.1, 127.0.1.2, ...), so that a
per-host limit does not bound a bulk check, and has its own EC certificate from one test CA
(with the address as IP SAN). It waits `--delay-ms` after accepting a connection before it
answers the ClientHello, a stand-in for the network round trip that a local server lacks, then
completes the handshake and closes.

    python bench/ssl_servers.py --count 200 --delay-ms 50

Prints one JSON line, {"endpoints": ["127.0.1.1:PORT", ...], "ca_pem": "..."}, then serves until
its standard input closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import ssl
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.certs import CertAuthority  # pyright: ignore[reportMissingImports] - tests/ is put on sys.path above


def address(index: int) -> str:
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


class _CloseAfterHandshake(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()  # called once the handshake is complete


async def _serve(listener: socket.socket, context: ssl.SSLContext, delay: float) -> None:
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[None]] = set()

    async def handle(conn: socket.socket) -> None:
        # The ClientHello waits in the kernel meanwhile: nothing is read before the TLS layer is.
        await asyncio.sleep(delay)
        try:
            await loop.connect_accepted_socket(_CloseAfterHandshake, conn, ssl=context)
        except (OSError, ssl.SSLError):
            conn.close()

    while True:
        conn, _ = await loop.sock_accept(listener)
        task = asyncio.create_task(handle(conn))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


async def main(count: int, delay_ms: float) -> None:
    ca = CertAuthority("ssl bulk bench root")
    endpoints: list[str] = []
    serving: list[asyncio.Task[None]] = []
    for index in range(count):
        host = address(index)
        context = ca.valid(["localhost", host]).server_ssl_context()
        listener = socket.socket()
        listener.bind((host, 0))
        listener.listen(512)
        listener.setblocking(False)
        serving.append(asyncio.create_task(_serve(listener, context, delay_ms / 1000)))
        endpoints.append(f"{host}:{listener.getsockname()[1]}")
    print(json.dumps({"endpoints": endpoints, "ca_pem": ca.cert_pem}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    for task in serving:
        task.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    args = parser.parse_args()
    asyncio.run(main(args.count, args.delay_ms))
