"""Chain validation in-process, with cryptography's X.509 path validation (the web PKI profile).

    TrustAnchors.system() / .from_pem(text)   the system trust store, or a caller's CA bundle
    validate(served, name, anchors, now)      trust, its error, host name match, the validated path,
                                              and what is wrong with the order of what was served
    hostname_matches(cert, name)              RFC 6125 matching against the subjectAltName

Trust and host name are judged apart: when the name does not match, the chain is validated for
a name the certificate does hold, so "valid certificate for another host" and "untrusted
certificate" stay distinguishable. When the chain does not validate now (an expired leaf),
it is validated once more at a moment inside the leaf's validity, only to describe the chain
the server meant to present.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import ssl
import warnings
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID
from monitor_common.errors import InputError

from ssl_monitor.x509info import iso, parse_certificates, signed_by

__all__ = ["TrustAnchors", "Validation", "hostname_matches", "no_san_reason", "validate"]


@dataclass(frozen=True)
class TrustAnchors:
    """Root certificates to validate against, and the cryptography store made of them."""

    certs: tuple[x509.Certificate, ...]
    store: verification.Store | None
    source: str

    @staticmethod
    @cache
    def system() -> TrustAnchors:
        """The operating system's trust store (OpenSSL's default CA file and directory)."""
        paths = ssl.get_default_verify_paths()
        certs: list[x509.Certificate] = []
        files: list[Path] = []
        if paths.cafile:
            files.append(Path(paths.cafile))
        if paths.capath and Path(paths.capath).is_dir():
            files.extend(sorted(p for p in Path(paths.capath).iterdir() if p.suffix in (".pem", ".crt")))
        seen: set[bytes] = set()
        with warnings.catch_warnings():
            # Some distributions' roots have negative serials, which cryptography warns about.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            certs = _load_files(files, seen)
        return TrustAnchors(
            tuple(certs), verification.Store(certs) if certs else None, "the system trust store"
        )

    @staticmethod
    def from_pem(text: str) -> TrustAnchors:
        """The certificates of a caller's CA bundle (InputError when it holds none)."""
        return _bundle(text)


def _load_files(files: list[Path], seen: set[bytes]) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for path in files:
        try:
            text = path.read_text("ascii", "replace")
        except OSError:
            continue
        for cert in _pem_certificates(text):
            key = cert.fingerprint(hashes.SHA256())
            if key not in seen:
                seen.add(key)
                certs.append(cert)
    return certs


@lru_cache(maxsize=16)
def _bundle(text: str) -> TrustAnchors:
    try:
        certs = parse_certificates(text)
    except InputError as exc:
        raise InputError(f"ca_bundle_pem: {exc}") from None
    return TrustAnchors(tuple(certs), verification.Store(certs), "the given CA bundle")


def _pem_certificates(text: str) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for block in re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.DOTALL):
        try:
            certs.append(x509.load_pem_x509_certificate(block.encode("ascii")))
        except ValueError:
            continue  # one malformed root must not disable the whole store
    return certs


def hostname_matches(cert: x509.Certificate, name: str) -> bool:
    """Whether `cert` is valid for `name` (a host name or an IP address) by its subjectAltName.

    A wildcard stands for exactly one whole left-most label; the subject's CN is not consulted,
    as no current browser does.
    """
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    try:
        ip = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return ip in sans.get_values_for_type(x509.IPAddress)
    wanted = name.lower().rstrip(".")
    for pattern in sans.get_values_for_type(x509.DNSName):
        pattern = pattern.lower().rstrip(".")
        if pattern == wanted:
            return True
        if pattern.startswith("*.") and "." in wanted:
            head, _, rest = wanted.partition(".")
            if head and rest == pattern[2:] and rest.count(".") >= 1:
                return True
    return False


