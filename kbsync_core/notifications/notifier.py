"""Sending the webhooks' messages in the background: one thread per process, owned by the core.

How a message comes to be sent, with no change to the sync engine's loop:

- The notifier looks for syncs that ended recently on a data source some connection's webhooks
  watch, and that have no delivery row for that webhook yet; it inserts one per (webhook,
  execution, event). The row is unique, so replicas that look at once enqueue it once.
- It looks right after any write of an execution by this process (ExecutionStore.on_write
  wakes it: a monitor never waits for a delivery, it only sets an event), and every few
  seconds anyway, so a sync ended by another replica, or by a replica that died before it
  could enqueue, is still notified (syncs that ended in the last LOOKBACK_SECONDS).
- Each pending delivery is claimed with a conditional update before it is sent; the claim
  expires, so one held by a replica that died mid-delivery is taken over. A replica that dies
  after the webhook answered but before recording it leaves the message to be sent again:
  delivery is at least once, and once unless a replica dies in that instant.
- A failure is retried with backoff (RETRY_DELAYS_SECONDS: 5 attempts over about 4 minutes),
  honouring a 429's Retry-After; a 4xx other than 429 is not retried. Each failed attempt is
  logged (the webhook's hint, never its URL) and kept on the row for the console.

Lifecycle as RunCoordinator's: `start()` once, `close()` sets a stop signal, wakes the thread,
joins it for a bounded time and warns if it does not exit.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from kbsync_core.models import FINAL_STATUSES, ExecutionStatus
from kbsync_core.notifications.delivery import Outcome, post_json
from kbsync_core.notifications.messages import ConnectionFacts, event_of, sync_message
from kbsync_core.secretbox import SecretBox, SecretUnreadableError
from kbsync_core.store import ExecutionStore
from kbsync_core.store.webhooks import DELIVERED, FAILED, PENDING
from kbsync_core.timefmt import iso_utc

logger = logging.getLogger(__name__)

# After the 1st, 2nd, 3rd and 4th failed attempt: 5 attempts within about 4 minutes.
RETRY_DELAYS_SECONDS = (10.0, 30.0, 60.0, 120.0)
# How often the notifier looks for ended syncs without being woken (another replica's).
SWEEP_SECONDS = 5.0
# How far back it looks: a sync that ended while every replica was down is still notified if
# one comes back within this.
LOOKBACK_SECONDS = 3600.0
# How long a claim on a delivery lasts: longer than an attempt can take.
CLAIM_SECONDS = 60.0
DELIVERIES_PER_PASS = 20
# At most this often, however many writes wake it: a sync's every progress write must not cost
# the database a pass of its own (a message waits this much longer at most).
MIN_PASS_SECONDS = 0.25
JOIN_SECONDS = 15.0
NO_KEY = "This server has no KBSYNC_SECRET_KEY to decrypt the webhook's URL with."

Sender = Callable[[str, dict], Outcome]


class WebhookNotifier:
    """Enqueues and sends the webhooks' messages of one store; one per process."""

    def __init__(
        self,
        store: ExecutionStore,
        secrets: SecretBox | None,
        owner_id: str,
        *,
        console_url: str | None = None,
        send: Sender = post_json,
        retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS,
        sweep_seconds: float = SWEEP_SECONDS,
        lookback_seconds: float = LOOKBACK_SECONDS,
        claim_seconds: float = CLAIM_SECONDS,
        clock: Callable[[], float] = time.time,
    ):
        self._store = store
        self._webhooks = store.webhooks
        self._secrets = secrets
        self.owner_id = owner_id
        self.console_url = console_url
        self.send = send
        self.retry_delays = tuple(retry_delays)
        self.sweep_seconds = sweep_seconds
        self.lookback_seconds = lookback_seconds
        self.claim_seconds = claim_seconds
        self.clock = clock
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._pass_lock = threading.Lock()

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None or self._closing.is_set():
            return
        self._thread = threading.Thread(target=self._run, name="kbsync-webhooks", daemon=True)
        self._thread.start()

    def wake(self, _execution_id: str | None = None) -> None:
        """Look again now (ExecutionStore.on_write calls this after each write: it only sets
        an event, so the writer never waits)."""
        self._wake.set()

    def close(self) -> None:
        """Idempotent: stop the thread (a delivery under way ends first, within its timeout);
        what is left pending is sent by another replica, or by this one once restarted."""
        self._closing.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(JOIN_SECONDS)
            if thread.is_alive():
                logger.warning("The webhook notifier did not stop within %.0f s", JOIN_SECONDS)

    def _run(self) -> None:
        while not self._closing.is_set():
            try:
                self.run_once()
            except Exception:
                # The database away for a moment, say: the next pass tries again.
                logger.exception("The webhook notifier's pass failed")
            self._closing.wait(MIN_PASS_SECONDS)
            self._wake.wait(self._next_wait())
            self._wake.clear()

    def _next_wait(self) -> float:
        try:
            due_ms = self._webhooks.next_attempt_ms()
        except Exception:
            return self.sweep_seconds
        if due_ms is None:
            return self.sweep_seconds
        return min(self.sweep_seconds, max(0.0, due_ms / 1000 - self.clock()))

    # -- one pass ------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Enqueue what ended, send what is due; the number of attempts made."""
        with self._pass_lock:
            now = self.clock()
            self.enqueue_ended(now)
            attempts = 0
            for delivery_id in self._webhooks.due(_ms(now), DELIVERIES_PER_PASS):
                if self._closing.is_set():
                    break
                if self._webhooks.claim(
                    delivery_id, self.owner_id, _ms(self.clock()), _ms(self.claim_seconds)
                ):
                    self._deliver(delivery_id)
                    attempts += 1
            return attempts

    def enqueue_ended(self, now: float) -> None:
        since = iso_utc(datetime.fromtimestamp(now - self.lookback_seconds, UTC))
        ended = self._webhooks.ended_without_delivery(
            [str(status) for status in FINAL_STATUSES], str(ExecutionStatus.COMPLETADO), since
        )
        created_at = iso_utc(datetime.fromtimestamp(now, UTC))
        self._webhooks.enqueue(
            [
                {
                    "webhook_id": sync.webhook_id,
                    "execution_id": sync.execution_id,
                    "event": event_of(ExecutionStatus(sync.status)),
                    "created_at": created_at,
                    "next_attempt_ms": _ms(now),
                }
                for sync in ended
            ]
        )

    def _deliver(self, delivery_id: int) -> None:
        delivery = self._webhooks.get_delivery(delivery_id)
        webhook = self._webhooks.get(delivery.webhook_id) if delivery else None
        execution = self._store.get(delivery.execution_id) if delivery else None
        if webhook is None or execution is None:
            return  # deleted meanwhile (its deliveries go with it)
        connection = self._store.connections.get(webhook.connection_id)
        facts = ConnectionFacts(
            webhook.connection_id, connection.name if connection else webhook.connection_id
        )
        try:
            if self._secrets is None:
                raise SecretUnreadableError(NO_KEY)
            url = self._secrets.decrypt(webhook.url_encrypted)
        except SecretUnreadableError as error:
            outcome = Outcome(False, None, str(error), retryable=False)
        else:
            body = sync_message(execution, delivery.event, facts, self.console_url)
            outcome = self.send(url, body)
        self._record(delivery.id, delivery.attempts + 1, outcome, webhook.url_hint, delivery)

    def _record(self, delivery_id, attempts, outcome: Outcome, hint: str, delivery) -> None:
        now = self.clock()
        if outcome.delivered:
            state, next_at = DELIVERED, now
        elif outcome.retryable and attempts < self.max_attempts:
            delay = outcome.retry_after_seconds
            if delay is None:
                delay = self.retry_delays[attempts - 1]
            state, next_at = PENDING, now + delay
        else:
            state, next_at = FAILED, now
        if not outcome.delivered:
            logger.warning(
                "Webhook %s (%s): the message on execution %s (%s) was not delivered, "
                "attempt %d of %d%s: %s",
                delivery.webhook_id,
                hint,
                delivery.execution_id,
                delivery.event,
                attempts,
                self.max_attempts,
                ", will retry" if state == PENDING else ", giving up",
                outcome.error,
            )
        self._webhooks.settle(
            delivery_id,
            self.owner_id,
            state=state,
            attempts=attempts,
            next_attempt_ms=_ms(next_at),
            last_status=outcome.status,
            last_error=None if outcome.delivered else outcome.error,
            updated_at=iso_utc(datetime.fromtimestamp(now, UTC)),
        )


def _ms(seconds: float) -> int:
    return int(seconds * 1000)
