"""TLS certificates minted per test case with `cryptography`, and SSL contexts built from them.

A `CertAuthority` is a self-signed root (EC P-256 by default, so a key costs well under a
millisecond, not the tens of milliseconds of RSA). It issues intermediates and server
("leaf") certificates::

    ca = CertAuthority()
    leaf = ca.issue_leaf(["localhost", "127.0.0.1"])          # IP strings become IP SANs
    server_ctx = leaf.server_ssl_context()                   # what a loopback server loads
    client_ctx = leaf.client_ssl_context()                   # trusts `ca`, checks the host name

The named cases ssl-monitor and http-monitor test against are methods of the authority:

    ca.valid()                      issued by the root, valid for localhost, 127.0.0.1 and ::1
    ca.expired(days_ago=1)          not_after in the past
    ca.not_yet_valid(days_ahead=1)  not_before in the future
    ca.expiring_in(days)            not_after `days` from now
    ca.wrong_host()                 valid, but only for wrong.host.test
    ca.self_signed()                a leaf that signed itself (not trusted by `ca`)
    ca.with_intermediate()          issued by `ca.intermediate`; the server sends leaf + intermediate
    ca.without_intermediate()       issued by `ca.intermediate`; the server sends only the leaf
    ca.weak_signature()             signed with SHA-1
    ca.weak_key()                   a 1024-bit RSA key

A default client context accepts `valid`, `expiring_in` and `with_intermediate` and refuses
the others; the server side loads the weak ones at OpenSSL security level 0 so that the
client gets to decide.

Every case is a `Leaf` with `cert_pem`, `key_pem`, `chain_pem` (what the server sends: the
leaf then its intermediates; change it with `leaf.with_chain(...)`), `ca_pem` (the trust
anchor to give the client: always the root of the authority that minted it, so a self-signed
leaf is *not* trusted by it), `write(directory)` for servers that need files, and
`server_ssl_context()` / `client_ssl_context()`.

`serve_tls(context)` runs a bare TLS listener on loopback that completes handshakes and closes,
enough for a certificate check.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import ipaddress
import ssl
import tempfile
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

__all__ = [
    "DEFAULT_HOSTNAMES",
    "CertAuthority",
    "CertFiles",
    "HashName",
    "KeyType",
    "Leaf",
    "PrivateKey",
    "make_key",
    "serve_tls",
]

KeyType = Literal["ec", "rsa"]
HashName = Literal["sha256", "sha384", "sha512", "sha1"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

DEFAULT_HOSTNAMES: tuple[str, ...] = ("localhost", "127.0.0.1", "::1")

_HASHES: dict[str, hashes.SHA256 | hashes.SHA384 | hashes.SHA512] = {
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
_CURVES: dict[int, type[ec.EllipticCurve]] = {256: ec.SECP256R1, 384: ec.SECP384R1, 521: ec.SECP521R1}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_key(key_type: KeyType = "ec", key_size: int | None = None) -> PrivateKey:
    """A fresh private key: EC on P-256 (or P-384/P-521 by `key_size`), or RSA (2048 by default)."""
    if key_type == "ec":
        curve = _CURVES.get(key_size or 256)
        if curve is None:
            raise ValueError(f"EC key_size must be one of {sorted(_CURVES)}, got {key_size}")
        return ec.generate_private_key(curve())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=key_size or 2048)
    raise ValueError(f"key_type must be 'ec' or 'rsa', got {key_type!r}")


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _key_pem(key: PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _san(hostnames: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mcp-monitor tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


# cryptography no longer signs certificates with SHA-1, so a weak-signature certificate is
# signed with SHA-256 and then re-signed by hand: swap the algorithm identifier in the TBS
# part and in the outer certificate, sign the new TBS bytes with SHA-1, re-encode the DER.
_SHA1_ALGORITHM_ID = {
    "ec": bytes.fromhex("300906072a8648ce3d0401"),  # ecdsa-with-SHA1
    "rsa": bytes.fromhex("300d06092a864886f70d0101050500"),  # sha1WithRSAEncryption, NULL
}


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def _der_elements(der: bytes) -> tuple[int, list[bytes]]:
    """The tag of the outer element of `der` and its children, each as complete TLV bytes."""

    def header(data: bytes, at: int) -> tuple[int, int]:  # (content start, content length)
        first = data[at + 1]
        if first < 0x80:
            return at + 2, first
        count = first & 0x7F
        return at + 2 + count, int.from_bytes(data[at + 2 : at + 2 + count], "big")

    start, length = header(der, 0)
    children: list[bytes] = []
    at = start
    while at < start + length:
        content, size = header(der, at)
        children.append(der[at : content + size])
        at = content + size
    return der[0], children


def _der_sequence(children: Sequence[bytes]) -> bytes:
    body = b"".join(children)
    return b"\x30" + _der_length(len(body)) + body


def _sign_sha1(cert: x509.Certificate, signer_key: PrivateKey) -> x509.Certificate:
    algorithm_id = _SHA1_ALGORITHM_ID["ec" if isinstance(signer_key, ec.EllipticCurvePrivateKey) else "rsa"]
    _, tbs_fields = _der_elements(cert.tbs_certificate_bytes)
    tbs_fields[2] = algorithm_id  # version [0], serialNumber, signature AlgorithmIdentifier, ...
    tbs = _der_sequence(tbs_fields)
    if isinstance(signer_key, ec.EllipticCurvePrivateKey):
        signature = signer_key.sign(tbs, ec.ECDSA(hashes.SHA1()))
    else:
        signature = signer_key.sign(tbs, padding.PKCS1v15(), hashes.SHA1())
    bit_string = b"\x03" + _der_length(len(signature) + 1) + b"\x00" + signature
    return x509.load_der_x509_certificate(_der_sequence([tbs, algorithm_id, bit_string]))


class CertFiles(NamedTuple):
    """Paths written by `Leaf.write`: the chain the server sends, its key, and the client's CA."""

    cert_file: Path
    key_file: Path
    ca_file: Path


