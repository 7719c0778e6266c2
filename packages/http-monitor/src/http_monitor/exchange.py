"""One URL fetched hop by hop: redirects followed by hand, bodies read up to a cap, failures as findings.

Redirects are followed here rather than by httpx2 so that each hop can be resolved and timed on
its own, recorded (URL, status, Location, headers, TLS), checked for loops, and refused by the
network policy as a finding of the check rather than an error of the call. `Walk.run` records
its progress as it goes, so a caller that cancels it at its deadline can still say which phase
the request was in, which hops had been seen and, as curl does, which phases of the request in
flight had completed and how many body bytes had come (`Walk.progress`).

The time a walk reports (`Walk.request_ms`) is the target's: each hop's clock starts right before
its name lookup and stops at the end of its body. Local set-up (the system trust store, which the
first https request of a process would otherwise build inside its TLS phase) happens before the
clock starts, and the waits for a rate-limit slot are taken out.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from monitor_common.errors import PolicyError, TargetError
from monitor_common.fetch import read_capped
from monitor_common.findings import (
    CONNECT_FAILED,
    CONNECT_REFUSED,
    CONNECT_RESET,
    DNS_RESOLUTION_FAILED,
    MONITOR_NETWORK_UNAVAILABLE,
    TIMEOUT,
    tls_failure_text,
)
from monitor_common.netpolicy import ResolutionError, monitor_side
from monitor_common.ratelimit import RateLimited, wait_meter
from monitor_common.results import Finding, Verdict
from monitor_common.targets import parse_url, redact_url

from http_monitor._firstbytes import first_bytes, not_http_finding
from http_monitor._trace import PhaseTrace
from http_monitor.models import TlsInfo
from http_monitor.session import Session
from http_monitor.tls import tls_info

if TYPE_CHECKING:
    import httpx2

__all__ = ["Hop", "Progress", "Walk", "failure_finding", "timeout_finding"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# The failures of a server that closed or reset the connection, or sent what HTTP cannot parse:
# a port that speaks another protocol ends so (see `_firstbytes`).
_CLOSED_CODES = frozenset({"http_protocol_error", CONNECT_RESET.code})
HEADER_CAP = 100 * 1024
"""The largest response head read (httpcore2's h11 limit); a bigger one is `http_headers_too_large`."""


class _DnsTimeout(Exception):
    """The name lookup ran out of the check's time (rather than failing)."""


@dataclass
class Hop:
    """One request and the response it got (body read only for the last hop)."""

    url: str  # redacted
    method: str
    status_code: int
    reason: str
    http_version: str
    headers: httpx2.Headers
    location: str | None
    remote_ip: str | None
    tls: TlsInfo | None
    dns_ms: float | None
    connect_ms: float
    tls_ms: float
    ttfb_ms: float | None
    transfer_ms: float | None = None
    elapsed_ms: float = 0.0
    body: bytes = b""
    body_truncated: bool = False


@dataclass
class Progress:
    """How far the request in flight got; kept by the walk when it fails or runs out of time.

    As curl keeps `time_namelookup`, `time_connect`, ... of a transfer that timed out, the phases
    that completed keep their times and only the one the request was in (and those after it) are
    None. `hop` is the response once its head came (the body is what did not finish), and
    `body_bytes` how many bytes of the body had come off the wire by then (curl's size_download).
    """

    url: str  # redacted
    https: bool
    dns_ms: float | None = None
    trace: PhaseTrace | None = None
    connect_waited_s: float = 0.0
    hop: Hop | None = None
    body_bytes: int = 0

    def request_s(self, end: float) -> float:
        """The target's time until `end`: the name lookup, then from the first step on the network
        (connect, or sending on a reused connection) on. Building the request, taking a pooled
        connection and waiting for a rate-limit slot before that are this server's time."""
        spent = (self.dns_ms or 0.0) / 1000
        first = self.trace.first if self.trace is not None else None
        if first is not None:
            spent += max(end - first - self.connect_waited_s, 0.0)
        return spent

    def phases(self) -> dict[str, float | None]:
        """dns, connect, tls and ttfb in ms: the time of each phase completed, None for the others."""
        if self.hop is not None:
            hop = self.hop
            return {"dns": hop.dns_ms, "connect": hop.connect_ms, "tls": hop.tls_ms, "ttfb": hop.ttfb_ms}
        connect = tls = ttfb = None
        trace = self.trace
        if trace is not None:
            # A request that went out had a connection: a reused one when none was opened.
            sent = "send_request_headers" in trace.started
            if "connect_tcp" in trace.completed:
                connect = round(max(trace.span_ms("connect_tcp") - self.connect_waited_s * 1000, 0.0), 2)
            elif sent:
                connect = 0.0
            if "start_tls" in trace.completed:
                tls = trace.span_ms("start_tls")
            elif sent or (connect is not None and not self.https):
                tls = 0.0
            ttfb = trace.ttfb_ms()
        return {"dns": self.dns_ms, "connect": connect, "tls": tls, "ttfb": ttfb}


@dataclass
class Walk:
    """Fetch a URL, following redirects up to `max_redirects` when `follow` is set.

    After `run`, `hops` holds every response in order and `failure` the finding that stopped
    the walk (None when the last hop's response was read). `phase` is where the walk is now.
    `details=False` leaves out what only a full result shows (each hop's remote address), for
    the bulk checks whose rows do not. `waited_s` is the time its hops spent waiting for a slot
    of the per-host rate limit: this server's pacing, not the target's time; `request_ms` the
    time the target took, every hop (the one in flight at a failure included), waits left out.
    `progress` is the request in flight when the walk stopped on a failure (None otherwise).
    """

    session: Session
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    follow: bool = True
    max_redirects: int = 10
    body_cap: int = 1024 * 1024
    timeout: float = 10.0
    read_body: bool = True
    details: bool = True
    hops: list[Hop] = field(default_factory=lambda: list[Hop](), init=False)
    failure: Finding | None = field(default=None, init=False)
    current_url: str = field(default="", init=False)
    trace: PhaseTrace | None = field(default=None, init=False)
    waited_s: float = field(default=0.0, init=False)
    progress: Progress | None = field(default=None, init=False)
    _request_s: float = field(default=0.0, init=False)
    _phase: str | None = field(default="dns", init=False)
    # The cookies of this walk only: set by one hop, sent on the next (as a new visitor's browser
    # does); the session's clients keep none, so no cookie outlives its walk or reaches another call.
    _cookies: httpx2.Cookies | None = field(default=None, init=False)

    @property
    def request_ms(self) -> float:
        """The target's time: every hop from its name lookup to its last body byte, waits left out."""
        return round(self._request_s * 1000, 2)

    @property
    def phase(self) -> str:
        if self._phase is not None or self.trace is None:
            return self._phase or "waiting for a connection"
        return self.trace.phase

    async def run(self, url: str) -> None:
        """Walk from `url`. PolicyError propagates for the first hop only; later ones are findings."""
        import httpx2

        method = self.method
        next_url = httpx2.URL(url)
        self._cookies = httpx2.Cookies()
        seen: set[tuple[str, str]] = set()
        deadline = time.perf_counter() + self.timeout
        while True:
            self.current_url = redact_url(str(next_url))
            seen.add((method, str(next_url)))
            try:
                hop = await self._fetch(next_url, method, deadline)
            except PolicyError as exc:
                if not self.hops:
                    raise
                self.failure = Finding(
                    severity=Verdict.CRITICAL,
                    code="redirect_blocked",
                    message=f"a redirect leads to {self.current_url}, which was not fetched: {exc}",
                    hint="a redirect into an internal address is refused like the address itself",
                )
                return
            except _DnsTimeout:
                self.failure = timeout_finding("dns", self.timeout, self.current_url)
                return
            except RateLimited as exc:
                self.failure = exc.finding(f"{self.current_url} was not requested")
                return
            except (ResolutionError, httpx2.HTTPError, httpx2.InvalidURL) as exc:
                self.failure = failure_finding(exc, self.phase, self.current_url, timeout=self.timeout)
                if self.failure.code in _CLOSED_CODES and self.trace is not None:
                    # Closed or broken before a valid response: say what came, if it was not HTTP.
                    other = not_http_finding(first_bytes(self.trace.stream), self.current_url)
                    self.failure = other or self.failure
                return
            self.hops.append(hop)
            if not self.follow or hop.status_code not in REDIRECT_STATUSES or hop.location is None:
                return
            try:
                target = next_url.join(hop.location)
                parse_url(str(target))
            except (httpx2.InvalidURL, TargetError) as exc:
                self.failure = Finding(
                    severity=Verdict.CRITICAL,
                    code="redirect_invalid",
                    message=f"{hop.url} redirects to {hop.location!r}, which is not an http(s) URL: {exc}",
                    hint="fix the Location header of that response",
                )
                return
            if hop.status_code == 303 or (hop.status_code in (301, 302) and method == "POST"):
                method = "GET"  # what browsers do
            if (method, str(target)) in seen:
                self.failure = Finding(
                    severity=Verdict.CRITICAL,
                    code="redirect_loop",
                    message=f"redirect loop: {hop.url} leads back to {redact_url(str(target))}",
                    hint="fix the redirect rules so that the chain ends at a page that answers",
                )
                return
            if len(self.hops) > self.max_redirects:
                self.failure = Finding(
                    severity=Verdict.CRITICAL,
                    code="too_many_redirects",
                    message=f"more than {self.max_redirects} redirects (next: {redact_url(str(target))})",
                    hint="shorten the redirect chain, or raise max_redirects if it is intended",
                )
                return
            if target.raw_host != next_url.raw_host:
                # Credentials are for the origin that asked for them, as browsers and httpx2 do.
                self.headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("authorization", "cookie")
                }
            next_url = target

    async def _fetch(self, url: httpx2.URL, method: str, deadline: float) -> Hop:
        https = url.scheme == "https"
        if https:
            self.session.prepare_tls()  # local set-up, before this hop's clock starts
        progress = Progress(url=redact_url(str(url)), https=https)
        self.progress = progress
        try:
            hop = await self._exchange(url, method, deadline, progress, time.perf_counter())
        finally:
            # Also when the walk is cancelled at its deadline: the time the target had is counted.
            self._request_s += progress.request_s(time.perf_counter())
        self.progress = None
        hop.elapsed_ms = round(progress.request_s(time.perf_counter()) * 1000, 2)
        return hop

    async def _exchange(
        self, url: httpx2.URL, method: str, deadline: float, progress: Progress, started: float
    ) -> Hop:
        import httpx2

        # The phase timeouts end a little before the caller's deadline, so that the lookup and
        # httpcore2 time out by themselves and close what they opened: httpcore2 leaks the socket
        # of a TLS handshake that is cancelled from outside. The deadline stays the backstop.
        margin = min(0.05, self.timeout / 20)
        self._phase = "dns"
        self.trace = None
        budget = max(deadline - started - margin, 0.001)
        try:
            dns_ms = await self.session.resolve(url.raw_host.decode("ascii"), budget)
        except ResolutionError as exc:
            if not exc.monitor_side and time.perf_counter() - started >= budget * 0.99:
                raise _DnsTimeout from None  # the lookup used up the check's time: a timeout
            raise
        progress.dns_ms = dns_ms
        trace = PhaseTrace()
        self.trace = progress.trace = trace
        self._phase = None
        remaining = max(deadline - time.perf_counter() - margin, 0.001)
        request = self.session.client.build_request(
            method,
            url,
            headers=self.headers,
            extensions={"trace": trace},
            timeout=httpx2.Timeout(remaining),
        )
        if self._cookies is not None:
            # Set from the walk's own jar: httpx2 merges request cookies into a copy of the
            # client's jar, whose policy (nothing kept, see session._no_cookies) drops them.
            self._cookies.set_cookie_header(request)
        with wait_meter() as meter:  # the wait for a rate-limit slot is not the server's time
            try:
                response = await self.session.client.send(request, stream=True)
            finally:
                progress.connect_waited_s = meter.connect_waited_s
        self.waited_s += meter.waited_s
        try:
            headers_at = time.perf_counter()
            if self._cookies is not None and "set-cookie" in response.headers:
                self._cookies.extract_cookies(response)
            stream: Any = response.extensions.get("network_stream")
            hop = Hop(
                url=progress.url,
                method=method,
                status_code=response.status_code,
                reason=response.reason_phrase or _reason_phrase(response.status_code),
                http_version=response.http_version,
                headers=response.headers,
                location=response.headers.get("location"),
                remote_ip=_remote_ip(stream) if self.details else None,
                tls=_tls(stream) if url.scheme == "https" else None,
                dns_ms=dns_ms,
                # A wait for the dialled address's rate-limit slot happens inside the connect span.
                connect_ms=round(max(trace.span_ms("connect_tcp") - meter.connect_waited_s * 1000, 0.0), 2),
                tls_ms=trace.span_ms("start_tls"),
                ttfb_ms=trace.ttfb_ms(),
            )
            progress.hop = hop
            is_redirect = self.follow and response.status_code in REDIRECT_STATUSES
            if self.read_body and not is_redirect and method != "HEAD":
                self._phase = "body"
                await self._read_body(response, hop)
                hop.transfer_ms = round((time.perf_counter() - headers_at) * 1000, 2)
            else:
                hop.transfer_ms = 0.0
        finally:
            progress.body_bytes = response.num_bytes_downloaded
            await response.aclose()
        return hop

    async def _read_body(self, response: httpx2.Response, hop: Hop) -> None:
        # The bounded read of `monitor_common.fetch` (rule 2), not `fetch` itself: this walk keeps
        # its own clock and connection pool, reads the decoded body a check asserts on, and a body
        # over the cap is a warning of the check (`body_truncated`), not a failed fetch.
        hop.body, hop.body_truncated = await read_capped(response.aiter_bytes(), self.body_cap)


