"""Where a watch's notifications go: Apprise URLs, how they are shown, and who may name which.

Three sources, resolved when a transition is recorded (`resolve_targets`):

- `MCP_MONITOR_NOTIFY`: the operator's URLs, for every watch; shown as `MCP_MONITOR_NOTIFY #1`
  (a caller never reads an operator's URL back, not even its host);
- `MCP_MONITOR_NOTIFY_TARGETS=name=url,...`: the operator's named URLs, which a watch's `notify`
  names; shown by name;
- a URL in a watch's `notify`, given by the caller: subject to the network policy like any
  target (`check_caller_url` when the watch is added, `check_destination` again before each
  send), shown as `scheme://host` at most (`shown_url`).

Apprise URLs carry their secrets anywhere: `json://user:pass@host/path`, `tgram://TOKEN/chat`,
`slack://tokA/tokB/tokC`. So a URL is never shown with more than its scheme and, when the host
is a network address (an IP literal or a dotted name), the host and port: userinfo, path and
query are dropped, and a host that is not a network address (a token) becomes `***`. Logs get
the same protection from `SecretsFilter`, which hides every fragment of every notify URL this
process has seen (`remember`), whichever library logs it (Apprise at debug level logs the URL
it posts to, urllib3 the request line).

Residual risk of the send-time check: the host is resolved and checked just before Apprise
sends, but Apprise (requests) resolves the name again when it connects. A name whose DNS answer
changes between the two lookups (DNS rebinding) could still reach an internal address; the
policy refuses address literals outright. Operators who let callers add watches on an untrusted
DNS should leave `notify` URLs to `MCP_MONITOR_NOTIFY_TARGETS`.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

from monitor_common.errors import InputError, PolicyError, TargetError

if TYPE_CHECKING:
    from monitor_common.netpolicy import NetworkPolicy, Resolver

__all__ = [
    "MAX_NOTIFY",
    "NotifyTarget",
    "SecretsFilter",
    "check_caller_url",
    "check_destination",
    "check_operator_url",
    "check_target_name",
    "install_secrets_filter",
    "is_url",
    "network_host",
    "remember",
    "resolve_targets",
    "shown_entry",
    "shown_url",
]

MAX_NOTIFY: Final = 10  # entries in one watch's notify
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]{0,31})://", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Apprise schemes that notify this machine rather than a service over the network (desktop
# notifications, the local syslog): not for a caller, whose watch may run on a server.
_LOCAL_SCHEMES: Final = frozenset(
    {"dbus", "kde", "qt", "glib", "gnome", "macosx", "windows", "syslog", "blink1", "dot"}
)
_MIN_SECRET = 4  # shorter fragments ("api", "v1") would hide ordinary words in every log line


@dataclass(frozen=True)
class NotifyTarget:
    """One place a notification goes: the URL (secret), how it is shown, and whether the network
    policy applies to it (a caller's URL) or not (the operator's)."""

    url: str
    shown: str
    checked: bool


def is_url(entry: str) -> bool:
    return _SCHEME.match(entry.strip()) is not None


def _split(url: str) -> tuple[str, str, str]:
    """(scheme, userinfo, host[:port]) of an Apprise URL, without parsing its plugin's syntax."""
    match = _SCHEME.match(url)
    if match is None:
        raise ValueError("expected an Apprise URL such as json://host/path or mailto://user:pw@host")
    rest = url[match.end() :]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfo, _, hostport = authority.rpartition("@")
    return match.group(1).lower(), userinfo, hostport


def network_host(url: str) -> tuple[str, str | None] | None:
    """(host, port) when the URL's host is a network address (an IP literal in any spelling, or
    a dotted or `localhost` name), else None: the host of `tgram://TOKEN/chat` is a token and
    the plugin connects to its own service."""
    from monitor_common.targets import parse_hostname, parse_ip

    try:
        _, _, hostport = _split(url)
    except ValueError:
        return None
    host, port = hostport, None
    if hostport.startswith("["):
        host, _, after = hostport[1:].partition("]")
        port = after[1:] if after.startswith(":") else None
    elif hostport.count(":") == 1:
        head, _, tail = hostport.partition(":")
        if tail.isdigit() or not tail:
            host, port = head, tail or None
    host = unquote(host)
    if not host:
        return None
    try:
        if parse_ip(host) is not None:
            return host, port
        name = parse_hostname(host)
    except TargetError:
        return None
    return (name, port) if "." in name or name == "localhost" else None


def shown_url(url: str) -> str:
    """`scheme://host[:port]` when the host is a network address, else `scheme://***`; never the
    userinfo, path or query, which hold the secrets of most Apprise URLs."""
    try:
        scheme, _, _ = _split(url.strip())
    except ValueError:
        return "***"
    found = network_host(url.strip())
    if found is None:
        return f"{scheme}://***"
    host, port = found
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def shown_entry(entry: str) -> str:
    """An entry of a watch's `notify` as listings show it: a target's name as is, a URL redacted."""
    return shown_url(entry) if is_url(entry) else entry


def check_operator_url(url: str) -> str:
    """Raise ValueError unless `url` looks like an Apprise URL (the settings' parser)."""
    _split(url.strip())
    remember(url)
    return url.strip()


