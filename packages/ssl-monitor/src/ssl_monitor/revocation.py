"""Is the server's certificate revoked? Its CRL and its OCSP responder, each verified.

    cert_revocation(host, ...)   RevocationResult

CRL: download (through the network policy), check it is issued and signed by the certificate's
issuer and current, look the serial up. OCSP: a request built with cryptography, POSTed to the
responder; the response must be signed by the issuer or by a responder certificate the issuer
delegated (id-kp-OCSPSigning), be about this serial, and be current. The stapled response is
asked for first and verified the same way; when it says good or revoked, nothing is fetched.
Any source that cannot give an answer it can
prove says "unknown" and why; a certificate with neither URL is "unknown", not an error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from monitor_common.errors import PolicyError
from monitor_common.netpolicy import ResolutionError
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_host

from ssl_monitor.certs import resolve_port
from ssl_monitor.handshake import HandshakeFailure, default_sni, handshake
from ssl_monitor.models import RevocationMethod, RevocationResult, RevocationSource
from ssl_monitor.ocsp import CLOCK_SKEW, find_issuer, judge_ocsp
from ssl_monitor.staple import probe_staple

if TYPE_CHECKING:
    from cryptography import x509
    from monitor_common.context import CheckContext

__all__ = ["cert_revocation"]


class _Unknown(Exception):
    """A source gave no answer it can prove; the message says why."""


async def _fetch(url: str, ctx: CheckContext, timeout_s: float, body: bytes | None = None) -> bytes:
    """A CRL (GET) or an OCSP answer (POST of `body`) through `monitor_common.fetch`, within its cap."""
    import httpx2
    from monitor_common.fetch import CRL_CAP, OCSP_CAP, FetchTimeout, fetch
    from monitor_common.ratelimit import RateLimited

    if not url.lower().startswith(("http://", "https://")):
        raise _Unknown(f"only http(s) URLs are fetched, not {url!r}")
    try:
        if body is None:
            fetched = await fetch(ctx, url, cap=CRL_CAP, timeout_s=timeout_s)
        else:
            headers = {"Content-Type": "application/ocsp-request"}
            fetched = await fetch(
                ctx, url, cap=OCSP_CAP, timeout_s=timeout_s, method="POST", content=body, headers=headers
            )
    except (PolicyError, RateLimited) as exc:
        raise _Unknown(f"not fetched: {exc}") from None
    except ResolutionError as exc:
        raise _Unknown(f"could not resolve {exc.host}: {exc.reason}") from None
    except FetchTimeout as exc:
        raise _Unknown(str(exc)) from None
    except httpx2.HTTPError as exc:
        raise _Unknown(f"could not fetch {url}: {exc or type(exc).__name__}") from None
    if fetched.status_code != 200:
        raise _Unknown(f"{url} answered HTTP {fetched.status_code}")
    if fetched.truncated:
        raise _Unknown(fetched.over_cap)
    return fetched.body


def _iso(moment: datetime | None) -> str | None:
    from ssl_monitor.x509info import iso

    return iso(moment) if moment is not None else None


async def _crl(
    url: str,
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    ctx: CheckContext,
    timeout_s: float,
) -> RevocationSource:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    from ssl_monitor.x509info import is_dsa_key

    data = await _fetch(url, ctx, timeout_s)
    try:
        crl = (
            x509.load_der_x509_crl(data)
            if not data.lstrip().startswith(b"-----")
            else x509.load_pem_x509_crl(data)
        )
    except ValueError as exc:
        raise _Unknown(f"the CRL at {url} does not parse: {exc}") from None
    source = RevocationSource(
        method="crl",
        url=url,
        status="unknown",
        this_update=_iso(crl.last_update_utc),
        next_update=_iso(crl.next_update_utc),
    )
    if crl.issuer != issuer.subject:
        source.reason = f"the CRL is issued by {crl.issuer.rfc4514_string()}, not by the certificate's issuer"
        return source
    key = issuer.public_key()
    if not (
        isinstance(
            key,
            rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey,
        )
        or is_dsa_key(key)
    ):
        source.reason = "the issuer's key type cannot sign a CRL"
        return source
    source.signature_valid = crl.is_signature_valid(key)
    if not source.signature_valid:
        source.reason = "the CRL's signature does not verify with the issuer's key"
        return source
    now = datetime.now(UTC)
    if crl.next_update_utc is not None and crl.next_update_utc + CLOCK_SKEW < now:
        source.reason = f"the CRL is stale: its next update was due {_iso(crl.next_update_utc)}"
        return source
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    if entry is None:
        source.status = "good"
        return source
    source.status = "revoked"
    source.revoked_at = _iso(entry.revocation_date_utc)
    try:
        source.reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
    except x509.ExtensionNotFound:
        source.reason = "unspecified"
    return source


async def _ocsp(
    url: str,
    leaf: x509.Certificate,
    issuer: x509.Certificate,
    ctx: CheckContext,
    timeout_s: float,
) -> RevocationSource:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    # SHA-1 in the CertID is what every responder understands (RFC 5019); it names, it does not sign.
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()  # noqa: S303
    data = await _fetch(url, ctx, timeout_s, body=request.public_bytes(serialization.Encoding.DER))
    return judge_ocsp(data, leaf, issuer, method="ocsp", url=url)


async def cert_revocation(
    host: str,
    ctx: CheckContext,
    *,
    port: int | None = None,
    sni: str | None = None,
    connect_ip: str | None = None,
    starttls: str | None = None,
    ca_bundle_pem: str | None = None,
    timeout_s: float = 10.0,
) -> RevocationResult:
    """Ask the server's stapled OCSP response, then (if it settles nothing) the certificate's
    CRL and OCSP responder, whether it is revoked.

    The handshake, the staple probe and the CRL and OCSP fetches all go through `ctx` (policy,
    resolver, rate limit). The issuer's certificate comes from the served chain, else from
    `ca_bundle_pem` or the system store. `timeout_s` bounds the whole call; the steps share it.
    """
    import anyio

    from ssl_monitor.validate import TrustAnchors
    from ssl_monitor.x509info import describe, load_der_chain

    started = Stopwatch()
    target = parse_host(host)
    port = resolve_port(port, starttls)
    anchors = TrustAnchors.from_pem(ca_bundle_pem) if ca_bundle_pem else TrustAnchors.system()

    def left() -> float:
        """What remains of `timeout_s`: the steps share it, so the call never runs over."""
        return max(timeout_s - started.elapsed_ms() / 1000, 0.0)

    server_name = default_sni(target, sni)
    base: dict[str, object] = {"host": target.name, "port": port}
    shown = f"{server_name or target.name}:{port}"
    try:
        shake = await handshake(
            target.name,
            port,
            ctx,
            timeout_s=timeout_s,
            sni=server_name,
            connect_ip=connect_ip,
            starttls=starttls,
        )
    except HandshakeFailure as exc:
        finding = Finding(severity=exc.severity, code=exc.code, message=exc.message, hint=exc.hint)
        return RevocationResult.build(
            summary=f"{exc.severity.value}: {shown}: {exc.message}",
            findings=[finding],
            started=started,
            status="unknown",
            **base,
        )
    served = load_der_chain(shake.chain)
    if not served:
        finding = Finding(
            severity=Verdict.CRITICAL, code="no_certificate", message="the server presented no certificate"
        )
        return RevocationResult.build(
            summary=f"critical: {shown}: no certificate",
            findings=[finding],
            started=started,
            status="unknown",
            **base,
        )
    leaf = served[0]
    info = describe(leaf, datetime.now(UTC))
    base["serial"] = info.serial
    issuer = find_issuer(served, list(anchors.certs))
    sources: list[RevocationSource] = []
    if not info.crl_urls and not info.ocsp_urls:
        sources.append(
            RevocationSource(
                method="crl",
                status="unknown",
                reason="the certificate names neither a CRL nor an OCSP responder",
            )
        )
    elif issuer is None:
        reason = f"the issuer's certificate ({info.issuer}) is neither served nor a trust anchor, so no answer can be verified"
        sources.append(
            RevocationSource(method="crl" if info.crl_urls else "ocsp", status="unknown", reason=reason)
        )
    else:
        # The staple first: a good or revoked answer in a fresh, correctly signed staple settles
        # the question with no fetch, so a responder or CRL server that is down or hangs does not
        # matter; the fetches get what is left only when the staple is missing or inconclusive.
        # The probe gets at most half of what is left, so a server that stalls it leaves the
        # fetches their time too.
        if (info.ocsp_urls or info.must_staple) and left() > 0.05:
            probe = await probe_staple(
                target.name,
                port,
                ctx,
                timeout_s=left() / 2,
                sni=server_name,
                connect_ip=shake.remote_ip,
                starttls=starttls,
            )
            if probe.stapled and probe.response is not None:
                stapled = judge_ocsp(probe.response, leaf, issuer, method="ocsp_stapled", url=None)
                sources.append(stapled)
                if stapled.status in ("good", "revoked"):
                    return _result(started, base, shown, sources)
        found: dict[int, RevocationSource] = {}

        async def run(index: int, method: RevocationMethod, url: str) -> None:
            fetch = _crl if method == "crl" else _ocsp
            try:
                # The fetch ends itself at its deadline and says how far it got; this scope,
                # a little later, is the backstop for the parsing after it.
                with anyio.move_on_after(left()):
                    found[index] = await fetch(url, leaf, issuer, ctx, max(left() - 0.1, 0.01))
                if index not in found:
                    raise _Unknown(f"no answer from {url} within the time limit of {timeout_s:g} s")
            except _Unknown as exc:
                found[index] = RevocationSource(method=method, url=url, status="unknown", reason=str(exc))

        jobs: list[tuple[RevocationMethod, str]] = [("crl", url) for url in info.crl_urls[:1]]
        jobs.extend(("ocsp", url) for url in info.ocsp_urls[:1])
        async with anyio.create_task_group() as tg:
            for index, (method, url) in enumerate(jobs):
                tg.start_soon(run, index, method, url)
        sources.extend(found[index] for index in range(len(jobs)))
    return _result(started, base, shown, sources)


def _result(
    started: Stopwatch, base: dict[str, object], shown: str, sources: list[RevocationSource]
) -> RevocationResult:
    findings: list[Finding] = []
    revoked = next((s for s in sources if s.status == "revoked"), None)
    if revoked is not None:
        status = "revoked"
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="cert_revoked",
                message=f"the certificate was revoked on {revoked.revoked_at} ({revoked.reason}) "
                f"according to its {revoked.method.replace('_', ' ').upper()}",
                hint="replace the certificate now",
            )
        )
    elif any(s.status == "good" for s in sources):
        status = "good"
    else:
        status = "unknown"
    for source in sources:
        if source.signature_valid is False:
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code=f"{source.method}_signature_invalid",
                    message=f"{source.url or 'stapled response'}: {source.reason}",
                )
            )
        elif source.reason and "stale" in source.reason:
            findings.append(
                Finding(
                    severity=Verdict.WARNING,
                    code=f"{source.method}_stale",
                    message=f"{source.url or 'stapled response'}: {source.reason}",
                )
            )
    if status == "unknown":
        why = "; ".join(f"{s.method}: {s.reason}" for s in sources)
        findings.append(
            Finding(
                severity=Verdict.UNKNOWN,
                code="revocation_unknown",
                message=f"revocation status unknown ({why})",
            )
        )
    verdict = Verdict.worst([f.severity for f in findings])
    said = ", ".join(f"{s.method} {s.status}" for s in sources)
    if status == "unknown":
        said = "; ".join(f"{s.method}: {s.reason}" for s in sources)
    return RevocationResult.build(
        summary=f"{verdict.value}: {shown}: certificate {status} ({said})",
        findings=findings,
        started=started,
        status=status,
        revoked_at=revoked.revoked_at if revoked else None,
        revocation_reason=revoked.reason if revoked else None,
        sources=sources,
        **base,
    )
