"""A TCP port checked like a monitoring probe: connect, optionally TLS, optionally send, read a banner.

The connection is opened with `netpolicy.open_tcp`, so the address dialled is checked against
the network policy (a refusal is a `PolicyError`, raised before any packet is sent). What comes
back is read up to `BANNER_CAP` bytes: until `expect_regex` matches, the peer closes, the cap is
reached or the deadline passes; without a pattern, the first bytes that arrive within
`BANNER_WAIT_S` (many protocols speak first: SMTP, SSH, FTP; others wait for the client).
`expect_regex` is a `monitor_common.patterns` pattern: RE2, searched off the event loop within
the time the check has left; one that does not answer in time is a `pattern_too_slow` finding.
"""

from __future__ import annotations

import errno
import ssl
import time
from typing import TYPE_CHECKING

import anyio
import anyio.abc
from anyio.streams.tls import TLSAttribute, TLSStream
from monitor_common import findings as shared
from monitor_common.errors import InputError
from monitor_common.netpolicy import ResolutionError, monitor_side, open_tcp
from monitor_common.patterns import Pattern, PatternTooSlow, compile_pattern, search
from monitor_common.ratelimit import RateLimited, wait_meter
from monitor_common.results import Finding, Stopwatch, Verdict
from monitor_common.targets import parse_host

from http_monitor.models import TcpCheckResult
from http_monitor.tls import cert_findings, client_context, tls_info

if TYPE_CHECKING:
    from monitor_common.context import CheckContext

__all__ = ["BANNER_CAP", "tcp_check"]

BANNER_CAP = 4096
BANNER_WAIT_S = 1.0
PATTERN_FLOOR_S = 0.05
"""The least time a search of expect_regex gets when data came just before the deadline."""
MAX_SEND = 64 * 1024


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


async def _read(
    stream: anyio.abc.ByteStream, pattern: Pattern | None, until: float
) -> tuple[bytes, str | None, PatternTooSlow | None]:
    """What arrives until `until` (at most `BANNER_CAP` bytes), the match of `pattern` in it, and
    why the pattern could not be judged (a search that did not answer before `until`), if so."""
    data = b""
    match: str | None = None
    while len(data) < BANNER_CAP:
        wait = until - time.perf_counter()
        if pattern is None and data:
            wait = min(wait, 0.05)  # a banner arrives in a burst; do not wait out the deadline for more
        if wait <= 0:
            break
        with anyio.move_on_after(wait):
            try:
                chunk = await stream.receive(BANNER_CAP - len(data))
            except (
                anyio.EndOfStream,
                anyio.BrokenResourceError,
                anyio.ClosedResourceError,
                OSError,
                ssl.SSLError,
            ):
                break
            data += chunk
            if pattern is not None:
                left = max(until - time.perf_counter(), PATTERN_FLOOR_S)
                try:
                    match = await search(pattern, data.decode("utf-8", errors="replace"), within_s=left)
                except PatternTooSlow as exc:
                    return data[:BANNER_CAP], None, exc
                if match is not None:
                    break
            continue
        break
    return data[:BANNER_CAP], match, None


