"""Reading X.509 certificates: every field an operator asks about, and who signed whom.

    describe(cert, now)       a CertInfo
    chain_entry(cert, now)    a ChainEntry
    parse_certificates(text)  certificates from PEM text or base64 DER (InputError otherwise)
    signed_by(cert, issuer)   whether `issuer` issued `cert` and its signature verifies
    key_description(cert)     (key type, bits)

Imported on first use only: it imports cryptography.x509.
"""

from __future__ import annotations

import base64
import binascii
import re
import warnings
from datetime import UTC, datetime
from typing import TypeGuard

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID
from monitor_common.errors import InputError

from ssl_monitor.models import CertInfo, ChainEntry

__all__ = [
    "chain_entry",
    "describe",
    "describe_signature",
    "fingerprint",
    "is_dsa_key",
    "iso",
    "key_description",
    "load_der_chain",
    "parse_certificates",
    "signed_by",
]

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_MAX_INPUT = 1_000_000


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def days_until(moment: datetime, now: datetime) -> float:
    return round((moment - now).total_seconds() / 86400, 2)


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def is_dsa_key(key: object) -> TypeGuard[dsa.DSAPublicKey]:
    """Whether `key` is a DSA public key, without cryptography's deprecation warning."""
    with warnings.catch_warnings():
        # cryptography 51 warns on every use of its DSA classes; a CA that still has a DSA key
        # must still be described and its CRL verified, not turned into a warning on stderr.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        return isinstance(key, dsa.DSAPublicKey)


def key_description(cert: x509.Certificate) -> tuple[str, int | None]:
    """The key's type (rsa, ec, ed25519, ed448, dsa, other) and size in bits."""
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "other", None
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ec", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "ed448", 456
    if is_dsa_key(key):
        return "dsa", key.key_size
    return "other", None


def describe_signature(cert: x509.Certificate) -> str:
    oid = cert.signature_algorithm_oid
    name = getattr(oid, "_name", None)
    return name if isinstance(name, str) and name != "Unknown OID" else oid.dotted_string


def _extension(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    except ValueError:  # a malformed extension elsewhere in the certificate
        return None


def _sans(cert: x509.Certificate) -> list[str]:
    value = _extension(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if not isinstance(value, x509.SubjectAlternativeName):
        return []
    names: list[str] = list(value.get_values_for_type(x509.DNSName))
    names.extend(str(ip) for ip in value.get_values_for_type(x509.IPAddress))
    return names


def _access_urls(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    value = _extension(cert, ExtensionOID.AUTHORITY_INFORMATION_ACCESS)
    ocsp: list[str] = []
    issuers: list[str] = []
    if isinstance(value, x509.AuthorityInformationAccess):
        for description in value:
            location = description.access_location
            if not isinstance(location, x509.UniformResourceIdentifier):
                continue
            if description.access_method == AuthorityInformationAccessOID.OCSP:
                ocsp.append(location.value)
            elif description.access_method == AuthorityInformationAccessOID.CA_ISSUERS:
                issuers.append(location.value)
    return ocsp, issuers


def _crl_urls(cert: x509.Certificate) -> list[str]:
    value = _extension(cert, ExtensionOID.CRL_DISTRIBUTION_POINTS)
    urls: list[str] = []
    if isinstance(value, x509.CRLDistributionPoints):
        for point in value:
            for name in point.full_name or ():
                if isinstance(name, x509.UniformResourceIdentifier):
                    urls.append(name.value)
    return urls


def _is_ca(cert: x509.Certificate) -> bool:
    value = _extension(cert, ExtensionOID.BASIC_CONSTRAINTS)
    return isinstance(value, x509.BasicConstraints) and value.ca


def _must_staple(cert: x509.Certificate) -> bool:
    value = _extension(cert, ExtensionOID.TLS_FEATURE)
    return isinstance(value, x509.TLSFeature) and x509.TLSFeatureType.status_request in value


def _sct_count(cert: x509.Certificate) -> int:
    value = _extension(cert, ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS)
    if isinstance(value, x509.PrecertificateSignedCertificateTimestamps):
        return len(value)
    return 0


def describe(cert: x509.Certificate, now: datetime) -> CertInfo:
    """Every field of `cert` that `CertInfo` holds, with days counted from `now`."""
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    key_type, key_bits = key_description(cert)
    ocsp, issuers = _access_urls(cert)
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=_sans(cert),
        not_before=iso(not_before),
        not_after=iso(not_after),
        days_left=days_until(not_after, now),
        lifetime_days=round((not_after - not_before).total_seconds() / 86400, 2),
        serial=format(cert.serial_number, "X"),
        key_type=key_type,
        key_bits=key_bits,
        signature_algorithm=describe_signature(cert),
        sha256_fingerprint=fingerprint(cert),
        is_ca=_is_ca(cert),
        self_issued=cert.subject == cert.issuer,
        ocsp_urls=ocsp,
        crl_urls=_crl_urls(cert),
        ca_issuer_urls=issuers,
        must_staple=_must_staple(cert),
        sct_count=_sct_count(cert),
    )


def chain_entry(cert: x509.Certificate, now: datetime) -> ChainEntry:
    return ChainEntry(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_after=iso(cert.not_valid_after_utc),
        days_left=days_until(cert.not_valid_after_utc, now),
        is_ca=_is_ca(cert),
        sha256_fingerprint=fingerprint(cert),
    )


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether `issuer`'s name is `cert`'s issuer and its key verifies `cert`'s signature."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def load_der_chain(chain: tuple[bytes, ...]) -> list[x509.Certificate]:
    """Certificates a server sent; one that does not parse ends the list there."""
    certs: list[x509.Certificate] = []
    with warnings.catch_warnings():
        # A negative serial is described (and judged) rather than warned about on stderr.
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        for der in chain:
            try:
                certs.append(x509.load_der_x509_certificate(der))
            except ValueError:
                break
    return certs


def parse_certificates(text: str) -> list[x509.Certificate]:
    """Certificates from PEM text (one or more blocks) or from one base64-encoded DER certificate.

    Raises InputError naming what is wrong: nothing that looks like a certificate, a PEM block
    of another kind (a private key is refused and not echoed), or bytes that do not parse.
    """
    if len(text) > _MAX_INPUT:
        raise InputError(f"the text is {len(text)} characters long; paste at most {_MAX_INPUT}")
    data = text.strip().encode("utf-8", "replace")
    if not data:
        raise InputError("no certificate given: paste PEM text starting with -----BEGIN CERTIFICATE-----")
    blocks = _PEM_BLOCK.findall(data)
    if not blocks:
        if b"-----BEGIN" in data:
            raise InputError("the PEM text is cut short: a -----BEGIN line has no matching -----END line")
        try:
            der = base64.b64decode(b"".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            raise InputError(
                "the text is neither PEM (-----BEGIN CERTIFICATE-----) nor base64-encoded DER"
            ) from None
        return [_load_der(der, 1)]
    certs: list[x509.Certificate] = []
    for index, (label, body) in enumerate(blocks, start=1):
        kind = label.decode("ascii")
        if kind not in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"):
            hint = " (never paste a private key anywhere)" if "PRIVATE KEY" in kind else ""
            raise InputError(f"PEM block {index} is a {kind}, not a CERTIFICATE{hint}")
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"PEM block {index} is not valid base64") from None
        certs.append(_load_der(der, index))
    return certs


def _load_der(der: bytes, index: int) -> x509.Certificate:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise InputError(f"certificate {index} does not parse as X.509: {exc}") from None
