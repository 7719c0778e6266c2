"""Local servers for the ssl-monitor tests: a CRL + OCSP responder, STARTTLS servers, openssl s_server.

tool             await tool("cert_check", host=..., port=...) -> structured result (asserts no error)
tool_error       await tool_error("cert_check", ...) -> the ToolError text (asserts it is one)
pki              a running `PkiResponder` (CRL at /crl, OCSP at /ocsp) for the session CA
starttls_server  async context manager: a STARTTLS server for one protocol serving a leaf
openssl_server   context manager: `openssl s_server` on loopback (optionally stapling a response)
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from mcp import Client
from support.certs import CertAuthority, Leaf, make_key
from support.ports import free_port

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


# --- calling tools ---------------------------------------------------------------------------------


@pytest.fixture
def tool() -> Callable[..., Awaitable[dict[str, Any]]]:
    from ssl_monitor.server import mcp

    async def call(name: str, **arguments: Any) -> dict[str, Any]:
        async with Client(mcp) as client:
            result = await client.call_tool(name, arguments)
        assert not result.is_error, result.content
        assert result.structured_content is not None
        return result.structured_content

    return call


@pytest.fixture
def tool_error() -> Callable[..., Awaitable[str]]:
    from ssl_monitor.server import mcp

    async def call(name: str, **arguments: Any) -> str:
        async with Client(mcp) as client:
            result = await client.call_tool(name, arguments)
        assert result.is_error, result.structured_content
        return " ".join(c.text for c in result.content if c.type == "text")

    return call


# --- CRL and OCSP ----------------------------------------------------------------------------------


class PkiResponder:
    """A loopback HTTP server publishing a CRL (GET /crl) and answering OCSP (POST /ocsp) for `ca`.

    `revoke(leaf)` marks a certificate revoked in both. `issued(leaf)` makes it known to OCSP
    (others get "unknown"). `stale`, `wrong_key` and `delegated` change how answers are made.
    """

    def __init__(self, ca: CertAuthority) -> None:
        self.ca = ca
        self.revoked: dict[int, tuple[dt.datetime, x509.ReasonFlags]] = {}
        self.known: set[int] = set()
        self.stale = False
        self.wrong_key = False
        self.delegated = False
        self.requests: list[str] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def crl_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/crl"

    @property
    def ocsp_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ocsp"

    def issue(self, **kwargs: Any) -> Leaf:
        """A leaf from `ca` naming this responder's CRL and OCSP URLs, known to OCSP."""
        leaf = self.ca.issue_leaf(crl_url=self.crl_url, ocsp_url=self.ocsp_url, **kwargs)
        self.known.add(leaf.cert.serial_number)
        return leaf

    def revoke(self, leaf: Leaf, reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise) -> dt.datetime:
        when = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
        self.revoked[leaf.cert.serial_number] = (when, reason)
        return when

    def _times(self) -> tuple[dt.datetime, dt.datetime]:
        now = dt.datetime.now(dt.UTC)
        if self.stale:
            return now - dt.timedelta(days=10), now - dt.timedelta(days=3)
        return now - dt.timedelta(minutes=1), now + dt.timedelta(days=1)

    def crl(self) -> bytes:
        this_update, next_update = self._times()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca.cert.subject)
            .last_update(this_update)
            .next_update(next_update)
        )
        for serial, (when, reason) in self.revoked.items():
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(serial)
                .revocation_date(when)
                .add_extension(x509.CRLReason(reason), critical=False)
                .build()
            )
        key = make_key() if self.wrong_key else self.ca.key
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def _responder(self) -> tuple[x509.Certificate, Any, list[x509.Certificate]]:
        if not self.delegated:
            return self.ca.cert, self.ca.key, []
        key = make_key()
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "test OCSP responder")]))
            .issuer_name(self.ca.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
            .sign(self.ca.key, hashes.SHA256())
        )
        return cert, key, [cert]

    def ocsp_response(self, request_der: bytes) -> bytes:
        request = ocsp.load_der_ocsp_request(request_der)
        serial = request.serial_number
        this_update, next_update = self._times()
        if serial in self.revoked:
            when, reason = self.revoked[serial]
            status, revoked_at, why = ocsp.OCSPCertStatus.REVOKED, when, reason
        elif serial in self.known:
            status, revoked_at, why = ocsp.OCSPCertStatus.GOOD, None, None
        else:
            status, revoked_at, why = ocsp.OCSPCertStatus.UNKNOWN, None, None
        responder_cert, responder_key, certs = self._responder()
        encoding = ocsp.OCSPResponderEncoding.HASH
        if self.wrong_key:
            # A forger: the issuer's name on someone else's key.
            forger = CertAuthority(self.ca.name)
            responder_cert, responder_key, encoding = forger.cert, forger.key, ocsp.OCSPResponderEncoding.NAME
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                issuer_name_hash=request.issuer_name_hash,
                issuer_key_hash=request.issuer_key_hash,
                serial_number=serial,
                algorithm=request.hash_algorithm,
                cert_status=status,
                this_update=this_update,
                next_update=next_update,
                revocation_time=revoked_at,
                revocation_reason=why,
            )
            .responder_id(encoding, responder_cert)
        )
        if certs:
            builder = builder.certificates(certs)
        return builder.sign(responder_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def stapled_response(self, leaf: Leaf) -> bytes:
        """The OCSP response a server would staple for `leaf`."""
        request = ocsp.OCSPRequestBuilder().add_certificate(leaf.cert, self.ca.cert, hashes.SHA1()).build()
        return self.ocsp_response(request.public_bytes(serialization.Encoding.DER))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines if h)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(f"{method} {path}")
            if method == "GET" and path == "/crl":
                status, payload, kind = "200 OK", self.crl(), "application/pkix-crl"
            elif method == "POST" and path == "/ocsp":
                status, payload, kind = "200 OK", self.ocsp_response(body), "application/ocsp-response"
            else:
                status, payload, kind = "404 Not Found", b"not found", "text/plain"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
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


