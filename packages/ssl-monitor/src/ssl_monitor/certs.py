"""The certificate check: one handshake that accepts whatever the server sends, then judgement.

    cert_check(host, ...)     CertCheckResult with the leaf, the chain, trust and findings
    judge(...)                the findings for a served chain (shared with cert_check_many)

Verification is off during the handshake (see `handshake`), then `validate` judges the chain
in-process, so an expired, self-signed or wrong-host certificate is still described in full.
`cryptography` is imported on first use, not at server start-up.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from monitor_common.errors import InputError
from monitor_common.findings import cert_expiry_findings
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_host, parse_port

from ssl_monitor.handshake import HandshakeFailure, default_sni, handshake
from ssl_monitor.models import CertCheckResult, CertInfo
from ssl_monitor.staple import probe_staple
from ssl_monitor.starttls import DEFAULT_PORTS, PROTOCOLS

if TYPE_CHECKING:
    from cryptography import x509
    from monitor_common.context import CheckContext
    from monitor_common.targets import Host, IPAddress

    from ssl_monitor.validate import TrustAnchors, Validation

__all__ = ["cert_check", "check_target", "resolve_port", "thresholds"]

MAX_LIFETIME_DAYS = 398  # CA/Browser Forum baseline requirements since 2020-09-01
OLD_VERSIONS = frozenset({"SSLv3", "TLSv1", "TLSv1.1"})
_WEAK_HASHES = ("sha1", "md5", "md2")


def resolve_port(port: int | None, starttls: str | None) -> int:
    """The port to use: the caller's, else the protocol's usual one (443 without STARTTLS)."""
    if starttls is not None and starttls not in PROTOCOLS:
        raise InputError(f"starttls={starttls!r} is not supported: use one of {', '.join(PROTOCOLS)}")
    if port is None:
        return DEFAULT_PORTS[starttls] if starttls is not None else 443
    return parse_port(port)


def check_target(
    host: str, *, port: int | None, starttls: str | None, connect_ip: str | None
) -> tuple[Host, int, IPAddress | None]:
    """The one rule for a certificate check's target, `cert_check`'s and each of
    `cert_check_many`'s: the host (name or address), the port (the caller's, else the STARTTLS
    protocol's, else 443) and the address to dial instead of resolving, if any.

    Raises:
        InputError: the host, port, starttls or connect_ip is malformed (the message says which).
    """
    from monitor_common.errors import TargetError
    from monitor_common.targets import parse_ip

    target = parse_host(host)
    port = resolve_port(port, starttls)
    ip = None
    if connect_ip is not None:
        ip = parse_ip(connect_ip)
        if ip is None:
            raise TargetError(
                f"connect_ip {connect_ip!r} must be an IP address, e.g. 192.0.2.1 or 2001:db8::1"
            )
    return target, port, ip


def thresholds(
    ctx: CheckContext, warn_days: float | None, critical_days: float | None
) -> tuple[float, float]:
    """(warn, critical) days left: the caller's, each defaulting to the context's
    (`cert_warn_days` / `cert_critical_days`).

    Raises:
        InputError: a threshold is negative, or critical is above warn.
    """
    warn = ctx.cert_warn_days if warn_days is None else warn_days
    critical = ctx.cert_critical_days if critical_days is None else critical_days
    if warn < 0 or critical < 0:
        raise InputError("warn_days and critical_days must be 0 or more, e.g. warn_days=21 critical_days=7")
    if critical > warn:
        # One of the two may be the server's: say so, or the message names a value never passed.
        def said(name: str, value: float, given: float | None) -> str:
            return f"{name}={value:g}" + (" (the server's default)" if given is None else "")

        raise InputError(
            f"{said('critical_days', critical, critical_days)} is above {said('warn_days', warn, warn_days)}: "
            "the critical threshold must be the smaller one, e.g. warn_days=21 critical_days=7"
        )
    return warn, critical


def _finding(severity: Verdict, code: str, message: str, hint: str | None = None) -> Finding:
    return Finding(severity=severity, code=code, message=message, hint=hint)


def judge(
    leaf: CertInfo,
    validation: Validation,
    served: list[x509.Certificate],
    *,
    name: str,
    now: datetime,
    warn_days: float,
    critical_days: float,
    trust_source: str,
    tls_version: str | None,
    ocsp_stapled: bool | None,
    public_root: bool = True,
) -> list[Finding]:
    """Every finding about one served chain; an empty list means all is well (findings of
    severity ok are notices). `public_root`: the chain leads to a root of the public web (the
    system store), so the CA/Browser Forum's rules apply."""
    c, w = Verdict.CRITICAL, Verdict.WARNING
    found: list[Finding] = []
    found += cert_expiry_findings(
        leaf.days_left, leaf.not_after, warn_days=warn_days, critical_days=critical_days
    )
    if served[0].not_valid_before_utc > now:
        found.append(
            _finding(
                c,
                "cert_not_yet_valid",
                f"certificate is valid only from {leaf.not_before}",
                "check the issuing system's clock, or wait",
            )
        )
    if not validation.hostname_match:
        from ssl_monitor.validate import no_san_reason

        why = f"it names {', '.join(leaf.sans[:5])}" if leaf.sans else no_san_reason(served[0])
        found.append(
            _finding(
                c,
                "hostname_mismatch",
                f"certificate is not valid for {name} ({why})",
                "serve a certificate that lists this name in its subjectAltName",
            )
        )
    self_signed = leaf.self_issued and len(validation.path or []) <= 1
    if self_signed and validation.trusted:
        # Pinned: the caller's bundle holds this very certificate. Clients that were not told
        # to trust it will still refuse it.
        found.append(
            _finding(
                w,
                "self_signed",
                f"certificate is self-signed (trusted only because {trust_source} holds it)",
                "use a certificate from a public CA if clients other than yours connect",
            )
        )
    elif self_signed:
        found.append(
            _finding(
                c,
                "self_signed",
                "certificate is self-signed",
                "use a certificate from a public CA, or pass ca_bundle_pem for a private one",
            )
        )
    if not validation.trusted:
        found.append(
            _finding(
                c,
                "untrusted_chain",
                f"chain is not trusted by {trust_source}: {validation.trust_error}",
                "serve the full chain from a trusted CA, or pass ca_bundle_pem for a private CA",
            )
        )
    if validation.missing_issuer is not None and not self_signed:
        found.append(
            _finding(
                c,
                "chain_incomplete",
                f"the server does not send the certificate of issuer {validation.missing_issuer!r}",
                "configure the server with the full chain (leaf then intermediates)",
            )
        )
    if validation.misordered:
        found.append(
            _finding(
                w,
                "chain_misordered",
                "the server sends its chain out of order",
                "send the leaf first, then each certificate's issuer in turn",
            )
        )
    path = validation.path or served
    expired = [cert for cert in path[1:] if cert.not_valid_after_utc < now]
    extra_expired = [cert for cert in served[1:] if cert.not_valid_after_utc < now and cert not in path]
    if expired or extra_expired:
        names = ", ".join(cert.subject.rfc4514_string() for cert in expired + extra_expired)
        found.append(
            _finding(
                c if expired else w,
                "chain_contains_expired",
                f"the chain contains expired certificates: {names}",
                "replace the expired intermediate or drop it from the served chain",
            )
        )
    if (leaf.key_type == "rsa" and (leaf.key_bits or 0) < 2048) or (
        leaf.key_type == "ec" and (leaf.key_bits or 0) < 256
    ):
        found.append(
            _finding(
                c,
                "weak_key",
                f"the key is {leaf.key_type.upper()} {leaf.key_bits} bits",
                "use RSA 2048+ or EC P-256+",
            )
        )
    weak = [cert for cert in path if any(h in _signature_of(cert) for h in _WEAK_HASHES)]
    weak = [
        cert for cert in weak if cert is served[0] or cert.subject != cert.issuer
    ]  # a root's self-signature is not checked
    if weak:
        found.append(
            _finding(
                c,
                "weak_signature",
                f"{weak[0].subject.rfc4514_string()} is signed with {_signature_of(weak[0])}",
                "reissue the certificate with a SHA-256 signature",
            )
        )
    if leaf.lifetime_days > MAX_LIFETIME_DAYS and public_root:
        found.append(
            _finding(
                w,
                "lifetime_too_long",
                f"certificate lifetime is {leaf.lifetime_days:.0f} days (browsers accept at most {MAX_LIFETIME_DAYS})",
                "reissue with a lifetime of 398 days or less",
            )
        )
    elif leaf.lifetime_days > MAX_LIFETIME_DAYS:
        # The 398-day rule binds publicly trusted CAs; under a private root it is only a notice.
        found.append(
            _finding(
                Verdict.OK,
                "lifetime_too_long",
                f"certificate lifetime is {leaf.lifetime_days:.0f} days; the {MAX_LIFETIME_DAYS}-day limit "
                "binds publicly trusted certificates only, and this one is under a private root",
                "nothing to do for clients that trust the private root; shorter lifetimes limit a leaked key",
            )
        )
    if tls_version in OLD_VERSIONS:
        found.append(
            _finding(
                w,
                "old_tls_version",
                f"the server negotiated {tls_version}",
                "enable TLS 1.2 and 1.3 and disable older versions",
            )
        )
    if leaf.must_staple and ocsp_stapled is False:
        found.append(
            _finding(
                c,
                "must_staple_not_stapled",
                "the certificate requires OCSP stapling but the server staples nothing",
                "enable OCSP stapling on the server (Firefox refuses this certificate)",
            )
        )
    return found


