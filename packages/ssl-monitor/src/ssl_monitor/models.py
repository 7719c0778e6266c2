"""Result models of ssl-monitor's tools. Light on imports: the server declares them at start-up."""

from __future__ import annotations

from monitor_common.results import CheckResult
from pydantic import Field

__all__ = ["CertCheckResult"]


class CertCheckResult(CheckResult):
    """What `cert_check` saw of the certificate a TLS server presents."""

    host: str = Field(description="Host name or address checked")
    port: int
    sni: str | None = Field(default=None, description="Server name sent in the TLS handshake")
    remote_ip: str | None = Field(default=None, description="Address connected to")
    tls_version: str | None = Field(default=None, description="Negotiated protocol, e.g. TLSv1.3")
    cipher: str | None = Field(default=None, description="Negotiated cipher suite")
    subject: str | None = Field(default=None, description="Leaf certificate subject (RFC 4514)")
    issuer: str | None = Field(default=None, description="Leaf certificate issuer (RFC 4514)")
    not_before: str | None = Field(default=None, description="Start of validity, ISO 8601 UTC")
    not_after: str | None = Field(default=None, description="End of validity, ISO 8601 UTC")
    days_left: float | None = Field(default=None, description="Days until not_after (negative once expired)")