@pytest.fixture
async def pki(ca: CertAuthority) -> AsyncIterator[PkiResponder]:
    responder = PkiResponder(ca)
    await responder.start()
    yield responder
    await responder.stop()


# --- STARTTLS ----------------------------------------------------------------------------------------

_XMPP_FEATURES = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    b"id='t1' from='localhost' version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
    b"<required/></starttls></stream:features>"
)


async def _starttls_dialogue(
    protocol: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bool:
    """The server's half of the upgrade; True when the client asked for TLS."""
    if protocol == "smtp":
        writer.write(b"220 mail.test ESMTP ready\r\n")
        await reader.readline()  # EHLO
        writer.write(b"250-mail.test greets you\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
        return (await reader.readline()).strip().upper() == b"STARTTLS" and _say(writer, b"220 go ahead\r\n")
    if protocol == "imap":
        writer.write(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n")
        tag, _, command = (await reader.readline()).strip().partition(b" ")
        return command.upper() == b"STARTTLS" and _say(writer, tag + b" OK begin TLS now\r\n")
    if protocol == "pop3":
        writer.write(b"+OK POP3 ready\r\n")
        return (await reader.readline()).strip().upper() == b"STLS" and _say(writer, b"+OK begin TLS\r\n")
    if protocol == "ftp":
        writer.write(b"220-welcome\r\n220 FTP ready\r\n")
        return (await reader.readline()).strip().upper() == b"AUTH TLS" and _say(
            writer, b"234 AUTH TLS ok\r\n"
        )
    if protocol == "xmpp":
        await reader.readuntil(b">")  # <?xml ...?>
        await reader.readuntil(b">")  # <stream:stream ...>
        writer.write(_XMPP_FEATURES)
        await reader.readuntil(b"/>")
        return _say(writer, b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    if protocol == "postgres":
        request = await reader.readexactly(8)
        return request == bytes.fromhex("0000000804d2162f") and _say(writer, b"S")
    raise ValueError(protocol)


def _say(writer: asyncio.StreamWriter, data: bytes) -> bool:
    writer.write(data)
    return True


@pytest.fixture
def starttls_server() -> Callable[[str, Leaf], contextlib.AbstractAsyncContextManager[int]]:
    @contextlib.asynccontextmanager
    async def serve(protocol: str, leaf: Leaf, *, refuse: bool = False) -> AsyncIterator[int]:
        context = leaf.server_ssl_context()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                if refuse:
                    writer.write(b"220 mail.test ESMTP\r\n")
                    await reader.readline()
                    writer.write(b"250 mail.test\r\n")
                    await reader.readline()
                    writer.write(b"454 TLS not available\r\n")
                    await writer.drain()
                elif await _starttls_dialogue(protocol, reader, writer):
                    await writer.drain()
                    await writer.start_tls(context)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            server.close()
            await server.wait_closed()

    return serve


# --- openssl s_server ----------------------------------------------------------------------------------


@pytest.fixture
def openssl_server(tmp_path: Path) -> Callable[..., contextlib.AbstractContextManager[int]]:
    """`openssl s_server` serving a leaf on 127.0.0.1; `staple=` DER to staple; extra flags pass through."""

    @contextlib.contextmanager
    def serve(leaf: Leaf, *flags: str, staple: bytes | None = None) -> Iterator[int]:
        files = leaf.write(tmp_path, f"s{time.monotonic_ns()}")
        port = free_port()
        command = [OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(files.cert_file),
                   "-key", str(files.key_file), "-quiet", "-naccept", "50", *flags]  # fmt: skip
        if staple is not None:
            staple_file = tmp_path / f"staple{port}.der"
            staple_file.write_bytes(staple)
            command += ["-status_file", str(staple_file)]
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if process.poll() is not None:
                    raise RuntimeError(
                        f"openssl s_server exited: {process.stderr.read() if process.stderr else ''}"
                    )
                time.sleep(0.02)
            yield port
        finally:
            process.kill()
            process.wait()
            if process.stdin:
                process.stdin.close()
            if process.stderr:
                process.stderr.close()

    return serve
