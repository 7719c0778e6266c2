"""The certificate check: one TLS handshake that accepts whatever the server sends, then judgement.

Verification is deliberately off during the handshake, so that an expired or self-signed
certificate is still described in full instead of ending the check with a handshake error.
`cryptography` is imported on first use, not at server start-up.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

from monitor_common.netpolicy import NetworkPolicy, ResolutionError, Resolver, open_tcp
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_host

from ssl_monitor.models import CertCheckResult

__all__ = ["cert_check"]


def _accept_anything() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


async def cert_check(
    host: str,
    *,
    policy: NetworkPolicy,
    port: int = 443,
    sni: str | None = None,
    warn_days: float = 21,
    critical_days: float = 7,
    timeout_s: float = 10.0,
    resolver: Resolver | None = None,
) -> CertCheckResult:
    """Fetch the certificate `host:port` presents and judge how long it stays valid.

    Args:
        host: host name or IP address of the TLS server.
        policy: which addresses may be dialled.
        port: TCP port of the TLS server.
        sni: server name to send (default: `host` when it is a name, none for an address).
        warn_days: fewer days left than this is a warning.
        critical_days: fewer days left than this is critical.
        timeout_s: limit for connect plus handshake.
        resolver: how to look up `host`; default the system resolver.
    """
    import anyio
    from anyio.streams.tls import TLSAttribute, TLSStream

    started = Stopwatch()
    target = parse_host(host)
    server_name = sni if sni is not None else (None if target.ip is not None else target.name)
    base: dict[str, object] = {"host": target.name, "port": port, "sni": server_name}
    findings: list[Finding] = []

    def failed(code: str, message: str, hint: str) -> CertCheckResult:
        findings.append(Finding(severity=Verdict.CRITICAL, code=code, message=message, hint=hint))
        return CertCheckResult.build(
            summary=f"critical: {target.name}:{port}: {message}", findings=findings, started=started, **base
        )

    try:
        with anyio.fail_after(timeout_s):
            stream = await open_tcp(target.name, port, policy, timeout=timeout_s, resolver=resolver)
            remote_ip = str(stream.extra(anyio.abc.SocketAttribute.remote_address)[0])
            base["remote_ip"] = remote_ip
            try:
                tls = await TLSStream.wrap(
                    stream,
                    server_side=False,
                    hostname=server_name,
                    ssl_context=_accept_anything(),
                    standard_compatible=False,
                )
            except BaseException:
                await stream.aclose()
                raise
            try:
                der = tls.extra(TLSAttribute.peer_certificate_binary)
                version = tls.extra(TLSAttribute.tls_version)
                cipher = tls.extra(TLSAttribute.cipher)[0]
            finally:
                await tls.aclose()
    except TimeoutError:
        return failed(
            "timeout", f"no TLS handshake within {timeout_s:g} s", "the server or path is slow or filtered"
        )
    except ResolutionError as exc:
        return failed(
            "dns_resolution_failed", f"could not resolve {exc.host}: {exc.reason}", "check the name"
        )
    except ConnectionRefusedError:
        return failed("connect_refused", "connection refused", "nothing listens on that port")
    except ssl.SSLError as exc:
        return failed(
            "tls_handshake_failed",
            f"TLS handshake failed: {exc.reason or exc}",
            "the server may not speak TLS on this port",
        )
    except OSError as exc:
        return failed(
            "connect_failed", f"could not connect: {exc.strerror or exc}", "the host is unreachable from here"
        )
    except anyio.BrokenResourceError:
        return failed(
            "tls_handshake_failed",
            "the server closed the connection during the handshake",
            "the server may not speak TLS on this port",
        )

    if der is None:
        return failed(
            "no_certificate", "the server presented no certificate", "configure a certificate on the server"
        )

    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    now = datetime.now(UTC)
    not_after = cert.not_valid_after_utc
    not_before = cert.not_valid_before_utc
    days_left = round((not_after - now).total_seconds() / 86400, 2)
    if now > not_after:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="cert_expired",
                message=f"certificate expired {-days_left:.1f} days ago ({_iso(not_after)})",
                hint="renew the certificate and reload the server",
            )
        )
    elif days_left < warn_days:
        severity = Verdict.CRITICAL if days_left < critical_days else Verdict.WARNING
        findings.append(
            Finding(
                severity=severity,
                code="cert_expiring_soon",
                message=f"certificate expires in {days_left:.1f} days ({_iso(not_after)})",
                hint="renew it now; check that automatic renewal works",
            )
        )
    if now < not_before:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="cert_not_yet_valid",
                message=f"certificate is valid only from {_iso(not_before)}",
                hint="check the issuing system's clock, or wait",
            )
        )
    verdict = Verdict.worst([f.severity for f in findings])
    state = f"expired {-days_left:.1f} days ago" if now > not_after else f"expires in {days_left:.1f} days"
    return CertCheckResult.build(
        summary=f"{verdict.value}: certificate for {server_name or target.name}:{port} {state}",
        findings=findings,
        started=started,
        tls_version=version,
        cipher=cipher,
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=_iso(not_before),
        not_after=_iso(not_after),
        days_left=days_left,
        **base,
    )
