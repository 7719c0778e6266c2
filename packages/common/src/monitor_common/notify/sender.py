"""Sending one notification to one Apprise URL, and what came of it.

    outcome = await send(target, "DOWN: homepage", "...", policy=ctx.policy, resolver=ctx.resolver)
    outcome.delivered, outcome.detail, outcome.permanent

Apprise does the sending (more than a hundred services, the URL syntax operators know); it is
synchronous (requests, smtplib), so each send runs in a worker thread of its own limiter, never
the one the SQLite store's threads use, within `SEND_TIMEOUT_S` (Apprise's call deadline, and
ours around the thread). A caller's URL is checked against the network policy just before
(`targets.check_destination`; see there for the residual DNS-rebinding risk).

`detail` says why a send failed, from Apprise's own captured log lines with every secret
fragment hidden; `permanent` marks failures that retrying cannot fix (a URL Apprise cannot use,
a destination the policy refuses).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.to_thread

from monitor_common.errors import InputError, PolicyError
from monitor_common.notify._apprise import load_apprise
from monitor_common.notify.targets import NotifyTarget, check_destination, hide, remember

if TYPE_CHECKING:
    from monitor_common.netpolicy import NetworkPolicy, Resolver

__all__ = ["SEND_CONCURRENCY", "SEND_TIMEOUT_S", "Outcome", "send"]

SEND_TIMEOUT_S: Final = 15.0
SEND_CONCURRENCY: Final = 8  # worker threads sending at once, per process

_limiter: anyio.CapacityLimiter | None = None


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    detail: str
    permanent: bool = False


def _thread_limiter() -> anyio.CapacityLimiter:
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(SEND_CONCURRENCY)
    return _limiter


def _send_blocking(url: str, title: str, body: str) -> Outcome:
    apprise: Any = load_apprise()
    instance = apprise.Apprise.instantiate(url)
    if instance is None:
        return Outcome(False, "not an Apprise URL Apprise can use: check its syntax", permanent=True)
    sender = apprise.Apprise()
    sender.add(instance)
    result = sender.notify(
        body=body,
        title=title,
        body_format=apprise.NotifyFormat.TEXT,
        timeout=SEND_TIMEOUT_S,
    )
    if result:
        return Outcome(True, "delivered")
    lines = [entry.message for entry in result.logs()]
    reason = lines[-1] if lines else f"Apprise reported {result.status.name.lower()}"
    return Outcome(False, hide(reason)[:300])


async def send(
    target: NotifyTarget, title: str, body: str, *, policy: NetworkPolicy, resolver: Resolver | None
) -> Outcome:
    """Send `title`/`body` to `target`; never raises for a failed delivery."""
    remember(target.url)
    if target.checked:
        try:
            await check_destination(target.url, policy, resolver)
        except PolicyError as exc:
            return Outcome(False, f"refused: {exc}", permanent=True)
        except InputError as exc:
            return Outcome(False, str(exc))
    try:
        with anyio.fail_after(SEND_TIMEOUT_S + 5):
            return await anyio.to_thread.run_sync(
                _send_blocking, target.url, title, body, limiter=_thread_limiter(), abandon_on_cancel=True
            )
    except TimeoutError:
        return Outcome(False, f"no answer within {SEND_TIMEOUT_S + 5:g} s")