def _subject_for(name: str) -> verification.Subject | None:
    try:
        return x509.IPAddress(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        pass
    try:
        return x509.DNSName(name.lower().rstrip("."))
    except ValueError:
        return None


def _a_name_it_holds(cert: x509.Certificate) -> verification.Subject | None:
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return None
    for ip in sans.get_values_for_type(x509.IPAddress):
        return x509.IPAddress(ip)
    for dns in sans.get_values_for_type(x509.DNSName):
        subject = _subject_for("x" + dns[1:] if dns.startswith("*.") else dns)
        if subject is not None:
            return subject
    return None


@dataclass
class Validation:
    trusted: bool
    trust_error: str | None
    hostname_match: bool
    path: list[x509.Certificate] | None
    """The validated chain, leaf to anchor; None when no chain validates, even inside the leaf's validity."""
    misordered: bool = False
    missing_issuer: str | None = None
    """Issuer of the top certificate that could be chained, when neither served nor an anchor."""
    notes: list[str] = field(default_factory=lambda: list[str]())


def _verify(
    anchors: TrustAnchors, subject: verification.Subject, at: dt.datetime, served: list[x509.Certificate]
) -> list[x509.Certificate]:
    if anchors.store is None:
        raise verification.VerificationError("the trust store is empty")
    builder = verification.PolicyBuilder().store(anchors.store).time(at)
    builder = builder.extension_policies(ca_policy=_ca_policy(), ee_policy=_ee_policy())
    return builder.build_server_verifier(subject).verify(served[0], served[1:])


@cache
def _ee_policy() -> verification.ExtensionPolicy:
    # The web PKI profile forbids a critical subjectAltName beside a non-empty subject; browsers
    # and OpenSSL accept it, and private CAs (trustme among them) issue it, so it is not a reason
    # to call a chain untrusted. The SAN must still be present.
    # The same holds for a critical extended key usage, which must still allow TLS servers.
    return (
        verification.ExtensionPolicy.webpki_defaults_ee()
        .require_present(x509.SubjectAlternativeName, verification.Criticality.AGNOSTIC, None)
        .may_be_present(x509.ExtendedKeyUsage, verification.Criticality.AGNOSTIC, _allows_tls_servers)
    )


@cache
def _ca_policy() -> verification.ExtensionPolicy:
    # A private CA made with a plain `openssl req -x509` has no key usage extension; the web PKI
    # profile requires one, OpenSSL and browsers do not (tests/ssl_monitor/test_ca_cases.py runs
    # `openssl verify` on the same chains). When present it must still allow signing certificates.
    return verification.ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.KeyUsage, verification.Criticality.AGNOSTIC, _signs_certificates
    )


def _signs_certificates(
    policy: verification.Policy, cert: x509.Certificate, usage: x509.KeyUsage | None
) -> None:
    if usage is not None and not usage.key_cert_sign:
        raise ValueError("the CA certificate's key usage does not include certificate signing")


def _allows_tls_servers(
    policy: verification.Policy, cert: x509.Certificate, usage: x509.ExtendedKeyUsage | None
) -> None:
    if usage is None:
        return
    if (
        ExtendedKeyUsageOID.SERVER_AUTH not in usage
        and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usage
    ):
        raise ValueError("the certificate's extended key usage does not include TLS server authentication")


def _partial_chain(served: list[x509.Certificate]) -> list[x509.Certificate]:
    """From the leaf, follow issuers among the served certificates as far as they go."""
    chain = [served[0]]
    while len(chain) <= len(served):
        current = chain[-1]
        if current.subject == current.issuer:
            break
        parent = next((c for c in served if c not in chain and _issued(current, c)), None)
        if parent is None:
            break
        chain.append(parent)
    return chain