def _reason_phrase(status: int) -> str:
    # HTTP/2 has no reason phrases, and some HTTP/1.1 servers send none: use the standard one.
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _tls(stream: Any) -> TlsInfo | None:
    return tls_info(stream.get_extra_info("ssl_object")) if stream is not None else None


def _remote_ip(stream: Any) -> str | None:
    if stream is None:
        return None
    address = stream.get_extra_info("server_addr")
    if isinstance(address, tuple) and address:
        return str(address[0])  # pyright: ignore[reportUnknownArgumentType]
    return None


def timeout_finding(phase: str, timeout: float | None, url: str) -> Finding:
    """`timeout` naming the phase the request was in when time ran out."""
    limit = f" within {timeout:g} s" if timeout is not None else ""
    return TIMEOUT.finding(
        f"{url} did not complete{limit}: timed out in phase {phase}",
        hint=_TIMEOUT_HINTS.get(phase, "the server or the network path is slow"),
    )


_TIMEOUT_HINTS = {
    "dns": "the name server is slow or not answering",
    "connect": "the host does not answer on that port: down, or a firewall drops packets",
    "tls": "the TLS handshake stalls: an overloaded server or a middlebox",
    "first byte": "the server accepted the request but is slow to answer: check the application",
    "body": "the response body arrives too slowly",
}


