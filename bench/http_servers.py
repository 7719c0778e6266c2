"""Loopback HTTP/1.1 servers for the http benchmarks, in a process of their own.

Run in-process, the servers would compete with the measured client for the GIL and favour
whichever side runs in another process. `serve(hosts)` starts `python bench/http_servers.py
HOST...` and returns the child and the port every host listens on (the same port on each).

The server is a minimal asyncio HTTP/1.1 responder with keep-alive rather than the test suite's
hypercorn server: at a few hundred requests per second hypercorn would be what the benchmark
measures. `/delay/{ms}` answers `ok` after `ms`; `/flap/{key}` answers 200 and 503 in turn, per
key (a target that changes state at every check); anything else answers 200 at once.

    python bench/http_servers.py 127.0.0.1 127.0.0.2      # prints the port, serves until stdin closes
"""

from __future__ import annotations

import asyncio
import subprocess
import sys


def serve(hosts: list[str]) -> tuple[subprocess.Popen[str], int]:
    """Start the server process for `hosts` (loopback addresses); (process, port)."""
    proc = subprocess.Popen(
        [sys.executable, __file__, *hosts], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.strip().isdigit():
        proc.kill()
        raise RuntimeError(f"benchmark servers did not start: {line!r}")
    return proc, int(line)


def stop(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_flaps: dict[str, int] = {}


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode("latin-1")
            status = b"200 OK"
            if path.startswith("/delay/"):
                await asyncio.sleep(int(path[7:].partition("?")[0]) / 1000)
            elif path.startswith("/flap/"):
                key = path[6:].partition("?")[0]
                _flaps[key] = _flaps.get(key, 0) + 1
                status = b"200 OK" if _flaps[key] % 2 else b"503 Service Unavailable"
            writer.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, IndexError, ValueError):
        pass
    finally:
        writer.close()


async def _serve(hosts: list[str]) -> None:
    first = await asyncio.start_server(_handle, hosts[0], 0, backlog=1024)
    port = first.sockets[0].getsockname()[1]
    servers = [first] + [await asyncio.start_server(_handle, host, port, backlog=1024) for host in hosts[1:]]
    print(port, flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until our stdin closes
    loop.set_exception_handler(lambda _loop, _context: None)  # idle keep-alive handlers are cancelled
    for server in servers:
        server.close()


if __name__ == "__main__":
    asyncio.run(_serve(sys.argv[1:] or ["127.0.0.1"]))
