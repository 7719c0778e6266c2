"""A tiny HTTPS server on loopback that serves fixed documents by Host and path (HTTP/1.1).

For checks that fetch a well-known URL from a named host: the MTA-STS policy at
`https://mta-sts.<domain>/.well-known/mta-sts.txt`, or an RDAP server's JSON. The certificate
is minted by a trustme CA for the host names given; clients trust `ca` and connect to
127.0.0.1 on `port`::

    with StaticHttps({("mta-sts.example.test", "/.well-known/mta-sts.txt"): (200, "text/plain", "...")},
                     hosts=["mta-sts.example.test"]) as server:
        ... server.port, server.client_context() ...

Unknown routes get 404. `requests` records (host, path) of every request.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme

__all__ = ["Document", "StaticHttps"]

Document = tuple[int, str, str]  # status, content type, body


class StaticHttps:
    def __init__(self, documents: Mapping[tuple[str, str], Document], *, hosts: Sequence[str]) -> None:
        self.documents = dict(documents)
        self.ca = trustme.CA()
        self.requests: list[tuple[str, str]] = []
        cert = self.ca.issue_cert(*hosts)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
                path = self.path.split("?", 1)[0]
                server.requests.append((host, path))
                status, kind, body = server.documents.get((host, path), (404, "text/plain", "not found"))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self.port: int = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="static-https", daemon=True)

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def __enter__(self) -> StaticHttps:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