@dataclasses.dataclass(frozen=True)
class Leaf:
    """A server certificate, its key, the chain the server sends and the client's trust anchor."""

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]
    """What a server sends, in order; the leaf first unless changed with `with_chain`."""
    ca_cert: x509.Certificate
    """The trust anchor the client should use."""

    @property
    def cert_pem(self) -> str:
        return _pem(self.cert)

    @property
    def key_pem(self) -> str:
        return _key_pem(self.key)

    @property
    def chain_pem(self) -> str:
        return "".join(_pem(c) for c in self.chain)

    @property
    def ca_pem(self) -> str:
        return _pem(self.ca_cert)

    @property
    def not_before(self) -> dt.datetime:
        return self.cert.not_valid_before_utc

    @property
    def not_after(self) -> dt.datetime:
        return self.cert.not_valid_after_utc

    def with_chain(self, *certs: x509.Certificate) -> Leaf:
        """The same leaf served with another chain, e.g. in the wrong order or with extras."""
        return dataclasses.replace(self, chain=tuple(certs))

    def write(self, directory: Path | str, name: str = "server") -> CertFiles:
        """Write `<name>.chain.pem` (chain_pem), `<name>.key.pem` and `<name>.ca.pem` to `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        files = CertFiles(
            directory / f"{name}.chain.pem", directory / f"{name}.key.pem", directory / f"{name}.ca.pem"
        )
        files.cert_file.write_text(self.chain_pem)
        files.key_file.write_text(self.key_pem)
        files.ca_file.write_text(self.ca_pem)
        return files

    @property
    def is_weak(self) -> bool:
        """Whether OpenSSL's default security level would refuse to load or accept this leaf."""
        weak_hash = isinstance(self.cert.signature_hash_algorithm, hashes.SHA1)
        weak_key = isinstance(self.key, rsa.RSAPrivateKey) and self.key.key_size < 2048
        return weak_hash or weak_key

    def server_ssl_context(
        self,
        *,
        minimum_version: ssl.TLSVersion | None = None,
        maximum_version: ssl.TLSVersion | None = None,
        alpn_protocols: Sequence[str] | None = None,
        security_level: int | None = None,
    ) -> ssl.SSLContext:
        """A server-side context that presents `chain` with `key`.

        `security_level` sets OpenSSL's @SECLEVEL; by default it is 0 for a weak leaf (SHA-1
        signature, RSA under 2048 bits), which OpenSSL would otherwise refuse to serve, and left
        alone otherwise.
        """
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if security_level is None and self.is_weak:
            security_level = 0
        if security_level is not None:
            context.set_ciphers(f"DEFAULT:@SECLEVEL={security_level}")
        if minimum_version is not None:
            context.minimum_version = minimum_version
        if maximum_version is not None:
            context.maximum_version = maximum_version
        if alpn_protocols is not None:
            context.set_alpn_protocols(list(alpn_protocols))
        # load_cert_chain only reads files; they live just long enough to be loaded.
        with tempfile.TemporaryDirectory(prefix="mcp-monitor-cert-") as tmp:
            files = self.write(tmp)
            context.load_cert_chain(files.cert_file, files.key_file)
        return context

    def client_ssl_context(self, *, check_hostname: bool = True) -> ssl.SSLContext:
        """A client context that trusts only `ca_cert` and (by default) checks the host name."""
        context = ssl.create_default_context(cadata=self.ca_pem)
        context.check_hostname = check_hostname
        return context