def failure_finding(exc: Exception, phase: str, url: str, *, timeout: float | None = None) -> Finding:
    """The finding for an exception that ended a request: DNS, timeout, refused, TLS, protocol,
    or the monitor's own network (`monitor_network_unavailable`, see `netpolicy.monitor_side`).
    `timeout` is the deadline a timeout is named against: the request's own timeouts end just
    before it (see `Walk._exchange`), so they read as the deadline's, whichever fired first."""
    import httpx2

    if monitor_side(exc):
        return MONITOR_NETWORK_UNAVAILABLE.finding(f"{url} was not requested: {_detail(exc)}")
    if isinstance(exc, ResolutionError):
        return DNS_RESOLUTION_FAILED.finding(f"could not resolve {exc.host}: {exc.reason}")
    if isinstance(exc, httpx2.TimeoutException):
        named = phase
        if isinstance(exc, httpx2.ConnectTimeout):
            named = "tls" if phase == "tls" else "connect"
        elif isinstance(exc, httpx2.WriteTimeout):
            named = "sending the request"
        elif isinstance(exc, httpx2.PoolTimeout):
            named = "waiting for a connection"
        return timeout_finding(named, timeout, url)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return Finding(
                severity=Verdict.CRITICAL,
                code="tls_invalid",
                message=f"certificate verification failed: {cause.verify_message}",
                hint="check the certificate chain and host name (ssl-monitor's cert_check says more)",
            )
        if isinstance(cause, ssl.SSLError):
            message, hint = tls_failure_text(cause.reason, str(cause))
            return Finding(severity=Verdict.CRITICAL, code="tls_invalid", message=message, hint=hint)
        if isinstance(cause, ConnectionRefusedError | ConnectionResetError):
            break
        cause = cause.__cause__ or cause.__context__
    text = str(exc) or type(exc).__name__
    if "buffer too long" in text.lower():  # h11's cap on the response head
        return Finding(
            severity=Verdict.CRITICAL,
            code="http_headers_too_large",
            message=f"the response headers exceed {HEADER_CAP // 1024} KiB, the most this client reads",
            hint="the server sends runaway headers (huge cookies, a header loop)",
        )
    if isinstance(cause, ConnectionResetError):  # httpx2's ReadError says only its name
        return CONNECT_RESET.finding(f"the server reset the connection during {phase}")
    if isinstance(exc, httpx2.ConnectError):
        if isinstance(cause, ConnectionRefusedError) or "refused" in text.lower():
            return CONNECT_REFUSED.finding(f"connection refused ({text})")
        return CONNECT_FAILED.finding(f"could not connect: {text}")
    return Finding(
        severity=Verdict.CRITICAL,
        code="http_protocol_error",
        message=f"broken response during {phase} ({type(exc).__name__}: {text})",
        hint="the server sent something that is not valid HTTP or closed the connection early",
    )


def _detail(exc: BaseException) -> str:
    if isinstance(exc, ResolutionError):
        return f"the name {exc.host} could not be looked up ({exc.reason})"
    return f"could not connect ({exc or type(exc).__name__}): this machine has no route to it"