def _issued(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """`issuer` issued `cert`: names match, and the signature verifies where it can be checked
    (cryptography refuses to check SHA-1 signatures, which must still count for the structure)."""
    if cert.issuer != issuer.subject:
        return False
    return signed_by(cert, issuer) or _signature_unsupported(cert)


def _signature_unsupported(cert: x509.Certificate) -> bool:
    try:
        return cert.signature_hash_algorithm is None or cert.signature_hash_algorithm.name in ("sha1", "md5")
    except UnsupportedAlgorithm:
        return True


def _misordered(served: list[x509.Certificate]) -> bool:
    for index, cert in enumerate(served[:-1]):
        if _issued(cert, served[index + 1]) or cert.subject == cert.issuer:
            continue
        if any(_issued(cert, other) for other in served[index + 2 :]):
            return True
    return False


def _untrusted_root(served: list[x509.Certificate], anchors: TrustAnchors) -> x509.Certificate | None:
    """The self-signed root the served chain ends in, when it is not a trust anchor."""
    top = _partial_chain(served)[-1]
    if top is served[0] or top.subject != top.issuer or top in anchors.certs:
        return None
    return top


def _reason(
    exc: verification.VerificationError,
    served: list[x509.Certificate],
    anchors: TrustAnchors,
    now: dt.datetime,
) -> str:
    text = str(exc).removeprefix("validation failed: ")
    text = re.sub(r"\s*\(encountered processing <Certificate.*$", "", text, flags=re.DOTALL)
    leaf = served[0]
    if "not valid at validation time" in text:
        if leaf.not_valid_after_utc < now:
            return f"the certificate expired on {iso(leaf.not_valid_after_utc)}"
        if leaf.not_valid_before_utc > now:
            return f"the certificate is not valid before {iso(leaf.not_valid_before_utc)}"
        return "a certificate of the chain is outside its validity period"
    if "Forbidden signature algorithm" in text:
        return "a certificate of the chain is signed with a forbidden algorithm (SHA-1 or MD5)"
    if "Forbidden public key" in text:
        return "a certificate of the chain has a forbidden (too weak) public key"
    root = _untrusted_root(served, anchors)
    if root is not None:
        # A served root that is not an anchor is tried as its own issuer, which cryptography
        # reports as "path length constraint violated" or "exceeds max depth"; OpenSSL says
        # "self-signed certificate in certificate chain", which is what is wrong.
        return (
            f"the chain ends in a self-signed root ({root.subject.rfc4514_string()}) that is not a trust "
            "anchor (OpenSSL: self-signed certificate in certificate chain)"
        )
    if "candidates exhausted" in text and "no interior errors" in text:
        top = _partial_chain(served)[-1]
        if top.subject == top.issuer:
            what = "the certificate is self-signed" if top is leaf else "the chain ends in a root"
            return f"{what} ({top.subject.rfc4514_string()}) that is not a trust anchor"
        return (
            f"no path to a trust anchor: the issuer {top.issuer.rfc4514_string()!r} is neither sent by the "
            "server nor in the trust store"
        )
    return text.removeprefix("candidates exhausted: ")


def no_san_reason(leaf: x509.Certificate) -> str:
    """What to say of a certificate without a subjectAltName: its CN, if any, counts for nothing."""
    from cryptography.x509.oid import NameOID

    names = [str(a.value) for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if not names:
        return "the certificate names no host: it has neither a subjectAltName nor a CN"
    return (
        f"the certificate has no subjectAltName; its CN {names[0]!r} is present but browsers ignore "
        "it since 2017 (Chrome 58), and other clients are dropping it"
    )


def validate(
    served: list[x509.Certificate], name: str, anchors: TrustAnchors, now: dt.datetime
) -> Validation:
    """Validate the chain `served` (leaf first) for `name` against `anchors` at `now`."""
    leaf = served[0]
    matches = hostname_matches(leaf, name)
    subject = _subject_for(name) if matches else _a_name_it_holds(leaf)
    result = Validation(trusted=False, trust_error=None, hostname_match=matches, path=None)
    result.misordered = _misordered(served)
    if subject is None:
        result.trust_error = no_san_reason(leaf)
        return result
    try:
        result.path = _verify(anchors, subject, now, served)
        result.trusted = True
    except verification.VerificationError as exc:
        result.trust_error = _reason(exc, served, anchors, now)
        inside = min(now, leaf.not_valid_after_utc - dt.timedelta(seconds=1))
        inside = max(inside, leaf.not_valid_before_utc + dt.timedelta(seconds=1))
        if inside != now:
            try:
                result.path = _verify(anchors, subject, inside, served)
            except verification.VerificationError:
                result.path = None
    if result.path is None:
        top = _partial_chain(served)[-1]
        if top.subject != top.issuer and not any(_issued(top, a) for a in anchors.certs):
            result.missing_issuer = top.issuer.rfc4514_string()
    return result
