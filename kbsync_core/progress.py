"""How far a running sync is, and when it should end (issue 11, "Progress and ETA").

GetIngestionJob has no percentage: kbsync derives one from what it has.

- **Expected documents**: the data source's last complete sync scanned N documents; this one
  will scan about as many (kbsync's store, which holds every sync kbsync started or watched).
  Before the data source has one complete sync kbsync knows of, the documents its worker
  counted in the data source's bucket (an EXPECTED_DOCUMENTS event, kbsync_core/s3_source.py),
  where it could list them; unknown (None) otherwise.
- **Percentage**: documents scanned against the expected ones, never going back (a floor kept
  per execution), capped at 99 until AWS says COMPLETE, 100 then.
- **Stage**: `starting` (no job yet, or AWS says STARTING), `scanning` (fewer documents scanned
  than expected, or counters still moving with nothing expected), `indexing` (every expected
  document scanned, counters still moving), `finishing` (every counter quiet while the job still
  runs, or AWS is STOPPING it). None once the sync ended: its status says how.
- **Estimated completion**: before any document is scanned, the job's start plus the median
  duration of the data source's recent complete syncs. Once scanning, the scan rate so far
  gives when the scan ends; the wind-down after it is taken to last as long as the start-up
  before it did (both are Bedrock's fixed costs around the documents themselves). Never earlier
  than now while the sync runs; the real end once it ended.

The pure functions (`baseline_from`, `stage_of`, `percentage_of`, `estimate_completion`) take
plain values and a `now`, so they are tested without a clock or a store; `SyncProgress` does
the reading and remembers what must not be read again per poll.
"""

import statistics as stats
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from kbsync_core import events
from kbsync_core.models import AWS_RUNNING_STATUSES, Execution, ExecutionStatus, SyncTarget
from kbsync_core.store import ExecutionStore
from kbsync_core.timefmt import iso_utc, parse_iso, utc_now

STARTING = "starting"
SCANNING = "scanning"
INDEXING = "indexing"
FINISHING = "finishing"
STAGES = (STARTING, SCANNING, INDEXING, FINISHING)

SCANNED = "numberOfDocumentsScanned"
# The counters that move once documents are scanned: what indexing changes.
INDEXED_COUNTERS = (
    "numberOfNewDocumentsIndexed",
    "numberOfModifiedDocumentsIndexed",
    "numberOfMetadataDocumentsModified",
    "numberOfDocumentsDeleted",
    "numberOfDocumentsFailed",
)
RUNNING_CAP = 99  # percent: 100 is AWS's COMPLETE, never a guess
RECENT_SYNCS = 5  # complete syncs whose median duration predicts the next one
BASELINE_READ = 50  # newest executions of the data source looked through for them
# Counters unchanged this long (and at least QUIET_POLLS polls) while the job runs: finishing.
QUIET_MIN_SECONDS = 1.0
QUIET_POLLS = 3
MAX_REMEMBERED = 1024  # executions whose baseline and floor are kept (least recent dropped)


@dataclass(frozen=True)
class Baseline:
    """What the data source's past says about its next sync."""

    documents_expected: int | None = None
    typical_seconds: float | None = None


@dataclass(frozen=True)
class CompletedSync:
    started_at: datetime
    finished_at: datetime
    documents_scanned: int | None


@dataclass(frozen=True)
class Progress:
    percentage: int | None
    stage: str | None
    documents_expected: int | None
    documents_scanned: int
    documents_failed: int
    estimated_completion: str | None

    def to_dict(self) -> dict:
        """GET /api/sync's `progress` (camelCase, as seed 000's fields)."""
        return {
            "percentage": self.percentage,
            "stage": self.stage,
            "documentsExpected": self.documents_expected,
            "documentsScanned": self.documents_scanned,
            "estimatedCompletion": self.estimated_completion,
        }


# -- pure logic ------------------------------------------------------------------------------


def baseline_from(completed: Iterable[CompletedSync]) -> Baseline:
    """`completed`: the data source's complete syncs, newest first."""
    recent = list(completed)[:RECENT_SYNCS]
    if not recent:
        return Baseline()
    durations = [
        (sync.finished_at - sync.started_at).total_seconds()
        for sync in recent
        if sync.finished_at >= sync.started_at
    ]
    return Baseline(
        documents_expected=recent[0].documents_scanned,
        typical_seconds=stats.median(durations) if durations else None,
    )


def _indexed(statistics: dict) -> int:
    return sum(int(statistics.get(name) or 0) for name in INDEXED_COUNTERS)


