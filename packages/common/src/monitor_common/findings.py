"""The finding codes the three servers share: one code, severity, meaning and hint per fault.

A refused connection is the same fault whether http_check, tcp_check or cert_check met it, so it
has one code everywhere, built from one entry of this table (`CONNECT_REFUSED.finding(message)`).
Each server keeps its own codes for what only it observes (`hostname_mismatch`, `nxdomain`, ...);
what more than one server reports lives here. The root README lists this table (a test checks
that the two agree), and the project has never been released, so the codes before this table
(`http_connect_refused`, `tcp_timeout`, `http_body_truncated`, ...) were renamed without aliases.

Rules:

1. A finding about the target is never blamed on it when the fault is the monitor's own: with no
   working network (its resolver unreachable, no route out) the check says
   `monitor_network_unavailable`, severity unknown, and nothing about the target.
2. `checked_target=False` marks the codes of a run that did not look at the target at all
   (`rate_limited`, `monitor_network_unavailable`), or could not judge what it saw
   (`pattern_too_slow`: the caller's pattern did not answer in time): a watch run whose findings
   are only these is evidence of nothing and moves the watch neither down nor up
   (`_records.advance_state`).
3. `timeout` names the phase it struck in (dns, connect, tls, first byte, body, ...) in its
   message; the hint may be phase-specific, the code is not.
4. Certificate expiry is judged by one function, `cert_expiry_findings`, with the caller's
   thresholds (`ctx.cert_warn_days` / `ctx.cert_critical_days`, or a tool's own arguments).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from monitor_common.results import Finding, Verdict

__all__ = [
    "BODY_TRUNCATED",
    "CERT_EXPIRED",
    "CERT_EXPIRING_SOON",
    "CONNECT_FAILED",
    "CONNECT_REFUSED",
    "CONNECT_RESET",
    "DNS_RESOLUTION_FAILED",
    "MONITOR_NETWORK_UNAVAILABLE",
    "NOT_CHECKED_CODES",
    "PATTERN_TOO_SLOW",
    "RATE_LIMITED",
    "SHARED",
    "TIMEOUT",
    "VERSION_BANNER",
    "FindingCode",
    "cert_expiry_findings",
    "readme_table",
]


@dataclass(frozen=True)
class FindingCode:
    """One entry of the shared table: the stable `code`, its usual `severity`, what it means and
    what to do about it (`hint`, the default hint of the findings built from it)."""

    code: str
    severity: Verdict
    meaning: str
    hint: str
    checked_target: bool = True
    """False when a finding with this code means the target was not looked at (rule 2)."""

    def finding(self, message: str, *, hint: str | None = None, severity: Verdict | None = None) -> Finding:
        """A finding with this code: `message` says what was observed; `hint` and `severity`
        replace the entry's own where the case calls for a more precise one."""
        return Finding(
            severity=self.severity if severity is None else severity,
            code=self.code,
            message=message,
            hint=self.hint if hint is None else hint,
        )


CONNECT_REFUSED: Final = FindingCode(
    "connect_refused",
    Verdict.CRITICAL,
    "the target refused the TCP connection",
    "nothing listens on that port, or a firewall rejects the connection",
)
CONNECT_RESET: Final = FindingCode(
    "connect_reset",
    Verdict.CRITICAL,
    "the target (or a middlebox) reset the connection",
    "the server or a firewall on the path closes connections abruptly: check its logs and load",
)
CONNECT_FAILED: Final = FindingCode(
    "connect_failed",
    Verdict.CRITICAL,
    "no TCP connection to the target, for another reason than a refusal or a timeout",
    "the host is unreachable from here (no route to it, or it rejects the traffic)",
)
TIMEOUT: Final = FindingCode(
    "timeout",
    Verdict.CRITICAL,
    "the target did not answer within the time allowed; the message names the phase",
    "the server or the path to it is slow, or a firewall drops the traffic",
)
DNS_RESOLUTION_FAILED: Final = FindingCode(
    "dns_resolution_failed",
    Verdict.CRITICAL,
    "the target's name does not resolve: no such name, or no address of the wanted family",
    "check the name for typos and its DNS records",
)
MONITOR_NETWORK_UNAVAILABLE: Final = FindingCode(
    "monitor_network_unavailable",
    Verdict.UNKNOWN,
    "the monitor itself has no working network (its resolver is unreachable or there is no route "
    "out), so nothing was learnt about the target",
    "the problem is on the monitoring side: check the network of the machine running the monitor "
    "and its resolver (MCP_MONITOR_RESOLVER, or the system's)",
    checked_target=False,
)
RATE_LIMITED: Final = FindingCode(
    "rate_limited",
    Verdict.UNKNOWN,
    "this server's per-host rate limit held the request back, so it was not sent",
    "space the calls out, or pass a timeout long enough to wait for a slot",
    checked_target=False,
)
CERT_EXPIRED: Final = FindingCode(
    "cert_expired",
    Verdict.CRITICAL,
    "the certificate's notAfter is in the past",
    "renew the certificate and deploy it (reload the server)",
)
CERT_EXPIRING_SOON: Final = FindingCode(
    "cert_expiring_soon",
    Verdict.WARNING,
    "the certificate expires within the warning threshold (critical within the critical one)",
    "renew it now; check that automatic renewal works",
)
BODY_TRUNCATED: Final = FindingCode(
    "body_truncated",
    Verdict.OK,
    "the response body is longer than the cap; only the first bytes were read and judged",
    "raise MCP_MONITOR_HTTP_MAX_BODY_BYTES if content checks need more",
)

