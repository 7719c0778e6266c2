"""What the versions, suites and groups a server accepts are worth: findings with a reason and a fix.

    grade(protocols, groups)   the findings of one scan, in the order of the checks below

| code | severity | when |
|---|---|---|
| modern_tls_missing | critical | neither TLS 1.2 nor TLS 1.3 (RFC 8996: current clients cannot connect) |
| ssl3_enabled | critical | SSLv3 (POODLE, RFC 7568) |
| tls10_enabled, tls11_enabled | warning | TLS 1.0 / 1.1 beside TLS 1.2+ |
| tls13_missing | warning | TLS 1.2 without TLS 1.3 |
| null_cipher | critical | a suite without encryption |
| anonymous_cipher | critical | a suite without server authentication (aNULL) |
| weak_cipher | critical | EXPORT, DES, RC4 or 3DES (RFC 7465, SWEET32) |
| no_forward_secrecy | warning | no accepted suite has an ephemeral key exchange |
| cbc_only | warning | TLS 1.2 with CBC (or stream) suites only, no AEAD |
| weak_dh | warning | DH parameters under 2048 bits |
| unusual_curve | warning | a curve outside x25519, x448, secp256r1, secp384r1, secp521r1 |
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from monitor_common.results import Finding, Verdict

from ssl_monitor.models import KeyExchangeGroup, ProtocolSupport
from ssl_monitor.suites import SUITES, Suite

__all__ = ["SAFE_CURVES", "grade"]

SAFE_CURVES: Final = frozenset({"x25519", "x448", "secp256r1", "secp384r1", "secp521r1"})
_NAMES: Final = {suite.name: suite for suite in SUITES.values()}


def _finding(severity: Verdict, code: str, message: str, hint: str) -> Finding:
    return Finding(severity=severity, code=code, message=message, hint=hint)


def grade(protocols: list[ProtocolSupport], groups: list[KeyExchangeGroup]) -> list[Finding]:
    """The findings the accepted versions, suites and groups earn, each with its reason and fix."""
    found: list[Finding] = []
    enabled = {p.version: p for p in protocols if p.state == "enabled"}
    suites = {s.code: s for p in enabled.values() for s in (_by_name(n) for n in p.ciphers) if s is not None}
    families: dict[str, list[str]] = {}
    for suite in suites.values():
        if suite.family is not None:
            families.setdefault(suite.family, []).append(suite.name)
    modern = "TLSv1.2" in enabled or "TLSv1.3" in enabled
    if enabled and not modern:
        found.append(_finding(Verdict.CRITICAL, "modern_tls_missing",
            f"the server accepts neither TLS 1.2 nor TLS 1.3 (only {', '.join(enabled)})",
            "enable TLS 1.2 and 1.3: RFC 8996 deprecates the older versions and current clients refuse them"))  # fmt: skip
    if "SSLv3" in enabled:
        found.append(_finding(Verdict.CRITICAL, "ssl3_enabled", "the server accepts SSLv3 (POODLE, RFC 7568)",
            "disable SSLv3"))  # fmt: skip
    if modern:
        for label, code, name in (
            ("TLSv1", "tls10_enabled", "TLS 1.0"),
            ("TLSv1.1", "tls11_enabled", "TLS 1.1"),
        ):
            if label in enabled:
                found.append(_finding(Verdict.WARNING, code,
                    f"the server accepts {name} beside TLS 1.2+ (deprecated by RFC 8996)",
                    f"disable {name}; every current client speaks TLS 1.2"))  # fmt: skip
    if "TLSv1.2" in enabled and "TLSv1.3" not in enabled:
        found.append(_finding(Verdict.WARNING, "tls13_missing", "the server does not accept TLS 1.3",
            "enable TLS 1.3 (faster handshakes, only strong suites)"))  # fmt: skip
    if names := families.get("NULL"):
        found.append(_finding(Verdict.CRITICAL, "null_cipher",
            f"the server accepts suites without encryption: {_short(names)}",
            "remove the NULL suites (eNULL) from the server's cipher list"))  # fmt: skip
    if names := families.get("anon"):
        found.append(_finding(Verdict.CRITICAL, "anonymous_cipher",
            f"the server accepts suites without authentication (anyone can impersonate it): {_short(names)}",
            "remove the anonymous suites (aNULL) from the server's cipher list"))  # fmt: skip
    weak = [name for family in ("EXPORT", "DES", "RC4", "3DES") for name in families.get(family, [])]
    if weak:
        kinds = [family for family in ("EXPORT", "DES", "RC4", "3DES") if family in families]
        found.append(_finding(Verdict.CRITICAL, "weak_cipher",
            f"the server accepts {'/'.join(kinds)} suites (RFC 7465 forbids RC4; 3DES and DES fall to SWEET32): {_short(weak)}",
            "remove EXPORT, DES, RC4 and 3DES suites (e.g. add !EXPORT:!DES:!RC4:!3DES to the cipher list)"))  # fmt: skip
    if suites and not any(s.pfs for s in suites.values()):
        found.append(_finding(Verdict.WARNING, "no_forward_secrecy",
            "no accepted suite has forward secrecy (only static RSA or DH key exchange)",
            "offer ECDHE (and TLS 1.3) suites so that a stolen key cannot decrypt past traffic"))  # fmt: skip
    tls12 = enabled.get("TLSv1.2")
    if tls12 is not None and tls12.ciphers:
        tls12_suites = [s for s in (_by_name(n) for n in tls12.ciphers) if s is not None]
        if tls12_suites and all(s.cbc or not s.aead for s in tls12_suites):
            found.append(_finding(Verdict.WARNING, "cbc_only",
                "TLS 1.2 offers only CBC (or stream) suites, no AEAD (GCM, ChaCha20)",
                "add ECDHE suites with AES-GCM or ChaCha20-Poly1305"))  # fmt: skip
    if small := sorted({g.bits for g in groups if g.kind in ("dh", "ffdhe") and g.bits < 2048}):
        found.append(_finding(Verdict.WARNING, "weak_dh",
            f"the server uses DH parameters of {', '.join(map(str, small))} bits (Logjam)",
            "use DH parameters of at least 2048 bits (ffdhe2048 of RFC 7919), or drop DHE suites"))  # fmt: skip
    if odd := [g.name for g in groups if g.kind == "ec" and g.name not in SAFE_CURVES]:
        found.append(_finding(Verdict.WARNING, "unusual_curve",
            f"the server accepts curves outside the usual safe set: {_short(odd)}",
            "limit the curves to x25519, x448, secp256r1, secp384r1 and secp521r1 (e.g. ssl_ecdh_curve)"))  # fmt: skip
    return found


def _by_name(name: str) -> Suite | None:
    return _NAMES.get(name)


def _short(names: Sequence[str], limit: int = 3) -> str:
    unique = list(dict.fromkeys(names))
    shown = ", ".join(unique[:limit])
    return shown + (f" (+{len(unique) - limit} more)" if len(unique) > limit else "")
