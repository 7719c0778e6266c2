"""Result models of ssl-monitor's tools. Light on imports: the server declares them at start-up.

CertInfo              one certificate, every field an operator asks about
ChainEntry            one certificate of a chain, briefly
CertCheckResult       cert_check
CertTarget            one target of cert_check_many written as an object (starttls, sni, connect_ip)
CertCheckRow          one target of cert_check_many
CertCheckManyResult   cert_check_many
DecodedCert           one certificate of cert_decode, with whether it signed the next
CertDecodeResult      cert_decode
ProtocolSupport       one TLS version of tls_scan
KeyExchangeGroup      one group of tls_scan
MozillaCompliance     tls_scan's Mozilla profile
TlsScanResult         tls_scan
EndpointCert          one address of cert_compare_endpoints
CompareEndpointsResult cert_compare_endpoints
RevocationSource      the CRL or OCSP answer of cert_revocation
RevocationResult      cert_revocation
"""

from __future__ import annotations

from typing import Literal

from monitor_common.results import CheckResult, Finding
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CertCheckManyResult",
    "CertCheckResult",
    "CertCheckRow",
    "CertDecodeResult",
    "CertInfo",
    "CertTarget",
    "ChainEntry",
    "CompareEndpointsResult",
    "DecodedCert",
    "EndpointCert",
    "KeyExchangeGroup",
    "MozillaCompliance",
    "ProtocolState",
    "ProtocolSupport",
    "RevocationMethod",
    "RevocationResult",
    "RevocationSource",
    "TlsScanResult",
]


class CertInfo(BaseModel):
    """One X.509 certificate, decoded."""

    subject: str = Field(description="Subject (RFC 4514)")
    issuer: str = Field(description="Issuer (RFC 4514)")
    sans: list[str] = Field(description="Subject alternative names: DNS names and IP addresses")
    not_before: str = Field(description="Start of validity, ISO 8601 UTC")
    not_after: str = Field(description="End of validity, ISO 8601 UTC")
    days_left: float = Field(description="Days until not_after (negative once expired)")
    lifetime_days: float = Field(description="not_after minus not_before, in days")
    serial: str = Field(description="Serial number, hexadecimal")
    key_type: str = Field(description="rsa, ec, ed25519, ed448, dsa or other")
    key_bits: int | None = Field(description="Key size in bits (curve size for EC)")
    signature_algorithm: str = Field(description="e.g. sha256WithRSAEncryption, ecdsa-with-SHA256")
    sha256_fingerprint: str = Field(description="SHA-256 of the DER encoding, colon-separated hex")
    is_ca: bool = Field(description="Basic constraints say this is a CA certificate")
    self_issued: bool = Field(description="Subject equals issuer")
    ocsp_urls: list[str] = Field(description="OCSP responders (authority information access)")
    crl_urls: list[str] = Field(description="CRL distribution points")
    ca_issuer_urls: list[str] = Field(description="Where the issuer's certificate can be fetched")
    must_staple: bool = Field(description="TLS feature extension asks for a stapled OCSP response")
    sct_count: int = Field(description="Signed certificate timestamps embedded in the certificate")


class ChainEntry(BaseModel):
    """One certificate of a chain, briefly."""

    subject: str
    issuer: str
    not_after: str = Field(description="End of validity, ISO 8601 UTC")
    days_left: float
    is_ca: bool
    sha256_fingerprint: str


class CertCheckResult(CheckResult):
    """What `cert_check` saw of the certificate a TLS server presents, and how it validates."""

    host: str = Field(description="Host name or address checked")
    port: int
    sni: str | None = Field(default=None, description="Server name sent in the TLS handshake")
    starttls: str | None = Field(default=None, description="Protocol upgraded to TLS, if any")
    remote_ip: str | None = Field(default=None, description="Address connected to")
    tls_version: str | None = Field(default=None, description="Negotiated protocol, e.g. TLSv1.3")
    cipher: str | None = Field(default=None, description="Negotiated cipher suite")
    alpn: str | None = Field(default=None, description="Negotiated application protocol (h2, http/1.1)")
    trusted: bool | None = Field(
        default=None, description="The chain leads to a trust anchor (system store or ca_bundle_pem)"
    )
    trust_error: str | None = Field(default=None, description="Why the chain is not trusted")
    hostname_match: bool | None = Field(default=None, description="The leaf is valid for the name checked")
    leaf: CertInfo | None = Field(default=None, description="The server's certificate")
    chain: list[ChainEntry] = Field(
        default_factory=lambda: list[ChainEntry](),
        description="The validated chain, leaf to trust anchor; the chain as served when it does not validate",
    )
    served_chain_length: int = Field(default=0, description="Certificates the server sent")
    days_left_chain_min: float | None = Field(
        default=None, description="Fewest days left over the validated chain (extra certificates ignored)"
    )
    ocsp_stapled: bool | None = Field(
        default=None,
        description="The server staples an OCSP response (TLS 1.2 probe; null when it could not be asked)",
    )
    # Kept at the top level for callers of the first version of this tool.
    subject: str | None = Field(default=None, description="Leaf subject (same as leaf.subject)")
    issuer: str | None = Field(default=None, description="Leaf issuer (same as leaf.issuer)")
    not_before: str | None = Field(default=None, description="Leaf start of validity, ISO 8601 UTC")
    not_after: str | None = Field(default=None, description="Leaf end of validity, ISO 8601 UTC")
    days_left: float | None = Field(default=None, description="Leaf days until not_after")


# One target of `cert_check_many` with what a plain `host[:port]` cannot say, validated by the
# same rule as `cert_check`'s arguments (`certs.check_target`). No docstring or descriptions: they
# would be published in the tool's listing, which must stay small, and the names are cert_check's.
class CertTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str
    port: int | None = Field(default=None, ge=1, le=65535)
    starttls: Literal["smtp", "imap", "pop3", "ftp", "xmpp", "postgres"] | None = None
    sni: str | None = None
    connect_ip: str | None = None