class CertAuthority:
    """A certificate authority for tests: a self-signed root, or an intermediate issued by one."""

    def __init__(
        self,
        name: str = "mcp-monitor test root CA",
        *,
        key_type: KeyType = "ec",
        key_size: int | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        parent: CertAuthority | None = None,
        path_length: int | None = None,
    ) -> None:
        self.name = name
        self.parent = parent
        self.key: PrivateKey = make_key(key_type, key_size)
        now = _now()
        public_key = self.key.public_key()
        ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
        issuer_key = parent.key if parent is not None else self.key
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(parent.cert.subject if parent is not None else _name(name))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(days=1))
            .not_valid_after(not_after or now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        )
        self.cert = builder.sign(issuer_key, hashes.SHA256())
        self._intermediate: CertAuthority | None = None

    @property
    def root(self) -> CertAuthority:
        return self.parent.root if self.parent is not None else self

    @property
    def chain(self) -> tuple[x509.Certificate, ...]:
        """The intermediates between this authority and its root, this one first (empty for a root)."""
        if self.parent is None:
            return ()
        return (self.cert, *self.parent.chain)

    @property
    def cert_pem(self) -> str:
        return _pem(self.cert)

    @property
    def key_pem(self) -> str:
        return _key_pem(self.key)

    def issue_intermediate(
        self,
        name: str = "mcp-monitor test intermediate CA",
        *,
        key_type: KeyType = "ec",
        key_size: int | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> CertAuthority:
        """A new intermediate CA signed by this one."""
        return CertAuthority(
            name,
            key_type=key_type,
            key_size=key_size,
            not_before=not_before,
            not_after=not_after,
            parent=self,
            path_length=0,
        )

    @property
    def intermediate(self) -> CertAuthority:
        """An intermediate of this authority, made on first use and then reused."""
        if self._intermediate is None:
            self._intermediate = self.issue_intermediate()
        return self._intermediate

    def issue_leaf(
        self,
        hostnames: Sequence[str] = DEFAULT_HOSTNAMES,
        *,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        key_type: KeyType = "ec",
        key_size: int | None = None,
        hash_name: HashName = "sha256",
        must_staple: bool = False,
        common_name: str | None = None,
        ocsp_url: str | None = None,
        crl_url: str | None = None,
        send_intermediates: bool = True,
    ) -> Leaf:
        """A server certificate signed by this authority.

        Defaults: valid from an hour ago for 90 days, EC P-256, SHA-256, subject CN the first
        host name. Host names that parse as IP addresses become IP SANs. `must_staple` adds
        the TLS feature extension (status_request). `send_intermediates=False` leaves the
        intermediates out of `chain` (the "missing intermediate" misconfiguration).
        """
        now = _now()
        key = make_key(key_type, key_size)
        return self._sign_leaf(
            key,
            hostnames,
            not_before=not_before or now - dt.timedelta(hours=1),
            not_after=not_after or now + dt.timedelta(days=90),
            hash_name=hash_name,
            must_staple=must_staple,
            common_name=common_name,
            ocsp_url=ocsp_url,
            crl_url=crl_url,
            send_intermediates=send_intermediates,
        )

    def _sign_leaf(
        self,
        key: PrivateKey,
        hostnames: Sequence[str],
        *,
        not_before: dt.datetime,
        not_after: dt.datetime,
        hash_name: HashName,
        must_staple: bool,
        common_name: str | None,
        ocsp_url: str | None,
        crl_url: str | None,
        send_intermediates: bool,
        self_signed: bool = False,
    ) -> Leaf:
        subject = _name(common_name or (hostnames[0] if hostnames else "mcp-monitor test server"))
        signer_key = key if self_signed else self.key
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if self_signed else self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=isinstance(key, rsa.RSAPrivateKey),
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), critical=False
            )
        )
        if hostnames:
            builder = builder.add_extension(x509.SubjectAlternativeName(_san(hostnames)), critical=False)
        if must_staple:
            builder = builder.add_extension(
                x509.TLSFeature([x509.TLSFeatureType.status_request]), critical=False
            )
        if ocsp_url is not None:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
                        )
                    ]
                ),
                critical=False,
            )
        if crl_url is not None:
            builder = builder.add_extension(
                x509.CRLDistributionPoints(
                    [x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)]
                ),
                critical=False,
            )
        if hash_name == "sha1":
            cert = _sign_sha1(builder.sign(signer_key, hashes.SHA256()), signer_key)
        else:
            cert = builder.sign(signer_key, _HASHES[hash_name])
        chain = (cert, *self.chain) if send_intermediates and not self_signed else (cert,)
        return Leaf(cert=cert, key=key, chain=chain, ca_cert=self.root.cert)

    # The named cases -------------------------------------------------------------------------

    def valid(
        self,
        hostnames: Sequence[str] = DEFAULT_HOSTNAMES,
        *,
        key_type: KeyType = "ec",
        key_size: int | None = None,
        must_staple: bool = False,
    ) -> Leaf:
        """A leaf issued by this authority, valid now for `hostnames`."""
        return self.issue_leaf(hostnames, key_type=key_type, key_size=key_size, must_staple=must_staple)

    def expired(self, hostnames: Sequence[str] = DEFAULT_HOSTNAMES, *, days_ago: float = 1) -> Leaf:
        """A leaf whose not_after was `days_ago` days ago (valid for 90 days before that)."""
        not_after = _now() - dt.timedelta(days=days_ago)
        return self.issue_leaf(hostnames, not_before=not_after - dt.timedelta(days=90), not_after=not_after)

    def not_yet_valid(self, hostnames: Sequence[str] = DEFAULT_HOSTNAMES, *, days_ahead: float = 1) -> Leaf:
        """A leaf whose not_before is `days_ahead` days from now."""
        not_before = _now() + dt.timedelta(days=days_ahead)
        return self.issue_leaf(hostnames, not_before=not_before, not_after=not_before + dt.timedelta(days=90))

    def expiring_in(self, days: float, hostnames: Sequence[str] = DEFAULT_HOSTNAMES) -> Leaf:
        """A leaf valid now whose not_after is `days` days from now."""
        now = _now()
        return self.issue_leaf(
            hostnames, not_before=now - dt.timedelta(days=30), not_after=now + dt.timedelta(days=days)
        )

    def wrong_host(self, hostnames: Sequence[str] = ("wrong.host.test",)) -> Leaf:
        """A valid leaf for names other than the loopback ones a test connects to."""
        return self.issue_leaf(hostnames)

    def self_signed(self, hostnames: Sequence[str] = DEFAULT_HOSTNAMES) -> Leaf:
        """A leaf that is its own issuer; `ca_pem` is still this authority's root, which does not trust it."""
        now = _now()
        return self._sign_leaf(
            make_key(),
            hostnames,
            not_before=now - dt.timedelta(hours=1),
            not_after=now + dt.timedelta(days=90),
            hash_name="sha256",
            must_staple=False,
            common_name=None,
            ocsp_url=None,
            crl_url=None,
            send_intermediates=False,
            self_signed=True,
        )

    def with_intermediate(self, hostnames: Sequence[str] = DEFAULT_HOSTNAMES) -> Leaf:
        """A leaf issued by `self.intermediate`, served with the intermediate: verifies."""
        return self.intermediate.issue_leaf(hostnames)

    def without_intermediate(self, hostnames: Sequence[str] = DEFAULT_HOSTNAMES) -> Leaf:
        """A leaf issued by `self.intermediate`, served alone: clients cannot build the chain."""
        return self.intermediate.issue_leaf(hostnames, send_intermediates=False)

    def weak_signature(self, hostnames: Sequence[str] = DEFAULT_HOSTNAMES) -> Leaf:
        """A leaf signed with SHA-1."""
        return self.issue_leaf(hostnames, hash_name="sha1")

    def weak_key(self, hostnames: Sequence[str] = DEFAULT_HOSTNAMES) -> Leaf:
        """A leaf with a 1024-bit RSA key."""
        return self.issue_leaf(hostnames, key_type="rsa", key_size=1024)

    def client_ssl_context(self, *, check_hostname: bool = True) -> ssl.SSLContext:
        """A client context that trusts this authority's root."""
        context = ssl.create_default_context(cadata=self.root.cert_pem)
        context.check_hostname = check_hostname
        return context


@contextlib.asynccontextmanager
async def serve_tls(context: ssl.SSLContext, host: str = "127.0.0.1") -> AsyncIterator[tuple[str, int]]:
    """A TLS listener on loopback port 0 that completes each handshake, then closes; yields (host, port).

    Handshake failures (a client that rejects the certificate) are the point of many tests
    and are ignored on the server side.
    """
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"test servers bind loopback only, not {host}")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, host, 0, ssl=context)
    port: int = server.sockets[0].getsockname()[1]
    try:
        yield host, port
    finally:
        server.close()
        await server.wait_closed()
