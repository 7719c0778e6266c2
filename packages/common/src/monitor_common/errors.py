"""The exceptions every monitoring package raises for problems a caller can act on.

A *check* that finds a target down, slow or misconfigured does not raise: it returns a result
with a verdict and findings. These exceptions are for the other cases, where no honest result
can be given: the caller's input is wrong, the network policy forbids the target, or a limit
was exceeded. Their messages are written for the person or model that made the call: what was
wrong and how to fix it. The MCP layer turns each into a `ToolError` with that message; the
`call` CLI prints it on stderr and exits 64 (invalid input) or 3 (anything else unknown).

    MonitorError                  base of everything below
    ├── InputError                an argument is malformed (bad URL, port out of range, ...)
    │   └── TargetError           a target (URL, host, address, host:port) does not parse
    ├── PolicyError               the network policy refuses the address a target leads to
    ├── LimitError                a request exceeds a configured limit (too many targets, ...)
    │   ├── RateLimited           (ratelimit) a request to a host would wait past its deadline;
    │   │                         the engines report it as a `rate_limited` finding instead
    │   └── PatternTooSlow        (patterns) a caller's regular expression did not answer within
    │                             its check's deadline: reported as a `pattern_too_slow` finding
    ├── ConfigError               the server's own settings are malformed (start-up only)
    └── StoreError                the store of watches and history (SQLite, PostgreSQL) cannot be used
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InputError",
    "LimitError",
    "MonitorError",
    "PolicyError",
    "StoreError",
    "TargetError",
]


class MonitorError(Exception):
    """Base of the errors whose message is meant for the caller."""

    @property
    def message(self) -> str:
        return str(self)


class InputError(MonitorError, ValueError):
    """An argument is malformed; the message names it and shows a valid example."""


class TargetError(InputError):
    """A URL, host name, address or host:port does not parse."""


class PolicyError(MonitorError):
    """The network policy refuses to connect to an address.

    The message names the address, why it is refused (loopback, private, ...) and the setting
    that would allow it.
    """

    def __init__(self, message: str, *, address: str, category: str) -> None:
        super().__init__(message)
        self.address = address
        self.category = category


class LimitError(MonitorError):
    """A request exceeds a limit the operator configured (targets per call, timeout, ...)."""


class ConfigError(MonitorError):
    """A setting from the command line or an MCP_MONITOR_* variable is malformed or unknown."""


class StoreError(MonitorError):
    """The store (`MCP_MONITOR_DB`: a SQLite file or a PostgreSQL server) cannot be used.

    The message names the store (never its password) and the reason; the check that led to it
    still ran, the watch tools report that its result could not be kept.
    """
