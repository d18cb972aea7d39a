"""The scheduler: a background thread of the core that fires due schedules, once per slot
across every replica and restart.

Each tick (every second or two, so a slot fires within 10 s while any replica is up) reads the
schedules whose next slot is due, one indexed query, and for each:

1. claims the slot by inserting its (schedule, slot) row: a UNIQUE violation means another
   replica, or this one before a restart, has it;
2. moves the schedule's next slot on (a conditional update: whoever moved it first wins);
3. fires: a sync already running on the data source (kbsync's, or AWS's) makes the firing
   skipped, naming the job; otherwise StartIngestionJob with a clientToken derived from the
   slot (the execution id is a uuid5 of schedule and slot), so even a retry after a crash finds
   the same job instead of starting a second; then the execution that watches it.

Slots missed while every replica was down coalesce into one catch-up run for the latest, its
log saying how many and since when. AWS's quota of concurrent jobs (ServiceQuotaExceeded) and
transient errors are retried with backoff within the slot's period (until the next slot),
then the firing is skipped. A firing whose replica died mid-start is due again (`retry_at`)
and started again, by any replica, with the same token.

Lifecycle as runs.py's: `start()`, `close()` with a stop signal and a bounded join, a warning
when the thread does not exit, and no tick after close. The clock is injected for tests.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kbsync_core import events
from kbsync_core.aws import AwsClients, aws_error_code, describe_aws_error, is_transient
from kbsync_core.connections import Connections, credentials_for
from kbsync_core.errors import ConnectionNotFoundError
from kbsync_core.events import log_event
from kbsync_core.models import AWS_RUNNING_STATUSES, TRIGGER_SCHEDULE
from kbsync_core.schedules import spec_of
from kbsync_core.store import ExecutionStore
from kbsync_core.store.schedules import (
    FAILED,
    RETRYING,
    SKIPPED,
    STARTED,
    STARTING,
    FiringRecord,
    ScheduleRecord,
)
from kbsync_core.sync import SyncEngine, client_token_for, running_job_id_of
from kbsync_core.ticker import CLOSE_JOIN_SECONDS, Ticker
from kbsync_core.timefmt import iso_utc, parse_iso, utc_now
from kbsync_core.validation import SyncRequest

logger = logging.getLogger(__name__)

TICK_SECONDS = 1.0
# A slot fired this much after its time counts as a catch-up (every replica was down), and
# its log says so; a tick is never this late while a replica is up.
CATCH_UP_AFTER = timedelta(seconds=60)
# A firing being started is due again after this: its replica died mid-start.
START_TIMEOUT = timedelta(seconds=60)
# Quota backoff: doubling from the first, up to the last, within the slot's period.
FIRST_BACKOFF = timedelta(seconds=5)
MAX_BACKOFF = timedelta(minutes=5)
MAX_DESCRIPTION = 200
# The namespace of the execution ids slots derive (any fixed UUID; never change it: a slot
# must name the same execution, and the same clientToken, in every replica and release).
SLOT_NAMESPACE = uuid.UUID("6b627379-6e63-5363-6865-64756c657273")
RETRIED_CODES = frozenset({"ServiceQuotaExceededException"})


# Where a sped-up clock (scaled_clock) counts from: any fixed moment, the same in every replica.
SCALED_CLOCK_ORIGIN = datetime(2026, 1, 1, tzinfo=UTC)


def scaled_clock(speed: float) -> Callable[[], datetime]:
    """The scheduler's clock: real time, or (tests) time running `speed` times faster from a
    fixed origin, so that every replica reads the same sped-up time."""
    if speed == 1:
        return utc_now
    return lambda: SCALED_CLOCK_ORIGIN + (utc_now() - SCALED_CLOCK_ORIGIN) * speed


def slot_execution_id(schedule_id: str, slot_at: str) -> str:
    """The execution a slot starts: the same id, so the same clientToken, wherever it fires."""
    return str(uuid.uuid5(SLOT_NAMESPACE, f"{schedule_id}/{slot_at}"))


def skipped_reason(firing: FiringRecord) -> str:
    """Why a firing started no sync, in an operator's words (English: the API's additions)."""
    details = firing.details
    running = "A sync already runs on this data source ({which})."
    if details.get("running_execution_id"):
        return running.format(which=f"execution {details['running_execution_id']}")
    if details.get("reason") == "ConflictException" or "running_job_id" in details:
        return running.format(which=f"AWS job {details.get('running_job_id')}")
    if details.get("error"):
        return f"AWS refused to start the sync: {details['error']}"
    return f"The firing ended {firing.outcome}."


@dataclass(frozen=True)
class RunNowOutcome:
    """What "run now" did: the execution it started, or why it started none."""

    execution_id: str | None
    reason: str | None = None


@dataclass(frozen=True)
class TickReport:
    """What one tick did: slots claimed, firings taken up again (retries, dead replicas)."""

    claimed: int = 0
    retaken: int = 0


class Scheduler:
    """Fires this store's due schedules; one per process (Kbsync owns it)."""

    def __init__(
        self,
        store: ExecutionStore,
        connections: Connections,
        engine: SyncEngine,
        clients: AwsClients,
        owner_id: str,
        *,
        clock: Callable[[], datetime] = utc_now,
        tick_seconds: float = TICK_SECONDS,
    ):
        self._store = store
        self._schedules = store.schedules
        self._connections = connections
        self._engine = engine
        self._clients = clients
        self._owner_id = owner_id
        self._clock = clock
        self._ticker = Ticker("kbsync-scheduler", self.tick, tick_seconds)
        self._closing = self._ticker.closing

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._ticker.start()

    def close(self, timeout: float = CLOSE_JOIN_SECONDS) -> None:
        """Stop ticking; idempotent. A firing cut short is due again elsewhere (retry_at)."""
        self._ticker.close(timeout)

    # -- a tick ------------------------------------------------------------------------------

    def tick(self) -> TickReport:
        """Fire every due slot and take up every firing due again; what it did."""
        if self._closing.is_set():
            return TickReport()
        now = self._clock()
        # Older firings first: a slot a dead replica left mid-start gets its job before the
        # next slot meets it as "a sync already running".
        retaken = sum(
            self._guarded(self._retake, firing, now)
            for firing in self._schedules.due_firings(iso_utc(now))
        )
        claimed = sum(
            self._guarded(self._fire_due, record, now)
            for record in self._schedules.due(iso_utc(now))
        )
        return TickReport(claimed, retaken)

    @staticmethod
    def _guarded(step: Callable[..., bool], item, now: datetime) -> bool:
        """One schedule's or firing's step; a failure of one (a schedule this machine cannot
        read any more, say) is logged and leaves the others to fire."""
        try:
            return step(item, now)
        except Exception:
            logger.exception("The scheduler could not handle %r; it goes on with the rest.", item)
            return False

    def _fire_due(self, record: ScheduleRecord, now: datetime) -> bool:
        if self._closing.is_set():
            return False
        spec = spec_of(record)
        latest, count = spec.due_slots(parse_iso(record.next_slot_at), now)
        following = spec.next_slot(latest or now)
        firing = None
        if latest is not None:
            slot_at = iso_utc(latest)
            details = {}
            if count > 1 or now - latest > CATCH_UP_AFTER:
                details = {"missed": count, "since": record.next_slot_at}
            # Claim first, then move on: a replica dying between the two leaves the slot
            # claimed and the schedule still due; the next tick moves it on.
            firing = self._schedules.claim(
                FiringRecord(
                    id=0,
                    schedule_id=record.id,
                    slot_at=slot_at,
                    outcome=STARTING,
                    execution_id=slot_execution_id(record.id, slot_at),
                    claimed_by=self._owner_id,
                    claimed_at=iso_utc(now),
                    updated_at=iso_utc(now),
                    retry_at=iso_utc(now + START_TIMEOUT),
                    attempts=1,
                    details=details,
                )
            )
        self._schedules.advance(
            record.id, record.next_slot_at, iso_utc(following) if following else None
        )
        if firing is None:
            return False
        self._fire(record, firing, following, now)
        return True

    def _retake(self, firing: FiringRecord, now: datetime) -> bool:
        if self._closing.is_set():
            return False
        record = self._schedules.get(firing.schedule_id)
        if record is None:
            return False
        taken = self._schedules.retake(firing, iso_utc(now + START_TIMEOUT), iso_utc(now))
        if taken is None:
            return False  # another replica took it up first
        if not record.enabled and not firing.details.get("manual"):
            self._end(taken, SKIPPED, now, reason="paused")  # paused while it waited
            return True
        spec = spec_of(record)
        self._fire(record, taken, spec.next_slot(parse_iso(taken.slot_at)), now)
        return True

    def run_now(self, record: ScheduleRecord) -> RunNowOutcome:
        """Fire the schedule at once, outside its slots ("run now"): one more firing, its slot
        this moment, started as a slot would be (its log and History name the schedule). Not
        retried: a full quota or a running sync is said at once."""
        now = self._clock()
        slot_at = iso_utc(now)
        firing = self._schedules.claim(
            FiringRecord(
                id=0, schedule_id=record.id, slot_at=slot_at, outcome=STARTING,
                execution_id=slot_execution_id(record.id, slot_at), claimed_by=self._owner_id,
                claimed_at=slot_at, updated_at=slot_at, retry_at=iso_utc(now + START_TIMEOUT),
                attempts=1, details={"manual": True},
            )
        )
        if firing is None:  # the same millisecond twice: that one is under way
            return RunNowOutcome(None, "A run of this schedule is starting already.")
        self._fire(record, firing, now, now)
        done = self._schedules.firings(record.id, limit=1)
        fired = next((f for f in done if f.id == firing.id), None) or firing
        if fired.outcome == STARTED:
            return RunNowOutcome(fired.execution_id)
        return RunNowOutcome(None, skipped_reason(fired))

    # -- firing ------------------------------------------------------------------------------

    def _fire(
        self,
        record: ScheduleRecord,
        firing: FiringRecord,
        period_end: datetime | None,
        now: datetime,
    ) -> None:
        """Start the slot's sync, or record why not; never raises (logged instead)."""
        try:
            self._start(record, firing, period_end, now)
        except Exception as error:
            logger.exception("Firing schedule %s for %s failed", record.id, firing.slot_at)
            self._end(firing, FAILED, now, error=f"{type(error).__name__}: {error}")

    def _start(
        self,
        record: ScheduleRecord,
        firing: FiringRecord,
        period_end: datetime | None,
        now: datetime,
    ) -> None:
        if self._store.get(firing.execution_id) is not None:
            # Its replica created the execution, then died before saying so.
            self._end(firing, STARTED, now)
            return
        try:
            connection = self._connections.get(record.connection_id)
        except ConnectionNotFoundError:
            self._end(firing, FAILED, now, error=f"No connection {record.connection_id}.")
            return
        credentials = credentials_for(connection)
        target = connection.target
        client = self._clients.bedrock_agent(credentials, target.region)
        # Only on a first attempt: a later one may find the job its own earlier attempt
        # started (before a crash, or a lost answer), which its clientToken gets back.
        busy = self._running_execution(client, target, firing) if firing.attempts == 1 else None
        if busy is not None:
            self._end(firing, SKIPPED, now, **busy)
            return
        try:
            job = client.start_ingestion_job(
                knowledgeBaseId=target.knowledge_base_id,
                dataSourceId=target.data_source_id,
                clientToken=client_token_for(firing.execution_id),
                description=f"Sincronización programada: {record.name}"[:MAX_DESCRIPTION],
            )["ingestionJob"]
        except Exception as error:
            code = aws_error_code(error)
            if code == "ConflictException":
                self._end(
                    firing,
                    SKIPPED,
                    now,
                    running_job_id=running_job_id_of(client, target),
                    reason=code,
                )
            elif code in RETRIED_CODES or is_transient(error):
                self._back_off(firing, period_end, now, describe_aws_error(error, credentials))
            else:
                self._end(firing, FAILED, now, error=describe_aws_error(error, credentials))
            return
        self._engine.start_sync(
            SyncRequest(
                target,
                credentials,
                job.get("description") or record.name,
                connection.id,
                trigger=TRIGGER_SCHEDULE,
            ),
            execution_id=firing.execution_id,
            job=job,
            extra_events=self._opening_events(record, firing),
            schedule_id=record.id,
        )
        self._end(firing, STARTED, now)

    def _running_execution(self, client, target, firing: FiringRecord) -> dict | None:
        """kbsync's own unfinished sync on the data source, if any: what the firing names.

        One whose job AWS says has ended does not count: its record only lags behind. A
        replica killed after its job ended leaves its execution unfinished until another
        replica takes its run over (a lease period or two, longer than a slot in a test's
        sped-up clock), and a live worker records the end only at its next poll; skipping
        the slot for it would lose a slot to a sync that no longer runs."""
        running = [
            e
            for e in self._store.list_unfinished(target)
            if e.id != firing.execution_id and not self._job_ended(client, target, e.job_id)
        ]
        if not running:
            return None
        return {
            "running_job_id": running[0].job_id,
            "running_execution_id": running[0].id,
            "reason": "running",
        }

    @staticmethod
    def _job_ended(client, target, job_id: str | None) -> bool:
        """Whether AWS says this job has ended; False when there is no job yet (its sync is
        starting one) or AWS cannot be asked (the slot is skipped, as before)."""
        if job_id is None:
            return False
        try:
            job = client.get_ingestion_job(
                knowledgeBaseId=target.knowledge_base_id,
                dataSourceId=target.data_source_id,
                ingestionJobId=job_id,
            )["ingestionJob"]
        except Exception:
            logger.warning("Could not look up job %s of an unfinished sync", job_id, exc_info=True)
            return False
        return job["status"] not in AWS_RUNNING_STATUSES

    @staticmethod
    def _opening_events(record: ScheduleRecord, firing: FiringRecord) -> tuple:
        opening = [log_event(events.SCHEDULED, schedule=record.name, slot=firing.slot_at)]
        if firing.details.get("missed"):
            opening.append(
                log_event(
                    events.CATCH_UP,
                    missed=str(firing.details["missed"]),
                    since=firing.details["since"],
                )
            )
        return tuple(opening)

    def _back_off(
        self, firing: FiringRecord, period_end: datetime | None, now: datetime, error: str
    ) -> None:
        """Try again later within the slot's period; once that is over, skip the slot."""
        wait = min(FIRST_BACKOFF * 2 ** (firing.attempts - 1), MAX_BACKOFF)
        retry_at = now + wait
        if period_end is not None and retry_at >= period_end:
            self._end(firing, SKIPPED, now, reason="quota", error=error)
            return
        self._schedules.record(
            firing.id,
            outcome=RETRYING,
            retry_at=iso_utc(retry_at),
            updated_at=iso_utc(now),
            details={**firing.details, "error": error},
        )

    def _end(self, firing: FiringRecord, outcome: str, now: datetime, **details) -> None:
        self._schedules.record(
            firing.id,
            outcome=outcome,
            retry_at=None,
            updated_at=iso_utc(now),
            details={**firing.details, **{k: v for k, v in details.items() if v is not None}},
        )