PATTERN_TOO_SLOW: Final = FindingCode(
    "pattern_too_slow",
    # Unknown, not warning: the target may be fine; it is the check that could not be judged.
    Verdict.UNKNOWN,
    "the caller's regular expression did not finish within the check's deadline, so the text was "
    "not judged against it",
    "simplify the pattern (large counted repetitions such as [ab]{999} are slow over a long text), "
    "or give the check a longer timeout",
    checked_target=False,
)
VERSION_BANNER: Final = FindingCode(
    "version_banner",
    Verdict.OK,
    "the server tells anyone its software and version (an HTTP Server or X-Powered-By header, a "
    "nameserver's CHAOS version.bind); a notice, the message quotes what it said",
    "hide version numbers; they tell attackers which exploits to try",
)

SHARED: Final[tuple[FindingCode, ...]] = (
    CONNECT_REFUSED,
    CONNECT_RESET,
    CONNECT_FAILED,
    TIMEOUT,
    DNS_RESOLUTION_FAILED,
    MONITOR_NETWORK_UNAVAILABLE,
    RATE_LIMITED,
    CERT_EXPIRED,
    CERT_EXPIRING_SOON,
    BODY_TRUNCATED,
    PATTERN_TOO_SLOW,
    VERSION_BANNER,
)
"""Every shared code, in the order the README lists them."""

NOT_CHECKED_CODES: Final = frozenset(entry.code for entry in SHARED if not entry.checked_target)
"""The codes of a run that did not look at the target (rule 2)."""


def cert_expiry_findings(
    days_left: float | None,
    not_after: str | None,
    *,
    warn_days: float,
    critical_days: float,
    subject: str = "the certificate",
) -> list[Finding]:
    """`cert_expired`, `cert_expiring_soon` (warning, or critical below `critical_days`) or nothing.

    `days_left` is negative for an expired certificate (None: unknown, nothing is said);
    `not_after` (ISO 8601) is shown in the message; `subject` names the certificate, e.g.
    "the certificate of example.com". The thresholds are the caller's: the context's
    `cert_warn_days` / `cert_critical_days` or a tool's own arguments.
    """
    if days_left is None:
        return []
    when = f" ({not_after})" if not_after else ""
    if days_left < 0:
        return [CERT_EXPIRED.finding(f"{subject} expired {-days_left:.1f} days ago{when}")]
    if days_left < warn_days:
        severity = Verdict.CRITICAL if days_left < critical_days else Verdict.WARNING
        return [
            CERT_EXPIRING_SOON.finding(f"{subject} expires in {days_left:.1f} days{when}", severity=severity)
        ]
    return []


# OpenSSL's reasons when the first bytes back from the server are not a TLS record: the port speaks
# something else (a plain HTTP server answers the ClientHello with "HTTP/1.1 400 ...").
NOT_TLS_REASONS: Final = frozenset(
    {
        "WRONG_VERSION_NUMBER",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
        "UNKNOWN_PROTOCOL",
        "HTTP_REQUEST",
    }
)


def tls_failure_text(reason: str | None, detail: str) -> tuple[str, str]:
    """(message, hint) for a TLS handshake that failed with OpenSSL's `reason` (`detail`: the
    error's text, for a failure without one): the one wording of every server. A reason that
    means the server answered with something other than TLS says so, and what to do."""
    if reason in NOT_TLS_REASONS:
        return (
            f"the server answered the TLS handshake with something that is not TLS (OpenSSL: {reason})",
            "this port speaks another protocol, often plain HTTP: use http:// (or the port that "
            "serves TLS), or STARTTLS if the protocol has it",
        )
    return (
        f"TLS handshake failed: {reason or detail}",
        "the server's TLS configuration rejects this client (versions, ciphers, SNI), or it does not speak TLS",
    )


def readme_table() -> str:
    """The shared table as the root README's Markdown table (a test keeps the two equal)."""
    lines = ["| code | severity | meaning | hint |", "|---|---|---|---|"]
    lines += [f"| `{e.code}` | {e.severity.value} | {e.meaning} | {e.hint} |" for e in SHARED]
    return "\n".join(lines)
