"""Decoding pasted certificates: no network, no file access.

    cert_decode(text)   CertDecodeResult: every field of each certificate, the order, who signed whom

Findings flag what would break clients if this chain were served: an expired or not yet valid
certificate, a weak key or signature, a leaf lifetime over 398 days, and a chain out of order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from monitor_common.results import Finding, Stopwatch, Verdict

from ssl_monitor.models import CertDecodeResult, DecodedCert

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["cert_decode"]

MAX_LIFETIME_DAYS = 398


def _ends_in_private_root(certs: list[x509.Certificate]) -> bool:
    """The pasted chain ends in a self-signed root that is not in the system (public) store. A
    chain pasted without its root cannot be told apart from a public one, and is not."""
    from ssl_monitor.validate import TrustAnchors

    top = certs[-1]
    return len(certs) > 1 and top.subject == top.issuer and top not in TrustAnchors.system().certs


def cert_decode(text: str) -> CertDecodeResult:
    """Decode PEM text (one or more certificates) or one base64 DER certificate.

    Raises InputError when the text holds no certificate or something else (a key, garbage).
    """
    from ssl_monitor.x509info import describe, parse_certificates, signed_by

    started = Stopwatch()
    certs = parse_certificates(text)
    now = datetime.now(UTC)
    decoded: list[DecodedCert] = []
    for position, cert in enumerate(certs):
        info = describe(cert, now)
        signed_next = signed_by(certs[position - 1], cert) if position > 0 else None
        decoded.append(DecodedCert(position=position, signed_next=signed_next, **info.model_dump()))
    in_order = all(entry.signed_next for entry in decoded[1:])

    findings: list[Finding] = []
    for entry, cert in zip(decoded, certs, strict=True):
        who = f"certificate {entry.position} ({entry.subject})"
        if entry.days_left < 0:
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code="cert_expired",
                    message=f"{who} expired on {entry.not_after}",
                )
            )
        elif cert.not_valid_before_utc > now:
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code="cert_not_yet_valid",
                    message=f"{who} is valid only from {entry.not_before}",
                )
            )
        bits = entry.key_bits or 0
        if (entry.key_type == "rsa" and bits < 2048) or (entry.key_type == "ec" and bits < 256):
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code="weak_key",
                    message=f"{who} has a {entry.key_type.upper()} {bits}-bit key",
                    hint="use RSA 2048+ or EC P-256+",
                )
            )
        algorithm = entry.signature_algorithm.lower()
        if not entry.self_issued and any(weak in algorithm for weak in ("sha1", "md5", "md2")):
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code="weak_signature",
                    message=f"{who} is signed with {entry.signature_algorithm}",
                    hint="reissue it with a SHA-256 signature",
                )
            )
    leaf = decoded[0]
    if not leaf.is_ca and leaf.lifetime_days > MAX_LIFETIME_DAYS:
        if _ends_in_private_root(certs):
            # The 398-day rule binds publicly trusted CAs; under a private root it is only a notice.
            findings.append(
                Finding(
                    severity=Verdict.OK,
                    code="lifetime_too_long",
                    message=f"the leaf's lifetime is {leaf.lifetime_days:.0f} days; the {MAX_LIFETIME_DAYS}-day "
                    "limit binds publicly trusted certificates only, and this chain ends in a private root",
                )
            )
        else:
            findings.append(
                Finding(
                    severity=Verdict.WARNING,
                    code="lifetime_too_long",
                    message=f"the leaf's lifetime is {leaf.lifetime_days:.0f} days (browsers accept at most {MAX_LIFETIME_DAYS})",
                )
            )
    if len(decoded) > 1 and not in_order:
        broken = [entry.position for entry in decoded[1:] if not entry.signed_next]
        findings.append(
            Finding(
                severity=Verdict.WARNING,
                code="chain_misordered",
                message=f"certificate(s) {', '.join(map(str, broken))} did not sign the one before them",
                hint="order a chain leaf first, then each certificate's issuer",
            )
        )
    verdict = Verdict.worst([f.severity for f in findings])
    what = f"{len(decoded)} certificate{'s' if len(decoded) != 1 else ''}, first {leaf.subject}"
    worst = max(findings, key=lambda f: f.severity.rank, default=None)
    state = (
        worst.message
        if worst is not None and worst.severity != Verdict.OK
        else f"expires in {leaf.days_left:.1f} days ({leaf.not_after})"
    )
    return CertDecodeResult.build(
        summary=f"{verdict.value}: {what}: {state}",
        findings=findings,
        started=started,
        count=len(decoded),
        certificates=decoded,
        in_order=in_order,
    )