def _staple_revoked(staple: bytes, served: list[x509.Certificate], anchors: TrustAnchors) -> list[Finding]:
    """`cert_revoked` when the server's own staple, verified as cert_revocation verifies it, says so:
    "ok" must never stand beside a revoked staple, and it costs no fetch."""
    from ssl_monitor.ocsp import find_issuer, judge_ocsp

    issuer = find_issuer(served, list(anchors.certs))
    if issuer is None:
        return []
    source = judge_ocsp(staple, served[0], issuer, method="ocsp_stapled", url=None)
    if source.status != "revoked":
        return []
    return [
        _finding(
            Verdict.CRITICAL,
            "cert_revoked",
            f"the certificate was revoked on {source.revoked_at} ({source.reason}) according to the "
            "server's own stapled OCSP response",
            "replace the certificate now",
        )
    ]


def _public_root(served: list[x509.Certificate], validation: Validation, anchors: TrustAnchors) -> bool:
    """Whether the chain leads to a root of the public web: the validated path's anchor is in the
    system store. Without a path, a served self-signed top is private; anything else may be public."""
    from ssl_monitor.validate import TrustAnchors

    public = TrustAnchors.system().certs
    if validation.path is not None:
        return validation.path[-1] in public
    top = served[-1]
    if top.subject == top.issuer:
        return top in public
    return anchors is TrustAnchors.system() or any(root.subject == top.issuer for root in public)


