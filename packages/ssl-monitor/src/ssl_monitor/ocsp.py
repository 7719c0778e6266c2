"""OCSP responses, verified: who signed them, about which certificate, and whether they are current.

    judge_ocsp(der, leaf, issuer, method=..., url=...)   a RevocationSource: good, revoked or unknown

The response must be signed by the issuer or by a responder certificate the issuer delegated
(issued by it, with id-kp-OCSPSigning, currently valid), be about this serial and issuer, and be
current (thisUpdate not in the future, nextUpdate not past, 5 minutes of clock skew allowed).
Used for responses fetched from the responder and for the one a server staples alike.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ssl_monitor.models import RevocationMethod, RevocationSource

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.x509 import ocsp

__all__ = ["CLOCK_SKEW", "find_issuer", "judge_ocsp"]

CLOCK_SKEW = timedelta(minutes=5)


class _NotProven(Exception):
    """The response proves nothing; the message says why."""


def _iso(moment: datetime | None) -> str | None:
    from ssl_monitor.x509info import iso

    return iso(moment) if moment is not None else None


def _responder_key(response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime) -> x509.Certificate:
    """The certificate whose key signed `response`: the issuer, or a responder it delegated."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from ssl_monitor.x509info import signed_by

    def is_key_of(cert: x509.Certificate) -> bool:
        if response.responder_name is not None:
            return response.responder_name == cert.subject
        # byKey is the SHA-1 of the key's bits, which is how a subject key identifier is made.
        key_id = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
        return response.responder_key_hash == key_id

    if is_key_of(issuer):
        return issuer
    for cert in response.certificates:
        if not is_key_of(cert):
            continue
        if not signed_by(cert, issuer):
            raise _NotProven("the OCSP responder's certificate is not issued by the certificate's issuer")
        try:
            usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            usage = None
        if usage is None or ExtendedKeyUsageOID.OCSP_SIGNING not in usage:
            raise _NotProven("the OCSP responder's certificate lacks the OCSP signing usage")
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise _NotProven("the OCSP responder's certificate is outside its validity")
        return cert
    raise _NotProven("the OCSP response is signed by neither the issuer nor a responder it delegated")


def _signature_verifies(response: ocsp.OCSPResponse, signer: x509.Certificate) -> bool:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

    key = signer.public_key()
    algorithm = response.signature_hash_algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(response.signature, response.tbs_response_bytes)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True


def judge_ocsp(
    data: bytes,
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    *,
    method: RevocationMethod,
    url: str | None,
) -> RevocationSource:
    """What an OCSP response (DER) proves about `leaf`; `status` unknown with the reason if nothing."""
    from cryptography.x509 import ocsp

    source = RevocationSource(method=method, url=url, status="unknown")
    try:
        response = ocsp.load_der_ocsp_response(data)
    except ValueError as exc:
        source.reason = f"the OCSP response does not parse: {exc}"
        return source
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        source.reason = f"the responder answered {response.response_status.name.lower()}"
        return source
    now = datetime.now(UTC)
    try:
        signer = _responder_key(response, issuer, now)
    except _NotProven as exc:
        source.reason = str(exc)
        return source
    source.signature_valid = _signature_verifies(response, signer)
    if not source.signature_valid:
        source.reason = "the OCSP response's signature does not verify"
        return source
    if response.serial_number != leaf.serial_number:
        source.reason = "the OCSP response is about another certificate (serial differs)"
        return source
    expected = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, response.hash_algorithm).build()
    if (expected.issuer_key_hash, expected.issuer_name_hash) != (
        response.issuer_key_hash,
        response.issuer_name_hash,
    ):
        source.reason = "the OCSP response is about a certificate of another issuer"
        return source
    source.this_update = _iso(response.this_update_utc)
    source.next_update = _iso(response.next_update_utc)
    if response.this_update_utc > now + CLOCK_SKEW:
        source.reason = f"the OCSP response is dated in the future ({source.this_update})"
        return source
    if response.next_update_utc is not None and response.next_update_utc + CLOCK_SKEW < now:
        source.reason = f"the OCSP response is stale: its next update was due {source.next_update}"
        return source
    status = response.certificate_status
    if status == ocsp.OCSPCertStatus.GOOD:
        source.status = "good"
    elif status == ocsp.OCSPCertStatus.REVOKED:
        source.status = "revoked"
        source.revoked_at = _iso(response.revocation_time_utc)
        source.reason = response.revocation_reason.value if response.revocation_reason else "unspecified"
    else:
        source.reason = "the responder does not know this certificate"
    return source


def find_issuer(served: list[x509.Certificate], anchors: list[x509.Certificate]) -> x509.Certificate | None:
    """The certificate that signed `served[0]`: one the server sent after it, else a trust anchor."""
    from ssl_monitor.x509info import signed_by

    leaf = served[0]
    return next((cert for cert in [*served[1:], *anchors] if signed_by(leaf, cert)), None)