class CertCheckRow(BaseModel):
    """One target of `cert_check_many`."""

    target: str = Field(description="The target as given")
    verdict: str
    summary: str
    days_left: float | None = Field(default=None, description="Leaf days until not_after")
    not_after: str | None = None
    days_left_chain_min: float | None = None
    trusted: bool | None = None
    hostname_match: bool | None = None
    issuer: str | None = None
    remote_ip: str | None = None
    tls_version: str | None = None
    findings: list[Finding] = Field(
        default_factory=lambda: list[Finding](), description="The target's findings, worst first"
    )


class CertCheckManyResult(CheckResult):
    """`cert_check_many`: one row per target, soonest expiry first."""

    total: int
    counts: dict[str, int] = Field(description="Targets per verdict")
    rows: list[CertCheckRow]


class DecodedCert(CertInfo):
    """One certificate of pasted text, in the order given."""

    position: int = Field(description="0-based position in the text")
    signed_next: bool | None = Field(
        default=None, description="This certificate issued and signed the previous one (None for the first)"
    )


class CertDecodeResult(CheckResult):
    """`cert_decode`: what pasted PEM or base64 DER holds."""

    count: int
    certificates: list[DecodedCert]
    in_order: bool = Field(description="Each certificate is issued by the one after it")


ProtocolState = Literal["enabled", "disabled", "error"]


class ProtocolSupport(BaseModel):
    """What one protocol version looked like from here."""

    version: str = Field(description="SSLv3, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3")
    state: ProtocolState = Field(description="enabled, disabled, or error (the probe could not tell)")
    detail: str | None = Field(default=None, description="Why, for error; what was cut short")
    ciphers: list[str] = Field(
        default_factory=lambda: list[str](), description="Suites accepted (IANA names), in the order found"
    )
    forward_secrecy: bool | None = Field(default=None, description="Every accepted suite has forward secrecy")
    weak_ciphers: list[str] = Field(
        default_factory=lambda: list[str](),
        description="Accepted NULL, anonymous, EXPORT, DES, RC4 or 3DES suites",
    )


class KeyExchangeGroup(BaseModel):
    """One key-exchange group the server accepts (or its own DH parameters)."""

    name: str = Field(
        description="x25519, secp256r1, ffdhe2048, X25519MLKEM768, or dh-N (the server's DH parameters)"
    )
    kind: Literal["ec", "ffdhe", "dh", "hybrid"]
    bits: int
    protocols: list[str] = Field(description="Versions it was seen with")


class MozillaCompliance(BaseModel):
    """Mozilla's server-side TLS profiles (ssl-config.mozilla.org, guidelines 5.7)."""

    profile: Literal["modern", "intermediate", "old"] | None = Field(
        description="The strictest profile the server meets; null when it meets none"
    )
    next_profile: Literal["modern", "intermediate", "old"] | None = Field(
        description="The next stricter profile (null when it meets modern)"
    )
    misses: list[str] = Field(description="The first reasons it misses next_profile")
    guidelines: str = "5.7"


class TlsScanResult(CheckResult):
    """`tls_scan`: protocol versions, cipher suites, groups, signatures and ALPN a server accepts."""

    host: str
    port: int
    sni: str | None = None
    starttls: str | None = None
    remote_ip: str | None = None
    protocols: list[ProtocolSupport] = Field(default_factory=lambda: list[ProtocolSupport]())
    forward_secrecy: bool | None = Field(default=None, description="Every accepted suite has forward secrecy")
    weak_ciphers: list[str] = Field(default_factory=lambda: list[str]())
    groups: list[KeyExchangeGroup] = Field(default_factory=lambda: list[KeyExchangeGroup]())
    signature_algorithms: list[str] = Field(
        default_factory=lambda: list[str](),
        description="Schemes the server signs its TLS 1.2 key exchange with",
    )
    mozilla: MozillaCompliance | None = None
    alpn: list[str] = Field(default_factory=lambda: list[str](), description="Accepted of h2 and http/1.1")


class EndpointCert(BaseModel):
    """The certificate one address serves."""

    ip: str
    ok: bool = Field(description="A handshake completed")
    error: str | None = None
    sha256_fingerprint: str | None = None
    subject: str | None = None
    not_after: str | None = None
    days_left: float | None = None
    tls_version: str | None = None


class CompareEndpointsResult(CheckResult):
    """`cert_compare_endpoints`: the certificate on every address of a name."""

    host: str
    port: int
    endpoints: list[EndpointCert]
    consistent: bool = Field(description="Every reachable address serves the same certificate")
    distinct_certificates: int


RevocationStatus = Literal["good", "revoked", "unknown"]
RevocationMethod = Literal["crl", "ocsp", "ocsp_stapled"]


class RevocationSource(BaseModel):
    """What one revocation source (CRL or OCSP) said."""

    method: RevocationMethod
    url: str | None = None
    status: RevocationStatus
    reason: str | None = Field(default=None, description="Why unknown, or the revocation reason")
    revoked_at: str | None = None
    this_update: str | None = None
    next_update: str | None = None
    signature_valid: bool | None = None


class RevocationResult(CheckResult):
    """`cert_revocation`: is the server's certificate revoked, by CRL and OCSP."""

    host: str
    port: int
    serial: str | None = None
    status: RevocationStatus = Field(description="revoked if any source says so; good if one says good")
    revoked_at: str | None = None
    revocation_reason: str | None = None
    sources: list[RevocationSource] = Field(default_factory=lambda: list[RevocationSource]())
