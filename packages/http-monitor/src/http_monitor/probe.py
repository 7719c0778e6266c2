"""The HTTP check: one request (following redirects) and the findings it supports.

Every connection goes through `monitor_common.netpolicy`'s guarded client, so the address each
hop actually dials is checked against the network policy; a refusal propagates as `PolicyError`
(the caller's target is forbidden: a `ToolError`, not a result).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from monitor_common.netpolicy import NetworkPolicy, ResolutionError, Resolver
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_url

from http_monitor.models import HttpCheckResult, HttpTimings
from http_monitor.status import parse_status_spec

if TYPE_CHECKING:
    import httpx2

__all__ = ["http_check"]


def _client_tls(verify_tls: bool, ca_bundle_pem: str | None) -> ssl.SSLContext | bool:
    if not verify_tls:
        return False
    if ca_bundle_pem is None:
        return True
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cadata=ca_bundle_pem)
    except ssl.SSLError as exc:
        from monitor_common.errors import InputError

        raise InputError(
            f"ca_bundle_pem holds no usable PEM certificate ({exc.reason}): pass CA certificates in PEM"
        ) from None
    return context


async def http_check(
    url: str,
    *,
    policy: NetworkPolicy,
    method: str = "GET",
    expect_status: str = "200-399",
    timeout_s: float = 10.0,
    follow_redirects: bool = True,
    max_redirects: int = 10,
    verify_tls: bool = True,
    ca_bundle_pem: str | None = None,
    resolver: Resolver | None = None,
) -> HttpCheckResult:
    """Request `url` and judge the response against `expect_status`.

    Args:
        url: http or https URL; credentials in it are sent but never echoed.
        policy: which addresses may be dialled (every redirect hop included).
        method: HTTP method, e.g. GET or HEAD.
        expect_status: the statuses that count as up, e.g. "200-399" or "2xx,301".
        timeout_s: limit for the whole check.
        follow_redirects: follow 3xx responses up to `max_redirects`.
        verify_tls: verify the certificate chain and host name of https URLs.
        ca_bundle_pem: CA certificates (PEM) to trust instead of the system store.
        resolver: how to look up the target's name; default the system resolver.
    """
    import httpx2
    from monitor_common.netpolicy import guarded_client

    started = Stopwatch()
    target = parse_url(url)
    spec = parse_status_spec(expect_status)
    method = method.upper()
    verify = _client_tls(verify_tls, ca_bundle_pem)
    findings: list[Finding] = []
    base: dict[str, object] = {"url": target.redacted}

    try:
        async with guarded_client(
            policy,
            timeout=timeout_s,
            verify=verify,
            http2=True,
            follow_redirects=follow_redirects,
            resolver=resolver,
        ) as client:
            client.max_redirects = max_redirects
            response = await client.send(client.build_request(method, str(target)), stream=True)
            try:
                # The peer address is only known while the connection is open.
                remote_ip = _remote_ip(response)
                await response.aread()
            finally:
                await response.aclose()
    except httpx2.TooManyRedirects:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="too_many_redirects",
                message=f"more than {max_redirects} redirects",
                hint="check the redirect chain for a loop, or raise max_redirects",
            )
        )
        return HttpCheckResult.build(
            summary=f"critical: {target.redacted} redirects more than {max_redirects} times",
            findings=findings,
            started=started,
            **base,
        )
    except httpx2.TimeoutException as exc:
        phase = _timeout_phase(exc)
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="http_timeout",
                message=f"no answer within {timeout_s:g} s ({phase})",
                hint="the server or the network path is slow or dropping packets",
            )
        )
        return HttpCheckResult.build(
            summary=f"critical: {target.redacted} timed out ({phase})",
            findings=findings,
            started=started,
            **base,
        )
    except ResolutionError as exc:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="dns_resolution_failed",
                message=f"could not resolve {exc.host}: {exc.reason}",
                hint="check the name for typos and its DNS records",
            )
        )
        return HttpCheckResult.build(
            summary=f"critical: {exc.host} does not resolve", findings=findings, started=started, **base
        )
    except httpx2.ConnectError as exc:
        finding = _connect_finding(exc)
        findings.append(finding)
        return HttpCheckResult.build(
            summary=f"critical: {target.redacted}: {finding.message}",
            findings=findings,
            started=started,
            **base,
        )
    except httpx2.HTTPError as exc:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="http_protocol_error",
                message=f"{type(exc).__name__}: {exc}",
                hint="the server sent something that is not valid HTTP, or closed the connection",
            )
        )
        return HttpCheckResult.build(
            summary=f"critical: {target.redacted}: broken response",
            findings=findings,
            started=started,
            **base,
        )

    if response.status_code not in spec:
        findings.append(
            Finding(
                severity=Verdict.CRITICAL,
                code="http_status_unexpected",
                message=f"status {response.status_code} {response.reason_phrase} is not in {spec.text}",
                hint="see the response of the final URL; adjust expect_status if this status is intended",
            )
        )
    verdict = Verdict.worst([f.severity for f in findings])
    total = started.elapsed_ms()
    summary = f"{verdict.value}: {target.redacted} answered {response.status_code} {response.reason_phrase} in {total:.0f} ms"
    return HttpCheckResult.build(
        summary=summary,
        findings=findings,
        started=started,
        final_url=parse_url(str(response.url)).redacted,
        status_code=response.status_code,
        reason=response.reason_phrase,
        http_version=response.http_version,
        remote_ip=remote_ip,
        redirect_count=len(response.history),
        body_bytes=len(response.content),
        timings_ms=HttpTimings(total=total),
        **base,
    )


def _timeout_phase(exc: httpx2.TimeoutException) -> str:
    import httpx2

    if isinstance(exc, httpx2.ConnectTimeout):
        return "connect"
    if isinstance(exc, httpx2.ReadTimeout):
        return "first byte or body"
    if isinstance(exc, httpx2.WriteTimeout):
        return "sending the request"
    return "waiting for a connection"


def _connect_finding(exc: Exception) -> Finding:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return Finding(
                severity=Verdict.CRITICAL,
                code="tls_invalid",
                message=f"certificate verification failed: {cause.verify_message}",
                hint="check the certificate chain and host name with ssl-monitor's cert_check",
            )
        if isinstance(cause, ssl.SSLError):
            return Finding(
                severity=Verdict.CRITICAL,
                code="tls_invalid",
                message=f"TLS handshake failed: {cause.reason or cause}",
                hint="the server's TLS configuration rejects this client",
            )
        if isinstance(cause, ConnectionRefusedError):
            return Finding(
                severity=Verdict.CRITICAL,
                code="http_connect_refused",
                message="connection refused",
                hint="nothing listens on that port, or a firewall rejects the connection",
            )
        cause = cause.__cause__ or cause.__context__
    text = str(exc)
    if "refused" in text.lower():
        return Finding(
            severity=Verdict.CRITICAL,
            code="http_connect_refused",
            message="connection refused",
            hint="nothing listens on that port, or a firewall rejects the connection",
        )
    return Finding(
        severity=Verdict.CRITICAL,
        code="http_connect_failed",
        message=f"could not connect: {text or type(exc).__name__}",
        hint="the host is unreachable from here",
    )


def _remote_ip(response: httpx2.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    address = stream.get_extra_info("server_addr")
    if isinstance(address, tuple) and address:
        return str(address[0])  # pyright: ignore[reportUnknownArgumentType]
    return None