def stage_of(
    status: ExecutionStatus,
    aws_status: str | None,
    statistics: dict,
    expected: int | None,
    quiet_seconds: float | None,
    quiet_after: float = QUIET_MIN_SECONDS,
) -> str | None:
    """The stage of a sync from how AWS's statistics stand and move. `quiet_seconds`: how long
    the counters have not changed (None: unknown, taken as moving)."""
    if status.is_final:
        return None
    if status is ExecutionStatus.PENDIENTE or aws_status in (None, "STARTING"):
        return STARTING
    if aws_status == "STOPPING":
        return FINISHING
    scanned = int(statistics.get(SCANNED) or 0)
    quiet = quiet_seconds is not None and quiet_seconds >= quiet_after
    if expected:
        if scanned < expected:
            return SCANNING
        return FINISHING if quiet else INDEXING
    # Nothing expected: moving counters are read as scanning, quiet ones after some as the end.
    return FINISHING if quiet and (scanned or _indexed(statistics)) else SCANNING


def percentage_of(
    status: ExecutionStatus, statistics: dict, expected: int | None, floor: int | None = None
) -> int | None:
    """Scanned against expected, never below `floor` (what was shown before), capped below
    100 until the sync completed."""
    if status is ExecutionStatus.COMPLETADO:
        return 100
    computed = None
    if expected:
        scanned = int(statistics.get(SCANNED) or 0)
        computed = min(RUNNING_CAP, 100 * scanned // expected)
    if floor is None:
        return computed
    return max(floor, computed if computed is not None else floor)


def estimate_completion(
    *,
    now: datetime,
    job_started_at: datetime | None,
    scanning_since: datetime | None,
    statistics_at: datetime | None,
    scanned: int,
    expected: int | None,
    typical_seconds: float | None,
) -> datetime | None:
    """When a running sync should end (see the module's docstring); None when nothing says."""
    estimate = None
    if expected and scanned and scanning_since and statistics_at and statistics_at > scanning_since:
        rate = scanned / (statistics_at - scanning_since).total_seconds()
        remaining = max(expected - scanned, 0) / rate
        start_up = (scanning_since - job_started_at) if job_started_at else timedelta()
        estimate = statistics_at + timedelta(seconds=remaining) + max(start_up, timedelta())
    elif typical_seconds is not None and job_started_at is not None:
        estimate = job_started_at + timedelta(seconds=typical_seconds)
    if estimate is None:
        return None
    return max(estimate, now)


@dataclass(frozen=True)
class Timeline:
    """Moments read from an execution's log: when its job started (or was attached), when
    kbsync first saw it IN_PROGRESS, and when AWS's statistics last changed."""

    job_started_at: datetime | None
    scanning_since: datetime | None
    statistics_at: datetime | None


def timeline_of(execution: Execution) -> Timeline:
    job_started_at = scanning_since = statistics_at = None
    for event in execution.events:
        if event.event in (events.JOB_STARTED, events.ATTACHED) and job_started_at is None:
            job_started_at = parse_iso(event.at)
            statistics_at = statistics_at or job_started_at
        elif event.event == events.STATUS:
            statistics_at = parse_iso(event.at)
            if scanning_since is None and event.values.get("status") == "IN_PROGRESS":
                scanning_since = statistics_at
    if job_started_at is None and execution.job_id:
        job_started_at = parse_iso(execution.started_at)
    return Timeline(job_started_at, scanning_since, statistics_at)


def counted_in_bucket(execution: Execution) -> int | None:
    """The documents the execution's worker counted in the data source's bucket when no
    complete sync said how many to expect (its EXPECTED_DOCUMENTS event); None if it did not."""
    for event in reversed(execution.events):
        if event.event == events.EXPECTED_DOCUMENTS:
            return int(event.values["count"])
    return None


def progress_of(
    execution: Execution,
    baseline: Baseline,
    now: datetime,
    *,
    floor: int | None = None,
    quiet_after: float = QUIET_MIN_SECONDS,
) -> Progress:
    """The execution's progress as of `now`, given its data source's past."""
    statistics = execution.statistics or {}
    expected = baseline.documents_expected
    if expected is None:
        expected = counted_in_bucket(execution)
    timeline = timeline_of(execution)
    quiet = (now - timeline.statistics_at).total_seconds() if timeline.statistics_at else None
    if execution.status.is_final:
        completion = execution.finished_at
    else:
        estimate = estimate_completion(
            now=now,
            job_started_at=timeline.job_started_at or parse_iso(execution.started_at),
            scanning_since=timeline.scanning_since,
            statistics_at=timeline.statistics_at,
            scanned=int(statistics.get(SCANNED) or 0),
            expected=expected,
            typical_seconds=baseline.typical_seconds,
        )
        completion = iso_utc(estimate) if estimate else None
    return Progress(
        percentage=percentage_of(execution.status, statistics, expected, floor),
        stage=stage_of(
            execution.status, execution.aws_status, statistics, expected, quiet, quiet_after
        ),
        documents_expected=expected,
        documents_scanned=int(statistics.get(SCANNED) or 0),
        documents_failed=int(statistics.get("numberOfDocumentsFailed") or 0),
        estimated_completion=completion,
    )


def ended_at(execution: Execution) -> datetime:
    """When an ended sync's job ended, for its duration: half-way between the last poll that
    saw it running and the one that saw it end (kbsync sees the end only at its next poll, and
    a slow poll's lateness must not lengthen the next sync's expected duration, which would push
    the next sync's fast polls later and later).

    The last running poll is kept on the ending event; an execution that ended before kbsync
    kept it is bracketed by its log instead (the last status event that saw the job running).
    """
    finished = parse_iso(execution.finished_at)
    seen_running = None
    for event in reversed(execution.events):
        if events.RUNNING_SEEN_AT in event.values:
            seen_running = parse_iso(event.values[events.RUNNING_SEEN_AT])
            break
    if seen_running is None:
        seen_running = max(
            (
                parse_iso(event.at)
                for event in execution.events
                if event.event == events.JOB_STARTED
                or (
                    event.event == events.STATUS
                    and event.values.get("status") in AWS_RUNNING_STATUSES
                )
            ),
            default=None,
        )
    if seen_running is None or seen_running > finished:
        return finished
    return seen_running + (finished - seen_running) / 2


def completed_syncs(executions: Iterable[Execution], before: str | None = None):
    """The complete syncs among `executions` (newest first), started before `before`."""
    for execution in executions:
        if execution.status is not ExecutionStatus.COMPLETADO or not execution.finished_at:
            continue
        if before is not None and execution.started_at >= before:
            continue
        scanned = execution.statistics.get(SCANNED)
        yield CompletedSync(
            parse_iso(execution.started_at),
            ended_at(execution),
            int(scanned) if scanned is not None else None,
        )


# -- reading, remembered ---------------------------------------------------------------------


class SyncProgress:
    """Progress of executions, cheap enough for every GET /api/sync poll.

    An execution's baseline (its data source's complete syncs before it) is read once, the
    first time its progress is asked for, and kept: the past does not change while it runs.
    The percentage shown is kept too, as the floor the next answer cannot go below.
    """

    def __init__(
        self,
        store: ExecutionStore,
        *,
        poll_seconds: float = 4.0,
        clock: Callable[[], datetime] = utc_now,
    ):
        self._store = store
        self._clock = clock
        self._quiet_after = max(QUIET_MIN_SECONDS, QUIET_POLLS * poll_seconds)
        self._lock = threading.Lock()
        # execution id -> [baseline, floor]
        self._remembered: OrderedDict[str, list] = OrderedDict()

    def baseline(self, target: SyncTarget, before: str | None = None) -> Baseline:
        """The data source's complete syncs (kbsync's store), those started before `before`."""
        executions = self._store.list_for_target(target, limit=BASELINE_READ)
        return baseline_from(completed_syncs(executions, before))

    def of(self, execution: Execution) -> Progress:
        with self._lock:
            remembered = self._remembered.get(execution.id)
            if remembered is not None:
                self._remembered.move_to_end(execution.id)
        if remembered is None:
            remembered = [self.baseline(execution.target, execution.started_at), None]
            with self._lock:
                remembered = self._remembered.setdefault(execution.id, remembered)
                while len(self._remembered) > MAX_REMEMBERED:
                    self._remembered.popitem(last=False)
        progress = progress_of(
            execution,
            remembered[0],
            self._clock(),
            floor=remembered[1],
            quiet_after=self._quiet_after,
        )
        if progress.percentage is not None:
            with self._lock:
                remembered[1] = max(remembered[1] or 0, progress.percentage)
        return progress

    def expects_documents(self, target: SyncTarget) -> bool:
        """Whether a complete sync of `target` says how many documents the next will scan."""
        return self.baseline(target).documents_expected is not None

    def expected_seconds(self, target: SyncTarget) -> float | None:
        """How long a sync of `target` should take: the median of its recent complete syncs
        (None before the first). Read afresh each time (once per job, by the engine's poll
        plan): a kept answer would miss the sync that just ended, and a sped-up sandbox's
        syncs end faster than any sensible keeping time."""
        return self.baseline(target).typical_seconds