async def tcp_check(
    host: str,
    port: int,
    ctx: CheckContext,
    *,
    send: str | None = None,
    expect_regex: str | None = None,
    tls: bool = False,
    timeout_s: float = 10.0,
    verify_tls: bool = True,
    ca_bundle_pem: str | None = None,
) -> TcpCheckResult:
    """Connect to `host`:`port` within `timeout_s` (the whole check) and report what happened."""
    started = Stopwatch()
    name = parse_host(host).name
    if not 1 <= port <= 65535:
        raise InputError(f"port must be 1 to 65535, got {port}")
    pattern = None if expect_regex is None else compile_pattern(expect_regex, "expect_regex")
    payload = send.encode("utf-8") if send is not None else None
    if payload is not None and len(payload) > MAX_SEND:
        raise InputError(f"send is {len(payload)} bytes; at most {MAX_SEND} are allowed")
    context = client_context(verify_tls, ca_bundle_pem, alpn=False) if tls else None
    findings: list[Finding] = []
    fields: dict[str, object] = {"host": name, "port": port}
    phase = "connect"
    deadline = time.perf_counter() + timeout_s
    stream: anyio.abc.ByteStream | None = None
    with anyio.move_on_after(timeout_s) as scope:
        try:
            clock = time.perf_counter()
            with wait_meter() as meter:
                sock = await open_tcp(name, port, ctx, timeout=timeout_s)
            stream = sock
            fields["connect_ms"] = _ms(clock + meter.waited_s)  # not the wait for a rate-limit slot
            fields["remote_ip"] = str(sock.extra(anyio.abc.SocketAttribute.remote_address)[0])
            if context is not None:
                phase = "tls"
                clock = time.perf_counter()
                wrapped = await TLSStream.wrap(
                    sock, hostname=name, ssl_context=context, standard_compatible=False
                )
                stream = wrapped
                fields["tls_ms"] = _ms(clock)
                info = tls_info(wrapped.extra(TLSAttribute.ssl_object))
                fields["tls"] = info
                findings.extend(cert_findings(info, name, ctx))
            if payload is not None:
                phase = "send"
                await stream.send(payload)
            phase = "banner"
            # Stop reading a little before the deadline, so a reply that never matches is reported
            # as a mismatch with what did arrive, not as a timeout.
            margin = min(0.1, timeout_s / 10)
            until = (
                deadline - margin
                if pattern is not None
                else min(deadline - margin, time.perf_counter() + BANNER_WAIT_S)
            )
            data, match, too_slow = await _read(stream, pattern, until)
            fields["banner"] = data.decode("utf-8", errors="replace")
            fields["banner_bytes"] = len(data)
            if too_slow is not None:
                findings.append(too_slow.finding())  # "matched" stays null: not judged
            elif pattern is not None:
                fields["matched"] = match is not None
                if match is None:
                    findings.append(
                        Finding(
                            severity=Verdict.CRITICAL,
                            code="tcp_banner_mismatch",
                            message=f"the reply ({len(data)} bytes) does not match /{pattern.source}/",
                            hint="the service answered with something else, or not at all within the timeout",
                        )
                    )
        except RateLimited as exc:
            findings.append(exc.finding(f"{name}:{port} was not contacted"))
        except ResolutionError as exc:
            if exc.monitor_side:
                findings.append(
                    shared.MONITOR_NETWORK_UNAVAILABLE.finding(
                        f"{name}:{port} was not contacted: the name could not be looked up ({exc.reason})"
                    )
                )
            else:
                findings.append(
                    shared.DNS_RESOLUTION_FAILED.finding(f"could not resolve {exc.host}: {exc.reason}")
                )
        except ssl.SSLCertVerificationError as exc:
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code="tls_invalid",
                    message=f"certificate verification failed: {exc.verify_message}",
                )
            )
        except ssl.SSLError as exc:
            message, hint = shared.tls_failure_text(exc.reason, str(exc))
            findings.append(
                Finding(severity=Verdict.CRITICAL, code="tls_invalid", message=message, hint=hint)
            )
        except TimeoutError:
            findings.append(shared.TIMEOUT.finding(f"no connection within {timeout_s:g} s (phase: {phase})"))
        except OSError as exc:
            if exc.errno == errno.ECONNREFUSED:
                findings.append(shared.CONNECT_REFUSED.finding(f"connection refused ({exc.strerror or exc})"))
            elif exc.errno == errno.ECONNRESET:
                findings.append(shared.CONNECT_RESET.finding(f"the connection was reset during {phase}"))
            elif monitor_side(exc):
                findings.append(
                    shared.MONITOR_NETWORK_UNAVAILABLE.finding(
                        f"{name}:{port} was not contacted: {exc.strerror or exc} on this machine"
                    )
                )
            elif phase == "connect":
                findings.append(shared.CONNECT_FAILED.finding(f"connect failed: {exc}"))
            else:
                findings.append(
                    Finding(
                        severity=Verdict.CRITICAL,
                        code="tcp_connection_lost",
                        message=f"{phase} failed: {exc}",
                    )
                )
        except (anyio.BrokenResourceError, anyio.EndOfStream) as exc:
            findings.append(
                Finding(
                    severity=Verdict.CRITICAL,
                    code="tcp_connection_lost",
                    message=f"the connection broke during {phase} ({type(exc).__name__})",
                )
            )
        finally:
            if stream is not None:
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
    if scope.cancelled_caught:
        findings.append(
            shared.TIMEOUT.finding(f"{name}:{port} did not complete within {timeout_s:g} s (phase: {phase})")
        )
    verdict = Verdict.worst([f.severity for f in findings])
    if "connect_ms" in fields and not findings:
        summary = f"ok: {name}:{port} accepted a connection in {fields['connect_ms']} ms"
    else:
        problem = next((f.message for f in sorted(findings, key=lambda f: -f.severity.rank)), "")
        summary = f"{verdict.value}: {name}:{port}: {problem}"
    return TcpCheckResult.build(summary=summary, findings=findings, started=started, **fields)