def check_target_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"target name {name!r} must be letters, digits, '-', '_' or '.', e.g. ops")
    return name


def _plugin_ok(url: str) -> bool:
    """Whether Apprise has a plugin that accepts `url` (imports Apprise: only when needed)."""
    from monitor_common.notify._apprise import load_apprise

    apprise: Any = load_apprise()
    return apprise.Apprise.instantiate(url) is not None


async def check_destination(url: str, policy: NetworkPolicy, resolver: Resolver | None) -> None:
    """Raise PolicyError when a caller's URL leads to an address the policy refuses: its host as
    an address literal, or every address its name resolves to. A URL whose host is not a network
    address (a token) goes to the plugin's own service and is not checked."""
    from monitor_common.netpolicy import ResolutionError, resolve

    found = network_host(url)
    if found is None:
        return
    try:
        await resolve(found[0], policy, resolver=resolver)
    except ResolutionError as exc:
        raise InputError(f"the notify URL's host does not resolve: {exc}") from None


async def check_caller_url(url: str, policy: NetworkPolicy, resolver: Resolver | None) -> str:
    """A caller's notify URL, validated: an Apprise URL of a network service whose host the
    policy permits. Raises InputError (or PolicyError with the usual message)."""
    import anyio.to_thread

    url = url.strip()
    try:
        scheme, _, _ = _split(url)
    except ValueError as exc:
        raise InputError(f"notify entry {shown_url(url)!r}: {exc}") from None
    remember(url)
    if scheme in _LOCAL_SCHEMES:
        raise InputError(f"notify URL {scheme}:// notifies this machine itself: use a network service")
    if not await anyio.to_thread.run_sync(_plugin_ok, url):
        raise InputError(
            f"notify URL {shown_url(url)} is not an Apprise URL Apprise can use: check its syntax "
            "(e.g. json://host/path, mailto://user:pw@host, ntfy://host/topic)"
        )
    try:
        await check_destination(url, policy, resolver)
    except PolicyError as exc:
        raise PolicyError(
            f"notify URL {shown_url(url)}: {exc}", address=exc.address, category=exc.category
        ) from None
    return url


def resolve_targets(
    entries: Sequence[str],
    everyone: Sequence[str],
    named_targets: Sequence[tuple[str, str]],
    *,
    callers: bool = True,
) -> list[NotifyTarget]:
    """The targets of a watch whose `notify` is `entries`: the operator's URLs for every watch
    (`everyone`, MCP_MONITOR_NOTIFY) first, then each entry (a name of `named_targets`,
    MCP_MONITOR_NOTIFY_TARGETS, or a URL), without duplicates. A name the settings no longer
    declare is skipped (the watch outlived a configuration change). `callers`: the URLs are a
    caller's, checked against the network policy when sent; False for a watch the operator's
    watches file declares."""
    named = dict(named_targets)
    targets: list[NotifyTarget] = []
    seen: set[str] = set()

    def add(url: str, shown: str, checked: bool) -> None:
        if url not in seen:
            seen.add(url)
            remember(url)
            targets.append(NotifyTarget(url, shown, checked))

    for index, url in enumerate(everyone, 1):
        add(url, f"MCP_MONITOR_NOTIFY #{index}", False)
    for entry in entries:
        if is_url(entry):
            add(entry, shown_url(entry), callers)
        elif entry in named:
            add(named[entry], entry, False)
    return targets


# --- keeping the secrets out of logs ---------------------------------------------------------------

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None


def _fragments(url: str) -> set[str]:
    """The parts of `url` that may be secret: userinfo, a host that is not a network address,
    every path segment and query value, raw and percent-decoded."""
    try:
        _, userinfo, hostport = _split(url)
    except ValueError:
        return set()
    match = _SCHEME.match(url)
    assert match is not None
    rest = url[match.end() + len(userinfo) + (1 if userinfo else 0) + len(hostport) :]
    parts = set(re.split(r"[/?#&=:;,]", userinfo)) | {userinfo}
    if network_host(url) is None:
        parts |= {hostport, *hostport.split(":")}
    parts |= set(re.split(r"[/?#&=]", rest))
    parts |= {unquote(p) for p in parts}
    return {p for p in parts if len(p) >= _MIN_SECRET}


def remember(url: str) -> None:
    """Add the secret fragments of `url` to those `SecretsFilter` hides."""
    global _pattern
    fragments = _fragments(url) - _secrets
    if not fragments:
        return
    with _secrets_lock:
        _secrets.update(fragments)
        ordered = sorted(_secrets, key=len, reverse=True)  # the longest first: no partial leftovers
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def hide(text: str) -> str:
    """`text` with every remembered secret fragment replaced by `***`."""
    pattern = _pattern
    return text if pattern is None else pattern.sub("***", text)


class SecretsFilter(logging.Filter):
    """Hides the secrets of notify URLs in log records, whichever library wrote them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _pattern is None:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        shown = hide(message)
        if shown != message:
            record.msg, record.args = shown, None
        if record.exc_info and record.exc_info[1] is not None:
            # The traceback text is formatted later from the exception: hide it now.
            record.exc_text = hide(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def install_secrets_filter() -> None:
    """Put `SecretsFilter` on every handler of the root logger (after logging is configured)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretsFilter) for f in handler.filters):
            handler.addFilter(SecretsFilter())
