"""Per-session settings from the query string of `/mcp` (Smithery's session configuration).

A hosted server (Smithery's gateway in front of our container) passes what a user configured for
their connection as URL parameters of every request: `/mcp?timeout_s=5&cert_warn_days=30`. The
rules:

1. Only the keys a server declares (`ToolSet.session_settings`, the same list its smithery.yaml
   offers) are applied: timeouts and expiry thresholds, each parsed as the setting of that name
   is and bounded by the operator's settings (a session's `timeout_s` is at most
   `MCP_MONITOR_MAX_TIMEOUT_S`, as a caller's is). Nothing here can widen the network policy,
   lift a limit or change the store: those stay the operator's.
2. A key that names another setting (`allow_private`, `MCP_MONITOR_ALLOW_NETWORKS`, `db`, ...)
   is refused with a message saying it is the operator's, so that a user who tries to widen the
   policy from the URL learns it did not happen. A bad value of a declared key is refused too.
   The HTTP transport answers both 400 before the request reaches the server (`_http`).
3. Any other key is ignored: the gateway may add parameters of its own (its API key, a profile
   name), and refusing them would refuse every session behind it.
4. The values apply to the tool calls of the request that carries them (`session_changes`,
   `context.session_context`): the check context of that call, with the same network policy and
   rate limiter; a process-wide setting is never touched.

Parsed by hand (a dozen lines over `urllib.parse.parse_qs`): the only rules are the settings'
own parsers from `config`, which a schema library would have to be taught anyway.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from monitor_common.config import ENV_PREFIX, Settings, setting_specs
from monitor_common.errors import InputError

__all__ = ["SESSION_SETTINGS", "parse_query", "session_changes"]

# The settings a session may set, each a timeout or a threshold (rule 1).
SESSION_SETTINGS = ("timeout_s", "cert_warn_days", "cert_critical_days")


def _operator_key(key: str) -> str | None:
    """The setting `key` names (as `allow_private`, `allow-private` or `MCP_MONITOR_ALLOW_PRIVATE`),
    or None when it names none."""
    name = key.strip()
    if name.upper().startswith(ENV_PREFIX):
        name = name[len(ENV_PREFIX) :]
    name = name.lower().replace("-", "_")
    return name if any(spec.attr == name for spec in setting_specs()) else None


def session_changes(
    query: Mapping[str, Sequence[str]], allowed: Collection[str], settings: Settings
) -> dict[str, Any]:
    """The setting changes a session's query asks for, checked (see the module).

    Raises:
        InputError: a key names a setting this server does not let a session set, or a value
            does not parse or is out of bounds.
    """
    specs = {spec.attr: spec for spec in setting_specs()}
    changes: dict[str, Any] = {}
    for key, values in query.items():
        name = _operator_key(key)
        if name is None:
            continue  # rule 3: not ours
        if name not in allowed:
            offered = ", ".join(allowed) or "none"
            raise InputError(
                f"{key} cannot be set per session: it is the operator's setting ({ENV_PREFIX}{name.upper()}). "
                f"A session may set {offered}"
            )
        if all(not value.strip() for value in values):
            continue  # blank, as a form sends a field left empty: the server's own value holds
        if len(values) != 1:
            raise InputError(f"{key} is given {len(values)} times in the URL: give it once")
        try:
            changes[name] = specs[name].parse(values[0].strip())
        except ValueError as exc:
            raise InputError(
                f"{key}={values[0]!r} is not valid: {exc}. Example: {key}={specs[name].example}"
            ) from None
    timeout = changes.get("timeout_s")
    if timeout is not None and timeout > settings.max_timeout_s:
        raise InputError(
            f"timeout_s={timeout:g} is above this server's maximum of {settings.max_timeout_s:g} s: give a smaller one"
        )
    warn = changes.get("cert_warn_days", settings.cert_warn_days)
    critical = changes.get("cert_critical_days", settings.cert_critical_days)
    if critical > warn:
        raise InputError(
            f"cert_critical_days={critical} is above cert_warn_days={warn}: critical must come later"
        )
    return changes


def parse_query(query_string: str | bytes) -> dict[str, list[str]]:
    """A URL's query as a mapping of each key to its values (blank values kept)."""
    from urllib.parse import parse_qs

    text = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
    return parse_qs(text, keep_blank_values=True)
