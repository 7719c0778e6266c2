"""Cold start: time from launching each server to its answer to `tools/list` over stdio.

Each server is compared with a bare `MCPServer` that has no tools, launched the same way in the
same run, interleaved round by round so that machine noise hits both alike. Prints the median
of each and the ratio; the target is at most 1.15x the bare server.

The children run without PYTHONDONTWRITEBYTECODE (whatever the calling shell sets), and each
server is launched once, untimed, before the timed rounds, so that every module - the
workspace's own (editable installs) as well as site-packages - is loaded from its bytecode
cache, as for any installed server after its first run.

    uv run python bench/cold_start.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

BARE = "from mcp.server import MCPServer\nMCPServer('bare', version='0').run()\n"
SERVERS = {
    "bare MCPServer": [sys.executable, "-c", BARE],
    "mcp-http-monitor": [sys.executable, "-m", "http_monitor"],
    "mcp-ssl-monitor": [sys.executable, "-m", "ssl_monitor"],
    "mcp-dns-monitor": [sys.executable, "-m", "dns_monitor"],
}
TARGET = 1.15
# The environment of every child: as the shell's, but allowed to write (and so to reuse) .pyc files.
CHILD_ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def _messages() -> bytes:
    lines = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "cold-start-bench", "version": "0"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    return b"".join(json.dumps(m).encode() + b"\n" for m in lines)


def time_one(command: list[str]) -> float:
    """Seconds from exec to the tools/list response line; the process is then closed."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=CHILD_ENV
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(_messages())
    proc.stdin.flush()
    try:
        for line in proc.stdout:
            message = json.loads(line)
            if message.get("id") == 2:
                if "result" not in message or not isinstance(message["result"].get("tools"), list):
                    raise RuntimeError(f"{command}: unexpected tools/list answer {message}")
                return time.perf_counter() - started
        raise RuntimeError(f"{command}: exited before answering tools/list")
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name in SERVERS}
    for command in SERVERS.values():  # untimed warm-up: fills the file cache and writes the .pyc files
        time_one(command)
    for _ in range(args.rounds):
        for name, command in SERVERS.items():
            samples[name].append(time_one(command))
    base = statistics.median(samples["bare MCPServer"])
    print(f"cold start to tools/list over stdio, median of {args.rounds} interleaved rounds")
    print(f"{'server':<20} {'median ms':>10} {'ratio':>7}")
    worst = 0.0
    for name, values in samples.items():
        median = statistics.median(values)
        ratio = median / base
        if name != "bare MCPServer":
            worst = max(worst, ratio)
        print(f"{name:<20} {median * 1000:>10.1f} {ratio:>6.2f}x")
    print(f"worst ratio {worst:.2f}x (target <= {TARGET}x): {'met' if worst <= TARGET else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
