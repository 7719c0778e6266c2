"""Result models of http-monitor's tools. Light on imports: the server declares them at start-up.

Every tool result extends `monitor_common.results.CheckResult` (verdict, summary, findings,
checked_at, duration_ms); the parts several tools share (timings, TLS facts, a redirect hop) are
defined once here.
"""

from __future__ import annotations

from typing import Literal

from monitor_common.results import CheckResult, Verdict
from pydantic import BaseModel, Field

__all__ = [
    "Assertion",
    "BackendRow",
    "HttpCheckManyResult",
    "HttpCheckResult",
    "HttpEachIpResult",
    "HttpRedirectsResult",
    "HttpSecurityHeadersResult",
    "HttpTimingResult",
    "HttpTimings",
    "ManyRow",
    "ObservatoryTest",
    "PhaseStats",
    "RedirectHop",
    "RedirectStep",
    "TcpCheckResult",
    "TimingSample",
    "TlsInfo",
]


class HttpTimings(BaseModel):
    """Where the time went, in milliseconds. Phases of the last request; null when it never got there,
    or for the phase a failed request was in (as curl keeps the phases a timed-out transfer completed)."""

    dns: float | None = Field(
        default=None, description="Resolving the host name (0 for an IP or a reused answer)"
    )
    connect: float | None = Field(default=None, description="TCP handshake (0 on a reused connection)")
    tls: float | None = Field(default=None, description="TLS handshake (0 for http or a reused connection)")
    ttfb: float | None = Field(
        default=None,
        description="From sending the request to the response headers: server time plus a round trip",
    )
    transfer: float | None = Field(default=None, description="Reading the response body")
    redirects: float = Field(default=0.0, description="Time spent on the earlier redirect hops")
    total: float = Field(
        description="The requests alone, redirects included: resolve to last body byte, no local set-up"
    )


class TlsInfo(BaseModel):
    """The TLS session and the server certificate of an https connection."""

    version: str | None = Field(default=None, description="e.g. TLSv1.3")
    cipher: str | None = Field(default=None, description="e.g. TLS_AES_256_GCM_SHA384")
    alpn: str | None = Field(default=None, description="Negotiated application protocol, e.g. h2")
    not_after: str | None = Field(default=None, description="Certificate expiry, ISO 8601 UTC")
    days_left: float | None = Field(default=None, description="Days until the certificate expires")
    cert_sha256: str | None = Field(default=None, description="SHA-256 fingerprint of the leaf certificate")


class RedirectHop(BaseModel):
    """One redirect response that was followed."""

    url: str
    status_code: int
    location: str | None = None


class Assertion(BaseModel):
    """One expectation about the response and whether it held."""

    what: str = Field(description='What was tested, e.g. "status", "body contains", "json data.status"')
    expected: str
    actual: str | None = None
    passed: bool


class HttpCheckResult(CheckResult):
    """What `http_check` saw."""

    url: str = Field(description="The URL checked (credentials redacted)")
    final_url: str | None = Field(default=None, description="The URL of the last response, after redirects")
    status_code: int | None = Field(
        default=None, description="Status of the last response; null if none came"
    )
    reason: str | None = Field(default=None, description="Reason phrase of the last response")
    http_version: str | None = Field(default=None, description="HTTP/1.1 or HTTP/2")
    remote_ip: str | None = Field(default=None, description="Address the last response came from")
    redirect_count: int = Field(default=0, description="Redirects followed")
    redirects: list[RedirectHop] = Field(default_factory=lambda: list[RedirectHop]())
    headers: dict[str, str] = Field(
        default_factory=lambda: dict[str, str](), description="Selected headers of the last response"
    )
    body_bytes: int | None = Field(default=None, description="Size of the decoded response body read")
    body_truncated: bool = Field(default=False, description="The body was longer than the cap and was cut")
    tls: TlsInfo | None = None
    timings_ms: HttpTimings | None = None
    assertions: list[Assertion] = Field(default_factory=lambda: list[Assertion]())


class ManyRow(BaseModel):
    """One URL of `http_check_many`."""

    url: str
    verdict: Verdict
    status_code: int | None = None
    total_ms: float | None = None
    summary: str


class HttpCheckManyResult(CheckResult):
    """What `http_check_many` saw, worst rows first."""

    counts: dict[str, int] = Field(description="How many URLs got each verdict")
    rows: list[ManyRow]


class PhaseStats(BaseModel):
    """One phase over all successful samples, in milliseconds."""

    min: float
    median: float
    p95: float
    max: float


class TimingSample(BaseModel):
    """One sample of `http_timing`: a fresh connection, start to end."""

    status_code: int | None = None
    remote_ip: str | None = None
    timings_ms: HttpTimings | None = None
    error: str | None = Field(default=None, description="Finding code when the sample failed")


class HttpTimingResult(CheckResult):
    """Phase timings of `http_timing` over several fresh connections."""

    url: str
    samples: list[TimingSample]
    phases_ms: dict[str, PhaseStats] = Field(description="dns, connect, tls, ttfb, transfer and total")
    slowest_phase: str | None = Field(default=None, description="The phase with the largest median")
    jitter_ms: float | None = Field(
        default=None, description="Mean absolute difference between consecutive samples' totals"
    )


class BackendRow(BaseModel):
    """One address of `http_check_each_ip`."""

    ip: str
    family: Literal["IPv4", "IPv6"]
    verdict: Verdict
    status_code: int | None = None
    total_ms: float | None = None
    body_sha256: str | None = None
    cert_sha256: str | None = None
    summary: str


class HttpEachIpResult(CheckResult):
    """Every address of a name, checked with the same Host and SNI."""

    url: str
    backends: list[BackendRow]


class RedirectStep(BaseModel):
    """One hop of `http_redirects`."""

    url: str
    status_code: int | None = None
    location: str | None = None
    time_ms: float | None = None
    hsts: str | None = Field(default=None, description="The Strict-Transport-Security header, if sent")
    cert_days_left: float | None = None
    remote_ip: str | None = None


class HttpRedirectsResult(CheckResult):
    """The redirect chain of a URL, hop by hop."""

    url: str
    final_url: str | None = None
    hops: list[RedirectStep]


class ObservatoryTest(BaseModel):
    """One test of the MDN HTTP Observatory's scoring and the result the page got."""

    test: str = Field(description="e.g. content-security-policy")
    result: str = Field(description="The Observatory's result name")
    passed: bool
    modifier: int = Field(description="Points this result adds to or takes from 100")
    data: str | None = None


class HttpSecurityHeadersResult(CheckResult):
    """The Observatory's ten tests on a host's page, its score and grade."""

    url: str
    final_url: str | None = None
    status_code: int | None = None
    grade: str | None = Field(default=None, description="A+ to F; null when not graded")
    score: int | None = Field(default=None, description="100 plus modifiers; over 100 with bonuses")
    tests: list[ObservatoryTest] = Field(default_factory=lambda: list[ObservatoryTest]())


class TcpCheckResult(CheckResult):
    """What `tcp_check` saw."""

    host: str
    port: int
    remote_ip: str | None = None
    connect_ms: float | None = None
    tls: TlsInfo | None = None
    tls_ms: float | None = None
    banner: str | None = Field(default=None, description="First bytes received (capped), decoded leniently")
    banner_bytes: int = 0
    matched: bool | None = Field(default=None, description="Whether expect_regex matched; null without it")
