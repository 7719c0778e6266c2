"""Real OCSP answers on loopback: OpenSSL's `openssl ocsp` responder, and nginx stapling what it made.

    OpensslResponder(directory, ca)   an OCSP responder whose answers `openssl ocsp` makes and signs
        .url                          http://127.0.0.1:<port>/ (start() first)
        .add(leaf) / .revoke(leaf)    the leaf in its index: valid, or revoked (keyCompromise)
        .staple(leaf)                 the DER response a server staples for `leaf`, made by openssl
        .requests                     how many requests reached it
    nginx_stapling(directory, leaf, staple)   nginx serving `leaf` with `ssl_stapling_file` -> port

`openssl ocsp -port` listens on every interface and cannot be told otherwise, so the responder
is a loopback HTTP front that hands each POSTed request to `openssl ocsp -reqin ... -respout ...`
(OpenSSL's responder logic and signature, one process per request) and returns its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from support.certs import CertAuthority, Leaf
from support.ports import free_port
from support.tls_daemons import NGINX, _running

__all__ = ["OpensslResponder", "nginx_stapling"]

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%y%m%d%H%M%SZ")


class OpensslResponder:
    """`openssl ocsp` answering for `ca` from an index file (see the module)."""

    def __init__(self, directory: Path, ca: CertAuthority) -> None:
        self.directory = directory
        self.ca = ca
        self.entries: dict[int, str] = {}
        self.requests = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ca.pem").write_text(ca.cert_pem)
        (directory / "ca.key").write_text(ca.key_pem)
        self._write_index()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _entry(self, leaf: Leaf, status: str, revoked: str = "") -> None:
        serial = format(leaf.cert.serial_number, "X")
        serial = serial if len(serial) % 2 == 0 else "0" + serial
        subject = "/CN=test leaf"  # openssl looks entries up by serial only
        self.entries[leaf.cert.serial_number] = (
            f"{status}\t{_stamp(leaf.not_after)}\t{revoked}\t{serial}\tunknown\t{subject}\n"
        )
        self._write_index()

    def _write_index(self) -> None:
        (self.directory / "index.txt").write_text("".join(self.entries.values()))

    def add(self, leaf: Leaf) -> None:
        self._entry(leaf, "V")

    def revoke(self, leaf: Leaf) -> dt.datetime:
        when = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
        self._entry(leaf, "R", f"{_stamp(when)},keyCompromise")
        return when

    def answer(self, request_der: bytes, name: str = "req") -> bytes:
        """What `openssl ocsp` answers to `request_der` (DER), signed with the CA's key."""
        request, response = self.directory / f"{name}.der", self.directory / f"{name}.resp.der"
        request.write_bytes(request_der)
        d = self.directory
        subprocess.run(
            [OPENSSL, "ocsp", "-index", str(d / "index.txt"), "-CA", str(d / "ca.pem"),
             "-rsigner", str(d / "ca.pem"), "-rkey", str(d / "ca.key"), "-ndays", "1",
             "-reqin", str(request), "-respout", str(response)],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        return response.read_bytes()

    def staple(self, leaf: Leaf) -> bytes:
        """The response a server staples for `leaf`: openssl's request, then openssl's answer."""
        d = self.directory
        (d / "leaf.pem").write_bytes(leaf.cert.public_bytes(serialization.Encoding.PEM))
        subprocess.run(
            [OPENSSL, "ocsp", "-issuer", str(d / "ca.pem"), "-cert", str(d / "leaf.pem"), "-no_nonce",
             "-reqout", str(d / "staple-req.der")],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        return self.answer((d / "staple-req.der").read_bytes(), "staple")

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
                0,
            )  # fmt: skip
            body = await reader.readexactly(length)
            self.requests += 1
            answer = await asyncio.to_thread(self.answer, body, f"req{self.requests}")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response\r\n"
                + f"Content-Length: {len(answer)}\r\nConnection: close\r\n\r\n".encode()
                + answer
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, subprocess.CalledProcessError):
            pass
        finally:
            writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@contextlib.contextmanager
def nginx_stapling(directory: Path, leaf: Leaf, staple: bytes) -> Iterator[int]:
    """nginx on 127.0.0.1 serving `leaf` and stapling `staple` (DER) from `ssl_stapling_file`."""
    assert NGINX is not None, "nginx is not installed (Debian package nginx)"
    directory.mkdir(parents=True, exist_ok=True)
    files = leaf.write(directory, "nginx")
    (directory / "staple.der").write_bytes(staple)
    port = free_port()
    temp = " ".join(f"{kind}_temp_path {directory}/{kind};" for kind in ("proxy", "fastcgi", "uwsgi", "scgi"))
    (directory / "nginx.conf").write_text(
        f"""daemon off;
master_process off;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    {temp}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {files.cert_file};
        ssl_certificate_key {files.key_file};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_stapling on;
        ssl_stapling_file {directory}/staple.der;
        location / {{ return 200 "ok"; }}
    }}
}}
"""
    )
    command = [
        NGINX,
        "-p",
        str(directory),
        "-c",
        str(directory / "nginx.conf"),
        "-e",
        str(directory / "error.log"),
    ]
    with _running(command, port, directory / "nginx.log") as bound:
        yield bound
