"""Mozilla's server-side TLS profiles (modern, intermediate, old) and which one a scanned server meets.

    PROFILES                 the three profiles of guidelines 5.7 (https://ssl-config.mozilla.org/guidelines/5.7.json)
    ServerProfile            what a scan saw that the profiles constrain
    compliance(server)       MozillaCompliance: the strictest profile met, the first reasons it misses the next

Only what a TLS scan can see is compared: protocol versions, cipher suites (TLS 1.3 ones
apart), ECDHE curves, DH and ECDH sizes, and the leaf certificate's key type, RSA size and
lifetime. The profiles' HSTS age and OCSP-stapling preference are about the HTTP server and
its operations, not the TLS set-up, and are left out (sslyze leaves them out too). A profile
is met when the server accepts nothing outside it: a server that accepts less (TLS 1.3 only
under the intermediate profile) still meets it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final, Literal

from ssl_monitor.models import MozillaCompliance

__all__ = ["PROFILES", "Profile", "ServerProfile", "compliance", "leaf_facts"]

ProfileName = Literal["modern", "intermediate", "old"]

_TLS13: Final = frozenset(
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
)
_CURVES: Final = frozenset({"x25519", "secp256r1", "secp384r1"})  # X25519, prime256v1, secp384r1
_INTERMEDIATE: Final = frozenset(
    f"TLS_{name}"
    for name in (
        "ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "DHE_RSA_WITH_AES_256_GCM_SHA384", "DHE_RSA_WITH_AES_128_GCM_SHA256",
        "DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    )
)  # fmt: skip
_OLD: Final = _INTERMEDIATE | frozenset(
    f"TLS_{name}"
    for name in (
        "ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        "ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", "ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        "ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "DHE_RSA_WITH_AES_128_CBC_SHA256", "DHE_RSA_WITH_AES_256_CBC_SHA256",
        "RSA_WITH_AES_128_GCM_SHA256", "RSA_WITH_AES_256_GCM_SHA384",
        "RSA_WITH_AES_128_CBC_SHA256", "RSA_WITH_AES_256_CBC_SHA256",
        "RSA_WITH_AES_128_CBC_SHA", "RSA_WITH_AES_256_CBC_SHA", "RSA_WITH_3DES_EDE_CBC_SHA",
    )
)  # fmt: skip


@dataclass(frozen=True)
class Profile:
    name: ProfileName
    versions: frozenset[str]
    ciphers: frozenset[str]
    ciphersuites: frozenset[str]
    curves: frozenset[str]
    dh_param_size: int | None
    ecdh_param_size: int
    certificate_types: frozenset[str]
    rsa_key_size: int | None
    maximum_certificate_lifespan: int


PROFILES: Final[tuple[Profile, ...]] = (  # strictest first
    Profile("modern", frozenset({"TLSv1.3"}), frozenset(), _TLS13, _CURVES, None, 256,
            frozenset({"ecdsa"}), None, 90),
    Profile("intermediate", frozenset({"TLSv1.2", "TLSv1.3"}), _INTERMEDIATE, _TLS13, _CURVES, 2048, 256,
            frozenset({"ecdsa", "rsa"}), 2048, 366),
    Profile("old", frozenset({"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"}), _OLD, _TLS13, _CURVES, 1024, 256,
            frozenset({"rsa"}), 2048, 366),
)  # fmt: skip


@dataclass(frozen=True)
class ServerProfile:
    """What the scan saw, in the profiles' terms."""

    versions: Collection[str]
    ciphers: Collection[str]
    """Suites accepted with TLS 1.2 and earlier (IANA names)."""
    ciphersuites: Collection[str]
    """TLS 1.3 suites accepted."""
    curves: Collection[str]
    """ECDHE (and hybrid) groups accepted, by name."""
    dh_bits: int | None
    ecdh_bits: int | None
    certificate_type: str | None = None
    """rsa, ecdsa or another key type of the leaf; None when no certificate was seen."""
    rsa_bits: int | None = None
    lifespan_days: float | None = None


def _listed(names: Collection[str], limit: int = 4) -> str:
    ordered = sorted(names)
    shown = ", ".join(ordered[:limit])
    return shown + (f" (+{len(ordered) - limit} more)" if len(ordered) > limit else "")


def misses(server: ServerProfile, profile: Profile) -> list[str]:
    """Why `server` does not meet `profile`, most important first (empty: it meets it)."""
    reasons: list[str] = []
    if extra := set(server.versions) - profile.versions:
        reasons.append(f"accepts {_listed(extra)}; {profile.name} allows only {_listed(profile.versions)}")
    if extra := set(server.ciphers) - profile.ciphers:
        reasons.append(f"accepts suites outside {profile.name}: {_listed(extra)}")
    if extra := set(server.ciphersuites) - profile.ciphersuites:
        reasons.append(f"accepts TLS 1.3 suites outside {profile.name}: {_listed(extra)}")
    if extra := set(server.curves) - profile.curves:
        reasons.append(f"accepts groups outside {profile.name}: {_listed(extra)}")
    if (
        profile.dh_param_size is not None
        and server.dh_bits is not None
        and server.dh_bits < profile.dh_param_size
    ):
        reasons.append(
            f"DH parameters of {server.dh_bits} bits; {profile.name} needs {profile.dh_param_size}"
        )
    if server.ecdh_bits is not None and server.ecdh_bits < profile.ecdh_param_size:
        reasons.append(
            f"an ECDH group of {server.ecdh_bits} bits; {profile.name} needs {profile.ecdh_param_size}"
        )
    if server.certificate_type is not None and server.certificate_type not in profile.certificate_types:
        reasons.append(
            f"the certificate's key is {server.certificate_type}; {profile.name} wants {_listed(profile.certificate_types)}"
        )
    if profile.rsa_key_size and server.rsa_bits is not None and server.rsa_bits < profile.rsa_key_size:
        reasons.append(f"an RSA key of {server.rsa_bits} bits; {profile.name} needs {profile.rsa_key_size}")
    if server.lifespan_days is not None and server.lifespan_days > profile.maximum_certificate_lifespan:
        reasons.append(
            f"a certificate lifetime of {server.lifespan_days:.0f} days; "
            f"{profile.name} allows {profile.maximum_certificate_lifespan}"
        )
    return reasons


def compliance(server: ServerProfile, *, limit: int = 3) -> MozillaCompliance:
    """The strictest profile `server` meets and the first `limit` reasons it misses the next stricter one."""
    stricter: Profile | None = None
    for profile in PROFILES:
        if not misses(server, profile):
            return MozillaCompliance(
                profile=profile.name,
                next_profile=stricter.name if stricter else None,
                misses=misses(server, stricter)[:limit] if stricter else [],
            )
        stricter = profile
    old = PROFILES[-1]
    return MozillaCompliance(profile=None, next_profile=old.name, misses=misses(server, old)[:limit])


def leaf_facts(leaf: bytes | None) -> tuple[str | None, int | None, float | None]:
    """(key type as the profiles name it, RSA bits, lifetime in days) of a DER leaf certificate."""
    if leaf is None:
        return None, None, None
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        cert = x509.load_der_x509_certificate(leaf)
        key = cert.public_key()
    except ValueError:
        return None, None, None
    lifespan = float((cert.not_valid_after_utc - cert.not_valid_before_utc).days)  # whole days, as sslyze
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size, lifespan
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "ecdsa", None, lifespan
    return type(key).__name__.removesuffix("PublicKey").lower(), None, lifespan
