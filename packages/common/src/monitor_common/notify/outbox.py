"""The notifier of one watch kind: what to send on a transition, and the outbox that sends it.

    notifier = Notifier("http", target_of, handle, owner)
    store.complete(watch, owner, result, now, announce=notifier.announce, sender=owner)
    await notifier.hand(completion.deliveries)     # after the commit: send them now
    tg.start_soon(notifier.run)                    # retries, and what dead processes left

The rules that make one notification per transition among several processes:

1. The notifications of a transition are rows of `deliveries`, written in the transaction that
   records the transition (`announce` is called inside it), so a transition is never recorded
   without them, nor twice (the watch's row is locked, or the SQLite database is).
2. They are leased to the recording process (`sender`), which sends them at once (`hand`); no
   other process takes them while the lease (`store.SEND_LEASE_S`) runs.
3. Each outcome is recorded: delivered, or failed with the reason. A failed send is retried after
   `backoff(attempt)` (10 s, 20 s, 40 s, ... at most an hour), `MAX_ATTEMPTS` times in all, by
   whichever process claims it first (`run` polls every `POLL_S`); a failure retrying cannot fix
   (a URL Apprise cannot use, a destination the network policy refuses) is final at once.
4. A process killed after recording a transition and before recording its delivery leaves the
   row pending; when its lease expires another process sends it. If the kill came after the
   service accepted the message but before the outcome was written, that message is sent twice:
   the one duplicate the design allows (README, "Notifications").
5. A stop (SIGTERM, a host leaving) does not cut a send short: each send in flight finishes, within
   its own time limit, and its outcome is stored before the process ends, so a stop never leaves
   a message the service accepted to be sent again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.abc
import anyio.to_thread

from monitor_common.config import Settings, get_settings
from monitor_common.errors import StoreError
from monitor_common.notify._apprise import load_apprise
from monitor_common.notify.message import Event, compose
from monitor_common.notify.sender import SEND_TIMEOUT_S, Outcome, send
from monitor_common.notify.targets import NotifyTarget, resolve_targets

if TYPE_CHECKING:
    from monitor_common.scheduler import StoreHandle
    from monitor_common.store import Delivery, Incident, Outgoing, ResultRecord, Watch

__all__ = ["MAX_ATTEMPTS", "POLL_S", "Notifier", "backoff"]

logger = logging.getLogger("monitor_common.notify")

POLL_S: Final = 2.0
MAX_ATTEMPTS: Final = 12
RETRY_BASE_S: Final = 10.0
RETRY_MAX_S: Final = 3600.0
CLAIM_BATCH: Final = 50


def backoff(attempt: int) -> float:
    """Seconds before retry number `attempt` (1 after the first failure): doubling, capped."""
    return min(RETRY_BASE_S * 2 ** max(0, attempt - 1), RETRY_MAX_S)


class Notifier:
    """Notifications of one kind's watches: `announce` inside the store's transaction, `hand`
    after it, `run` for the rest, `test` for a watch's `test_notify`."""

    def __init__(
        self,
        kind: str,
        target_of: Callable[[Mapping[str, Any]], str],
        handle: StoreHandle,
        owner: str,
        *,
        settings: Callable[[], Settings] = get_settings,
    ) -> None:
        self.kind = kind
        self.target_of = target_of
        self.handle = handle
        self.owner = owner
        self.settings = settings
        self.poll_s = POLL_S
        self._tg: anyio.abc.TaskGroup | None = None
        self._sending: set[int] = set()

    # -- what to send --------------------------------------------------------------------------

    def targets(self, watch: Watch) -> list[NotifyTarget]:
        settings = self.settings()
        # A watch from the operator's watches file names the operator's own URLs: infrastructure.
        return resolve_targets(
            watch.notify, settings.notify, settings.notify_targets, callers=watch.managed_by is None
        )

    def announce(
        self, watch: Watch, event: str, incident: Incident, result: ResultRecord, announced: float | None
    ) -> Sequence[Outgoing]:
        """The store's `Announce`: one notification per target of `watch` for `event`."""
        from monitor_common.store import Outgoing

        targets = self.targets(watch)
        if not targets:
            return ()
        settings = self.settings()
        message = compose(
            _event(event),
            kind=self.kind,
            watch=watch.name,
            target=self.target_of(watch.definition),
            opened_at=incident.opened_at,
            closed_at=incident.closed_at,
            now=result.checked_at,
            verdict=incident.verdict,
            summary=result.summary,
            findings=result.findings,
            cause=incident.cause,
            status_url=settings.status_url,
        )
        return [Outgoing(event, t.url, t.shown, t.checked, message.title, message.body) for t in targets]

    # -- sending -------------------------------------------------------------------------------

    async def hand(self, deliveries: Sequence[Delivery]) -> None:
        """Send the notifications this process just recorded: in the background while `run`
        runs, else now (a one-off `call`)."""
        if not deliveries:
            return
        if self._tg is not None:
            for delivery in deliveries:
                self._start(delivery)
            return
        async with anyio.create_task_group() as tg:
            for delivery in deliveries:
                tg.start_soon(self._deliver, delivery)

    def _start(self, delivery: Delivery) -> None:
        if self._tg is None or delivery.id in self._sending:
            return
        self._sending.add(delivery.id)
        self._tg.start_soon(self._deliver, delivery)

    async def _deliver(self, delivery: Delivery) -> None:
        # Shielded: cancelled mid-send, the message may already be with the service while the row
        # stays pending, and it would go out again when the lease expires. The send is bounded by
        # its own limit; the store write gets a little more.
        with anyio.CancelScope(shield=True, deadline=anyio.current_time() + SEND_TIMEOUT_S + 15):
            await self._deliver_now(delivery)

    async def _deliver_now(self, delivery: Delivery) -> None:
        from monitor_common.context import get_context

        try:
            ctx = get_context()
            target = NotifyTarget(delivery.target, delivery.shown, delivery.checked)
            outcome = await send(
                target, delivery.title, delivery.body, policy=ctx.policy, resolver=ctx.resolver
            )
            now = time.time()
            attempt = delivery.attempts + 1
            retry_at = None
            if not outcome.delivered and not outcome.permanent and attempt < MAX_ATTEMPTS:
                retry_at = now + backoff(attempt)
            store = await self.handle.require()
            await store.finish_delivery(
                delivery, delivered=outcome.delivered, outcome=outcome.detail, now=now, retry_at=retry_at
            )
            self._log(delivery, outcome, attempt, retry_at, now)
        except StoreError as exc:
            # The lease expires and the notification is sent again: the rare duplicate.
            logger.warning(
                "notification %s of %s: its outcome could not be stored: %s", delivery.id, delivery.watch, exc
            )
            await self.handle.reset()
        finally:
            self._sending.discard(delivery.id)

    def _log(
        self, delivery: Delivery, outcome: Outcome, attempt: int, retry_at: float | None, now: float
    ) -> None:
        what = f"{delivery.event} notification of {self.kind} watch {delivery.watch!r} to {delivery.shown}"
        if outcome.delivered:
            logger.info("%s delivered in %.2f s", what, now - delivery.created_at)
        elif retry_at is not None:
            logger.warning(
                "%s failed (attempt %d): %s; retrying in %.0f s",
                what,
                attempt,
                outcome.detail,
                retry_at - now,
            )
        else:
            logger.error("%s failed for good (attempt %d): %s", what, attempt, outcome.detail)

    async def run(self) -> None:
        """Until cancelled: send what this process hands over, and claim what is due (retries,
        and notifications whose recorder died)."""
        backoff_s = 1.0
        async with anyio.create_task_group() as tg:
            self._tg = tg
            tg.start_soon(self._warm_up)
            try:
                while True:
                    try:
                        await self._claim()
                        backoff_s = 1.0
                        delay = self.poll_s
                    except StoreError as exc:
                        logger.warning(
                            "notification outbox (%s): %s; retrying in %.0f s", self.kind, exc, backoff_s
                        )
                        await self.handle.reset()
                        delay, backoff_s = backoff_s, min(backoff_s * 2, 30.0)
                    await anyio.sleep(delay)
            finally:
                self._tg = None

    async def _warm_up(self) -> None:
        """Load Apprise's plugins now (2 s of CPU) when there is anyone to notify, so that the
        first incident's notification does not wait for them."""
        settings = self.settings()
        try:
            store = await self.handle.get(create=False)
            wanted = bool(settings.notify or settings.notify_targets) or (
                store is not None and await store.notifying(self.kind)
            )
        except StoreError:
            return  # the loop reports it; Apprise loads at the first send then
        if wanted:
            await anyio.to_thread.run_sync(load_apprise)

    async def _claim(self) -> None:
        store = await self.handle.get(create=False)
        if store is None:
            return
        for delivery in await store.claim_deliveries(self.kind, self.owner, time.time(), CLAIM_BATCH):
            self._start(delivery)

    # -- test_notify -----------------------------------------------------------------------------

    async def test(self, watch: Watch) -> list[tuple[NotifyTarget, Outcome]]:
        """Send a test message to every target of `watch` now; the outcome per target."""
        from monitor_common.context import get_context

        ctx = get_context()
        message = compose("test", kind=self.kind, watch=watch.name, target=self.target_of(watch.definition))
        targets = self.targets(watch)
        outcomes: list[Outcome | None] = [None] * len(targets)

        async def one(index: int, target: NotifyTarget) -> None:
            outcomes[index] = await send(
                target, message.title, message.body, policy=ctx.policy, resolver=ctx.resolver
            )

        async with anyio.create_task_group() as tg:
            for index, target in enumerate(targets):
                tg.start_soon(one, index, target)
        return [(t, o) for t, o in zip(targets, outcomes, strict=True) if o is not None]


def _event(event: str) -> Event:
    if event in ("opened", "resolved", "reminder"):
        return event  # pyright: ignore[reportReturnType]
    raise ValueError(f"unknown notification event {event!r}")
