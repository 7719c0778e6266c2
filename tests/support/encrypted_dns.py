"""DNS over TLS (RFC 7858) and DNS over HTTPS (RFC 8484, POST) on 127.0.0.1, for tests.

Both answer with a `dns_server` handler (`zone(...)`, `servfail`, ...) and present a certificate
for 127.0.0.1 minted by a fresh trustme CA; `client_context()` trusts it::

    with DnsOverTls(zone(records)) as dot, DnsOverHttps(zone(records)) as doh:
        ... f"tls://127.0.0.1:{dot.port}", doh.url, verify=dot.client_context() ...
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dns.message
import trustme

from support.dns_server import Handler

__all__ = ["DnsOverHttps", "DnsOverTls"]


def _answer(handler: Handler, wire: bytes) -> bytes | None:
    request = dns.message.from_wire(wire)
    response = handler(request, "tcp")
    if isinstance(response, dns.message.Message):
        return response.to_wire(max_size=65535)
    return response if isinstance(response, bytes) else None


class _Tls:
    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ca.issue_cert("127.0.0.1").configure_cert(self.context)
        self.queries = 0

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


class DnsOverTls(_Tls):
    """DNS over TLS: two-byte length prefixed messages on a TLS connection."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="dot", daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError, EOFError), self.context.wrap_socket(conn, server_side=True) as tls:
            tls.settimeout(5)
            while True:
                head = tls.recv(2)
                if len(head) < 2:
                    return
                (length,) = struct.unpack("!H", head)
                wire = b""
                while len(wire) < length:
                    chunk = tls.recv(length - len(wire))
                    if not chunk:
                        return
                    wire += chunk
                self.queries += 1
                answer = _answer(self.handler, wire)
                if answer is not None:
                    tls.sendall(struct.pack("!H", len(answer)) + answer)

    def __enter__(self) -> DnsOverTls:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


class DnsOverHttps(_Tls):
    """DNS over HTTPS: POST application/dns-message to /dns-query (HTTP/1.1)."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        outer = self

        class Request(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = None
                if (
                    self.path == "/dns-query"
                    and self.headers.get("Content-Type") == "application/dns-message"
                ):
                    outer.queries += 1
                    answer = _answer(outer.handler, body)
                self.send_response(200 if answer is not None else 400)
                self.send_header("Content-Type", "application/dns-message")
                self.send_header("Content-Length", str(len(answer or b"")))
                self.end_headers()
                self.wfile.write(answer or b"")

            def log_message(self, format: str, *args: object) -> None:
                return

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Request)
        self._httpd.daemon_threads = True
        self._httpd.socket = self.context.wrap_socket(self._httpd.socket, server_side=True)
        self.port = self._httpd.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}/dns-query"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="doh", daemon=True)

    def __enter__(self) -> DnsOverHttps:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