def _signature_of(cert: x509.Certificate) -> str:
    from ssl_monitor.x509info import describe_signature

    return describe_signature(cert).lower()


def _summary(verdict: Verdict, target: str, leaf: CertInfo | None, findings: list[Finding]) -> str:
    worst = max(findings, key=lambda f: f.severity.rank, default=None)
    if worst is not None and worst.severity != Verdict.OK:
        return f"{verdict.value}: {target}: {worst.message}"
    assert leaf is not None
    return f"{verdict.value}: certificate for {target} is valid and expires in {leaf.days_left:.1f} days"


async def cert_check(
    host: str,
    ctx: CheckContext,
    *,
    port: int | None = None,
    sni: str | None = None,
    connect_ip: str | None = None,
    starttls: str | None = None,
    warn_days: float | None = None,
    critical_days: float | None = None,
    ca_bundle_pem: str | None = None,
    timeout_s: float = 10.0,
    anchors: TrustAnchors | None = None,
) -> CertCheckResult:
    """Fetch the chain `host:port` presents, validate it in-process and judge it.

    Args:
        host: host name or IP address of the TLS server.
        ctx: the check context: policy, resolver and rate limit for the connections, and the
            default expiry thresholds.
        port: TCP port (default 443, or the STARTTLS protocol's port).
        sni: server name to send and to validate for (default: `host` when it is a name).
        connect_ip: dial this address instead of resolving `host` (still subject to the policy).
        starttls: smtp, imap, pop3, ftp, xmpp or postgres to upgrade a plaintext connection.
        warn_days / critical_days: fewer days left than these is a warning / critical
            (default: the context's `cert_warn_days` / `cert_critical_days`).
        ca_bundle_pem: trust these roots instead of the system store.
        timeout_s: limit for connect, STARTTLS and handshake together.
        anchors: already loaded trust anchors (the bulk check passes them in).
    """
    from ssl_monitor.validate import TrustAnchors, validate
    from ssl_monitor.x509info import chain_entry, describe, load_der_chain

    started = Stopwatch()
    target, port, _ = check_target(host, port=port, starttls=starttls, connect_ip=connect_ip)
    warn, critical = thresholds(ctx, warn_days, critical_days)
    if anchors is None:
        anchors = TrustAnchors.from_pem(ca_bundle_pem) if ca_bundle_pem else TrustAnchors.system()
    server_name = default_sni(target, sni)
    name = server_name or target.name
    base: dict[str, object] = {"host": target.name, "port": port, "sni": server_name, "starttls": starttls}
    shown = f"{name}:{port}"
    try:
        shake = await handshake(
            target.name,
            port,
            ctx,
            timeout_s=timeout_s,
            sni=server_name,
            connect_ip=connect_ip,
            starttls=starttls,
            alpn=() if starttls else ("h2", "http/1.1"),
        )
    except HandshakeFailure as exc:
        findings = [_finding(exc.severity, exc.code, exc.message, exc.hint)]
        return CertCheckResult.build(
            summary=f"{exc.severity.value}: {shown}: {exc.message}",
            findings=findings,
            started=started,
            **base,
        )
    base.update(
        remote_ip=shake.remote_ip,
        tls_version=shake.tls_version,
        cipher=shake.cipher,
        alpn=shake.alpn,
        served_chain_length=len(shake.chain),
    )
    served = load_der_chain(shake.chain)
    if not served:
        findings = [
            _finding(
                Verdict.CRITICAL,
                "no_certificate",
                "the server presented no certificate that parses",
                "configure a certificate on the server",
            )
        ]
        return CertCheckResult.build(
            summary=f"critical: {shown}: no certificate", findings=findings, started=started, **base
        )
    now = datetime.now(UTC)
    leaf = describe(served[0], now)
    validation = validate(served, name, anchors, now)
    chain_certs = validation.path if validation.path is not None else served
    stapled: bool | None = False
    staple: bytes | None = None
    remaining = timeout_s - started.elapsed_ms() / 1000
    if remaining <= 0.05:
        stapled = None  # the caller's time is up: not asked, rather than run over
    elif leaf.must_staple or leaf.ocsp_urls:
        # A second, raw TLS 1.2 connection: Python's ssl cannot ask for a staple. Without an OCSP
        # URL the server has nothing to staple, so that probe is spared.
        probe = await probe_staple(
            target.name,
            port,
            ctx,
            timeout_s=remaining,
            sni=server_name,
            connect_ip=shake.remote_ip,
            starttls=starttls,
        )
        stapled = probe.stapled
        staple = probe.response
    findings = judge(
        leaf,
        validation,
        served,
        name=name,
        now=now,
        warn_days=warn,
        critical_days=critical,
        trust_source=anchors.source,
        tls_version=shake.tls_version,
        ocsp_stapled=stapled,
        public_root=_public_root(served, validation, anchors),
    )
    if staple is not None:
        findings.extend(_staple_revoked(staple, served, anchors))
    chain = [chain_entry(cert, now) for cert in chain_certs]
    return CertCheckResult.build(
        summary=_summary(Verdict.worst([f.severity for f in findings]), shown, leaf, findings),
        findings=findings,
        started=started,
        trusted=validation.trusted,
        trust_error=validation.trust_error,
        hostname_match=validation.hostname_match,
        leaf=leaf,
        chain=chain,
        days_left_chain_min=min(entry.days_left for entry in chain) if validation.path is not None else None,
        ocsp_stapled=stapled,
        subject=leaf.subject,
        issuer=leaf.issuer,
        not_before=leaf.not_before,
        not_after=leaf.not_after,
        days_left=leaf.days_left,
        **base,
    )
