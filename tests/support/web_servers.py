"""Real web servers on loopback for the tests: nginx and Caddy, each with a generated config.

Both serve the same site on two ports of 127.0.0.1 (plain http, and https with HTTP/2 and the
certificate given), from a private temporary directory, started in the foreground (no daemon, no
admin endpoint) and stopped with their process:

    /            200 "ok\\n"
    /r1, /r2     /r2 -> 301 /r1 -> 302 /: a chain of two redirects ending at /
    /to-https    301 to the https port's /
    /text        a 64 KiB text file (gzip-compressed when asked)
    /limited     a 256 KiB file sent at `RATE` bytes per second (nginx `limit_rate`; not on Caddy)
    /slow        proxied to `upstream` (a Python `HttpServer`) at /delay/{SLOW_MS}: a slow upstream

`Nginx(...).start()` / `Caddy(...).start()` raise `WebServerUnavailable` when the binary is not
installed (/usr/sbin/nginx, /usr/bin/caddy); ports are free ones picked just before starting.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

from support.ports import free_port

__all__ = ["LIMITED_BYTES", "RATE", "SLOW_MS", "TEXT_BYTES", "Caddy", "Nginx", "WebServerUnavailable"]

SLOW_MS = 300
RATE = 128 * 1024
LIMITED_BYTES = 256 * 1024  # two seconds at RATE (nginx sends the first burst at once)
TEXT_BYTES = 64 * 1024


class WebServerUnavailable(RuntimeError):
    """The server's binary is not installed."""


def _binary(name: str, *places: str) -> str:
    for place in places:
        if Path(place).exists():
            return place
    found = shutil.which(name)
    if found is None:
        raise WebServerUnavailable(f"{name} is not installed (apt-get install {name})")
    return found


