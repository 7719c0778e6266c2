"""TLS client contexts (built once, reused) and what an established TLS session tells about the server.

Building an `ssl.SSLContext` that trusts the system store reads every CA certificate, which costs
milliseconds; contexts are therefore cached per trust setting and shared by every check.
"""

from __future__ import annotations

import hashlib
import ssl
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from monitor_common.errors import InputError
from monitor_common.findings import cert_expiry_findings

from http_monitor.models import TlsInfo

if TYPE_CHECKING:
    from monitor_common.context import CheckContext
    from monitor_common.results import Finding

__all__ = ["cert_findings", "check_trust", "client_context", "tls_info"]


def client_context(verify_tls: bool, ca_bundle_pem: str | None, *, alpn: bool = True) -> ssl.SSLContext:
    """The client context for these trust settings: system CAs, the given PEM CAs, or no checks.

    `alpn=False` gives a context separate from the HTTP checks' (for `tcp_check`).

    Raises InputError when `ca_bundle_pem` holds no usable certificate.
    """
    return _context(verify_tls, ca_bundle_pem.strip() if ca_bundle_pem else None, alpn)


def check_trust(verify_tls: bool, ca_bundle_pem: str | None) -> None:
    """Raise InputError now when `ca_bundle_pem` holds no usable certificate: the caller's error,
    found before anything is sent. The system store's context is not built here: a check of an
    http:// URL needs none (the session builds it on the first https request)."""
    if verify_tls and ca_bundle_pem and ca_bundle_pem.strip():
        client_context(verify_tls, ca_bundle_pem)


@lru_cache(maxsize=32)
def _context(verify_tls: bool, ca_bundle_pem: str | None, alpn: bool) -> ssl.SSLContext:
    if not verify_tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif ca_bundle_pem is None:
        import httpcore2

        # The same trust store httpx2 uses by default (compiled-in paths, SSL_CERT_FILE/DIR honoured).
        context = httpcore2.default_ssl_context()
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            context.load_verify_locations(cadata=ca_bundle_pem)
        except (ssl.SSLError, ValueError, TypeError) as exc:  # TypeError: text that is not ASCII
            raise InputError(
                f"ca_bundle_pem holds no usable PEM certificate ({exc}): pass CA certificates in PEM, "
                "starting with -----BEGIN CERTIFICATE-----"
            ) from None
    # `alpn` only keys the cache: httpcore2 sets h2/http1.1 ALPN on the contexts it uses, and a
    # raw TCP check must not offer protocols it will not speak.
    del alpn
    return context


def tls_info(ssl_object: ssl.SSLObject | None) -> TlsInfo | None:
    """Version, cipher, ALPN and the leaf certificate's expiry and fingerprint of a session."""
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    der = ssl_object.getpeercert(binary_form=True)
    not_after: datetime | None = None
    decoded = ssl_object.getpeercert()
    if decoded and isinstance(decoded.get("notAfter"), str):
        not_after = datetime.fromtimestamp(ssl.cert_time_to_seconds(str(decoded["notAfter"])), UTC)
    elif der:
        # Verification was off, so the ssl module decoded nothing: parse the certificate itself.
        from cryptography import x509

        not_after = x509.load_der_x509_certificate(der).not_valid_after_utc
    days_left = None
    if not_after is not None:
        days_left = round((not_after.timestamp() - time.time()) / 86400, 2)
    return TlsInfo(
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        alpn=ssl_object.selected_alpn_protocol(),
        not_after=not_after.isoformat().replace("+00:00", "Z") if not_after else None,
        days_left=days_left,
        cert_sha256=hashlib.sha256(der).hexdigest() if der else None,
    )


def cert_findings(info: TlsInfo | None, host: str, ctx: CheckContext) -> list[Finding]:
    """`cert_expired` / `cert_expiring_soon` for a session's certificate, with the operator's
    thresholds (`ctx.cert_warn_days`, `ctx.cert_critical_days`): the shared expiry rule."""
    if info is None:
        return []
    return cert_expiry_findings(
        info.days_left,
        info.not_after,
        warn_days=ctx.cert_warn_days,
        critical_days=ctx.cert_critical_days,
        subject=f"the certificate of {host}",
    )
