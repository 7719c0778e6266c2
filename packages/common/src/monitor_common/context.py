"""The check context: what every check needs from the operator's settings, built once.

`serve` (and the CLI's `call`) builds one `CheckContext` from the settings in force; every tool
hands it to its engine function, which passes it down to where connections are made
(`netpolicy.open_tcp`, the guarded httpx2 transport, dns-monitor's queries). Nothing below the
tools reads the global settings: the layers below see only the context they were given, so a test
builds the context it needs (`CheckContext(policy=..., limiter=RateLimiter(0))`) instead of
swapping process-wide settings.

    policy        which addresses may be dialled (netpolicy.NetworkPolicy)
    resolver      how target names are looked up: the configured DNS server, or None (system)
    resolver_address  that server as the operator wrote it (IP[:port]), for the DNS tools' default
    limiter       the per-host rate limit, one per process, shared by every call
    timeout_s / max_timeout_s   the default and largest timeout of one check (`timeout()`)
    body_cap      most response body bytes a check reads
    unsafe_methods  whether an HTTP check may send methods other than GET, HEAD and OPTIONS
    concurrency / per_host_concurrency / max_targets   the `*_many` limits (`fanout`, `bulk`)
    cert_warn_days / cert_critical_days   when a certificate's expiry is a warning / critical
    dns_asn_zone  the Cymru-style zone dns_delegation asks for nameservers' origin AS ("": off)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Generator, Mapping, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, Final

from monitor_common.config import ENV_PREFIX, Settings, get_settings
from monitor_common.errors import InputError, LimitError
from monitor_common.netpolicy import NetworkPolicy, Resolver
from monitor_common.ratelimit import RateLimiter

__all__ = ["CheckContext", "get_context", "session_context"]

# The settings a refusal tells the operator to raise, named as config declares them.
ENV_MAX_TIMEOUT: Final = f"{ENV_PREFIX}MAX_TIMEOUT_S"
ENV_CONCURRENCY: Final = f"{ENV_PREFIX}CONCURRENCY"
ENV_MAX_TARGETS: Final = f"{ENV_PREFIX}MAX_TARGETS"
ENV_PER_HOST_CONCURRENCY: Final = f"{ENV_PREFIX}PER_HOST_CONCURRENCY"
ENV_RATE_LIMIT_PER_HOST: Final = f"{ENV_PREFIX}RATE_LIMIT_PER_HOST"
ENV_UNSAFE_METHODS: Final = f"{ENV_PREFIX}HTTP_UNSAFE_METHODS"


@dataclass(frozen=True, eq=False)
class CheckContext:
    """The operator's settings as the checks use them (see the module). Compared by identity:
    the shared connection pools are keyed by it, and one is built per process."""

    policy: NetworkPolicy = field(default_factory=NetworkPolicy)
    resolver: Resolver | None = None
    resolver_address: str | None = None
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(0))
    timeout_s: float = 10.0
    max_timeout_s: float = 60.0
    body_cap: int = 1024 * 1024
    unsafe_methods: bool = False
    concurrency: int = 20
    per_host_concurrency: int = 4
    max_targets: int = 1000
    cert_warn_days: int = 21
    cert_critical_days: int = 7
    dns_asn_zone: str = "asn.cymru.com"

    @classmethod
    def from_settings(cls, settings: Settings) -> CheckContext:
        """The context `settings` describe, with a fresh rate limiter and resolver."""
        resolver: Resolver | None = None
        if settings.resolver is not None:
            from monitor_common.netpolicy import dns_resolver
            from monitor_common.targets import parse_host_port

            parsed = parse_host_port(settings.resolver, default_port=53)
            resolver = dns_resolver(str(parsed.host.ip), parsed.port)
        return cls(
            policy=NetworkPolicy(
                allow_private=settings.allow_private,
                allow_networks=settings.allow_networks,
                allow_hosts=settings.allow_hosts,
            ),
            resolver=resolver,
            resolver_address=settings.resolver,
            limiter=RateLimiter(settings.rate_limit_per_host),
            timeout_s=settings.timeout_s,
            max_timeout_s=settings.max_timeout_s,
            body_cap=settings.http_max_body_bytes,
            unsafe_methods=settings.http_unsafe_methods,
            concurrency=settings.concurrency,
            per_host_concurrency=settings.per_host_concurrency,
            max_targets=settings.max_targets,
            cert_warn_days=settings.cert_warn_days,
            cert_critical_days=settings.cert_critical_days,
            dns_asn_zone=settings.dns_asn_zone,
        )

    def replace(self, **changes: Any) -> CheckContext:
        """A copy with `changes` (same limiter unless one is given: the limit stays per process)."""
        return replace(self, **changes)

    def timeout(self, timeout_s: float | None, *, scale: float = 1.0) -> float:
        """The timeout a check should use: the caller's, else the default, never above the maximum.

        `scale` derives a tool's own default from `MCP_MONITOR_TIMEOUT_S` where one call does more
        or less than one check (a single DNS question takes half, a TLS scan's many handshakes
        three times); the README's settings table lists each. It never applies to a caller's value.

        Raises:
            LimitError: `timeout_s` is not positive (NaN included) or above the maximum.
        """
        if timeout_s is None:
            return min(self.timeout_s * scale, self.max_timeout_s)
        if not timeout_s > 0:  # also NaN, which compares false to everything
            raise LimitError(f"timeout_s must be positive, got {timeout_s}: use e.g. timeout_s=10")
        if timeout_s > self.max_timeout_s:
            raise LimitError(
                f"timeout_s={timeout_s} exceeds the server's maximum of {self.max_timeout_s} s: pass a smaller "
                f"value (the operator can raise the limit with {ENV_MAX_TIMEOUT})"
            )
        return timeout_s

    def check_concurrency(self, concurrency: int | None) -> int:
        """The concurrency a bulk call runs at: the caller's, else the server's; above it is refused.

        Raises:
            LimitError: `concurrency` is above the server's maximum.
        """
        if concurrency is None:
            return self.concurrency
        if concurrency > self.concurrency:
            raise LimitError(
                f"concurrency={concurrency} exceeds the server's maximum of {self.concurrency}: pass a "
                f"smaller value (the operator can raise it with {ENV_CONCURRENCY})"
            )
        return concurrency

    def check_targets(
        self, targets: Sized, *, name: str = "targets", example: str = '["example.com"]'
    ) -> None:
        """The one check of a bulk call's list (`monitor_common.bulk`, rule 1): not empty, and at
        most `max_targets` long. `name` is the argument's name, `example` a valid value of it.

        Raises:
            InputError: the list is empty.
            LimitError: it holds more than `max_targets` targets.
        """
        if len(targets) == 0:
            raise InputError(f"{name} is empty: give at least one, e.g. {name}={example}")
        if len(targets) > self.max_targets:
            raise LimitError(
                f"{len(targets)} {name} exceed the limit of {self.max_targets} per call: split the list "
                f"(the operator can raise it with {ENV_MAX_TARGETS})"
            )


_current: tuple[Settings, CheckContext] | None = None

# The setting changes of the session whose tool call runs in this context (Smithery's per-session
# configuration, `session_config`), as sorted (name, value) pairs; empty outside such a call.
_session: ContextVar[tuple[tuple[str, Any], ...]] = ContextVar("monitor_common.session", default=())
# The contexts of the sessions seen, by (process context, changes): a context is the key of the
# shared connection pools, so a session's is built once, not per call. Bounded: a session varies
# at most timeout_s and the two thresholds, and the oldest is dropped past the bound.
_session_contexts: OrderedDict[tuple[CheckContext, tuple[tuple[str, Any], ...]], CheckContext] = OrderedDict()
_SESSION_CONTEXTS_KEPT = 64
# A session's setting name -> the context field it sets.
_SESSION_FIELDS = {
    "timeout_s": "timeout_s",
    "cert_warn_days": "cert_warn_days",
    "cert_critical_days": "cert_critical_days",
}


def get_context() -> CheckContext:
    """The context of the settings in force (`config.get_settings()`), built once per settings,
    with the changes of the session whose call runs here (`session_context`).

    The tool layer calls this; engines receive the context as an argument. Installing other
    settings (`config.set_settings`, as `serve` and the tests do) builds a fresh context, rate
    limiter included, on next use.
    """
    global _current
    settings = get_settings()
    if _current is None or _current[0] is not settings:
        _current = (settings, CheckContext.from_settings(settings))
    changes = _session.get()
    if not changes:
        return _current[1]
    key = (_current[1], changes)
    found = _session_contexts.get(key)
    if found is None:
        found = _current[1].replace(**{_SESSION_FIELDS[name]: value for name, value in changes})
        _session_contexts[key] = found
        while len(_session_contexts) > _SESSION_CONTEXTS_KEPT:
            _session_contexts.popitem(last=False)
    return found


@contextmanager
def session_context(changes: Mapping[str, Any]) -> Generator[None]:
    """Within the block, `get_context()` applies a session's checked setting changes
    (`session_config.session_changes`): timeouts and thresholds only, same policy and limiter."""
    unknown = set(changes) - set(_SESSION_FIELDS)
    if unknown:
        raise ValueError(f"not settable per session: {', '.join(sorted(unknown))}")
    token = _session.set(tuple(sorted(changes.items())))
    try:
        yield
    finally:
        _session.reset(token)