def _wait_listening(ports: list[int], process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 20
    pending = list(ports)
    while pending:
        if process.poll() is not None:
            raise RuntimeError(
                f"{what} exited at start ({process.returncode}): {log.read_text(errors='replace')[-2000:]}"
            )
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(
                f"{what} did not listen on {pending} within 20 s: {log.read_text(errors='replace')[-2000:]}"
            )
        try:
            with socket.create_connection(("127.0.0.1", pending[0]), timeout=0.2):
                pending.pop(0)
        except OSError:
            time.sleep(0.05)


class _WebServer:
    name = ""

    def __init__(self, *, cert_pem: bytes, key_pem: bytes, upstream: str) -> None:
        """`cert_pem` (leaf first) and `key_pem` for the https port; `upstream` the base URL of the
        slow upstream (a loopback `HttpServer`)."""
        self.directory = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        self.cert = self.directory / "cert.pem"
        self.key = self.directory / "key.pem"
        self.cert.write_bytes(cert_pem)
        self.key.write_bytes(key_pem)
        self.key.chmod(0o600)
        self.upstream = upstream.rstrip("/")
        self.http_port = 0
        self.https_port = 0
        self.process: subprocess.Popen[bytes] | None = None
        site = self.directory / "site"
        site.mkdir()
        line = b"The quick brown fox jumps over the lazy dog; monitoring text that compresses well.\n"
        (site / "text").write_bytes((line * (TEXT_BYTES // len(line) + 1))[:TEXT_BYTES])
        (site / "limited").write_bytes(os.urandom(LIMITED_BYTES))
        self.site = site
        self.log = self.directory / "server.log"

    def url(self, path: str = "/", *, tls: bool = False) -> str:
        if tls:
            return f"https://127.0.0.1:{self.https_port}{path}"
        return f"http://127.0.0.1:{self.http_port}{path}"

    def _command(self) -> tuple[list[str], dict[str, str]]:
        raise NotImplementedError

    def start(self) -> Self:
        self.http_port, self.https_port = free_port(), free_port()
        command, env = self._command()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=self.directory,
            )
        _wait_listening([self.http_port, self.https_port], self.process, self.log, self.name)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Nginx(_WebServer):
    """nginx (Debian's /usr/sbin/nginx) in the foreground, one process, a prefix of its own."""

    name = "nginx"

    def _command(self) -> tuple[list[str], dict[str, str]]:
        binary = _binary("nginx", "/usr/sbin/nginx")
        d = self.directory
        temps = "\n".join(
            f"    {kind}_temp_path {d / kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        config = f"""
daemon off;
master_process off;
worker_processes 1;
pid {d / "nginx.pid"};
error_log {d / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
{temps}
    default_type text/plain;
    gzip on;
    gzip_types text/plain application/octet-stream;
    gzip_min_length 256;
    server {{
        listen 127.0.0.1:{self.http_port};
        listen 127.0.0.1:{self.https_port} ssl http2;
        ssl_certificate {self.cert};
        ssl_certificate_key {self.key};
        location = / {{ return 200 "ok\\n"; }}
        location = /r2 {{ return 301 /r1; }}
        location = /r1 {{ return 302 /; }}
        location = /to-https {{ return 301 https://127.0.0.1:{self.https_port}/; }}
        location = /text {{ alias {self.site / "text"}; }}
        location = /limited {{ gzip off; limit_rate {RATE}; alias {self.site / "limited"}; }}
        location = /slow {{ proxy_pass {self.upstream}/delay/{SLOW_MS}; }}
    }}
}}
"""
        (d / "nginx.conf").write_text(config)
        return [binary, "-p", str(d), "-c", str(d / "nginx.conf"), "-e", str(d / "error.log")], dict(
            os.environ
        )


class Caddy(_WebServer):
    """Caddy (/usr/bin/caddy) with a generated JSON config: admin off, no automatic HTTPS, the
    certificate given, its data and config directories inside its own temporary directory."""

    name = "caddy"

    def _command(self) -> tuple[list[str], dict[str, str]]:
        binary = _binary("caddy", "/usr/bin/caddy")

        def route(path: str, handler: dict[str, object]) -> dict[str, object]:
            return {"match": [{"path": [path]}], "handle": [handler], "terminal": True}

        def redirect(path: str, status: int, location: str) -> dict[str, object]:
            return route(
                path,
                {"handler": "static_response", "status_code": status, "headers": {"Location": [location]}},
            )

        upstream_host = self.upstream.split("://", 1)[1]
        routes = [
            route("/", {"handler": "static_response", "status_code": 200, "body": "ok\n"}),
            redirect("/r2", 301, "/r1"),
            redirect("/r1", 302, "/"),
            redirect("/to-https", 301, f"https://127.0.0.1:{self.https_port}/"),
            {
                "match": [{"path": ["/text"]}],
                "handle": [
                    {"handler": "encode", "encodings": {"gzip": {}}, "minimum_length": 256},
                    {"handler": "file_server", "root": str(self.site)},
                ],
                "terminal": True,
            },
            route(
                "/slow",
                {
                    "handler": "reverse_proxy",
                    "upstreams": [{"dial": upstream_host}],
                    "rewrite": {"uri": f"/delay/{SLOW_MS}"},
                },
            ),
        ]
        config = {
            "admin": {"disabled": True},
            "storage": {"module": "file_system", "root": str(self.directory / "data")},
            "apps": {
                "http": {
                    "servers": {
                        "plain": {
                            "listen": [f"127.0.0.1:{self.http_port}"],
                            "routes": routes,
                            "automatic_https": {"disable": True},
                        },
                        "tls": {
                            "listen": [f"127.0.0.1:{self.https_port}"],
                            "routes": routes,
                            "tls_connection_policies": [{}],
                            "automatic_https": {"disable": True},
                        },
                    }
                },
                "tls": {
                    "certificates": {"load_files": [{"certificate": str(self.cert), "key": str(self.key)}]},
                    "automation": {"policies": [{"issuers": [{"module": "internal"}]}]},
                },
            },
        }
        (self.directory / "caddy.json").write_text(json.dumps(config, indent=1))
        env = {
            **os.environ,
            "HOME": str(self.directory),
            "XDG_DATA_HOME": str(self.directory / "data"),
            "XDG_CONFIG_HOME": str(self.directory / "config"),
        }
        return [binary, "run", "--config", str(self.directory / "caddy.json")], env
