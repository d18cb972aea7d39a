"""A sync's progress: stages, a percentage that never goes back, an ETA; pure, then on the
sandbox (a second sync of the sample bucket, whose end the ETA must foresee within 25 %)."""

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from kbsync_core import events
from kbsync_core.events import log_event
from kbsync_core.models import AwsCredentials, Execution, ExecutionStatus, SyncTarget
from kbsync_core.progress import (
    FINISHING,
    INDEXING,
    SCANNING,
    STARTING,
    Baseline,
    CompletedSync,
    SyncProgress,
    baseline_from,
    ended_at,
    estimate_completion,
    percentage_of,
    progress_of,
    stage_of,
)
from kbsync_core.store import ExecutionStore
from kbsync_core.sync import SyncEngine
from kbsync_core.timefmt import parse_iso
from kbsync_core.validation import SyncRequest
from kbsync_sandbox import SANDBOX_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_REGION
from tests.conftest import TEST_SECRET

T0 = datetime(2026, 4, 13, 10, 30, tzinfo=UTC)
TARGET = SyncTarget(SANDBOX_REGION, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_DATA_SOURCE_ID)
RUNNING = ExecutionStatus.EN_EJECUCION


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def scanned(count: int, **others: int) -> dict:
    return {"numberOfDocumentsScanned": count, **others}


# -- pure logic ------------------------------------------------------------------------------


def test_the_baseline_is_the_last_complete_syncs_documents_and_the_median_duration():
    syncs = [
        CompletedSync(at(0), at(120), 150),  # newest first
        CompletedSync(at(-1000), at(-700), 140),
        CompletedSync(at(-2000), at(-1900), 130),
    ]
    assert baseline_from(syncs) == Baseline(documents_expected=150, typical_seconds=120.0)
    assert baseline_from([]) == Baseline(None, None)


@pytest.mark.parametrize(
    ("status", "aws_status", "statistics", "expected", "quiet", "stage"),
    [
        (ExecutionStatus.PENDIENTE, None, {}, 20, None, STARTING),
        (RUNNING, "STARTING", {}, 20, None, STARTING),
        (RUNNING, "IN_PROGRESS", scanned(0), 20, 0.0, SCANNING),
        (RUNNING, "IN_PROGRESS", scanned(12), 20, 0.0, SCANNING),
        # Every expected document scanned: indexing while counters move, finishing once quiet.
        (RUNNING, "IN_PROGRESS", scanned(20, numberOfNewDocumentsIndexed=3), 20, 0.2, INDEXING),
        (RUNNING, "IN_PROGRESS", scanned(20, numberOfNewDocumentsIndexed=20), 20, 9.0, FINISHING),
        (RUNNING, "STOPPING", scanned(5), 20, 0.0, FINISHING),
        # Nothing expected (a first sync): moving is scanning, quiet after some is the end.
        (RUNNING, "IN_PROGRESS", scanned(7), None, 0.1, SCANNING),
        (RUNNING, "IN_PROGRESS", scanned(0), None, 9.0, SCANNING),
        (RUNNING, "IN_PROGRESS", scanned(7), None, 9.0, FINISHING),
        (ExecutionStatus.COMPLETADO, "COMPLETE", scanned(20), 20, 9.0, None),
    ],
)
def test_the_stage_follows_how_the_statistics_move(
    status, aws_status, statistics, expected, quiet, stage
):
    assert stage_of(status, aws_status, statistics, expected, quiet, quiet_after=1.0) == stage


def test_the_percentage_never_goes_back_and_is_100_only_when_aws_says_complete():
    assert percentage_of(RUNNING, scanned(10), 20) == 50
    assert percentage_of(RUNNING, scanned(25), 20) == 99  # more than expected: still not done
    assert percentage_of(RUNNING, scanned(5), 20, floor=50) == 50  # never below what was shown
    assert percentage_of(RUNNING, scanned(5), None) is None  # nothing to measure against
    assert percentage_of(RUNNING, scanned(5), None, floor=30) == 30
    assert percentage_of(ExecutionStatus.COMPLETADO, scanned(5), 20) == 100
    assert percentage_of(ExecutionStatus.DETENIDO, scanned(5), 20) == 25


def test_the_eta_is_the_median_duration_before_scanning_then_the_scan_rate():
    common = {"job_started_at": at(0), "expected": 100, "typical_seconds": 300.0}
    before = estimate_completion(
        now=at(5), scanning_since=None, statistics_at=at(5), scanned=0, **common
    )
    assert before == at(300)
    # 10 s of start-up, then 40 documents in 20 s: 60 more take 30 s, then 10 s to wind down.
    scanning = estimate_completion(
        now=at(30), scanning_since=at(10), statistics_at=at(30), scanned=40, **common
    )
    assert scanning == at(30 + 30 + 10)
    # Never in the past while the sync runs.
    late = estimate_completion(
        now=at(500), scanning_since=None, statistics_at=None, scanned=0, **common
    )
    assert late == at(500)
    assert (
        estimate_completion(
            now=at(5),
            job_started_at=at(0),
            scanning_since=None,
            statistics_at=None,
            scanned=0,
            expected=None,
            typical_seconds=None,
        )
        is None
    )


def running_execution(statistics: dict, status_seen: list[tuple[float, str]]) -> Execution:
    return Execution(
        id="e1",
        target=TARGET,
        description="",
        status=RUNNING,
        started_at="2026-04-13T10:30:00.000Z",
        job_id="JOB1",
        aws_status=status_seen[-1][1],
        statistics=statistics,
        events=[
            log_event(events.CREATED, at(0)),
            log_event(events.JOB_STARTED, at(0), job_id="JOB1"),
            *(log_event(events.STATUS, at(s), status=aws) for s, aws in status_seen),
        ],
    )


def test_progress_of_an_execution_reads_its_log_for_when_scanning_began():
    execution = running_execution(scanned(40), [(10, "IN_PROGRESS"), (30, "IN_PROGRESS")])
    progress = progress_of(execution, Baseline(100, 300.0), at(31))
    assert progress.to_dict() == {
        "percentage": 40,
        "stage": SCANNING,
        "documentsExpected": 100,
        "documentsScanned": 40,
        "estimatedCompletion": "2026-04-13T10:31:10.000Z",
    }
    ended = replace(
        execution, status=ExecutionStatus.COMPLETADO, finished_at="2026-04-13T10:31:12.000Z"
    )
    assert progress_of(ended, Baseline(100, 300.0), at(80)).to_dict() | {
        "documentsScanned": 40
    } == {
        "percentage": 100,
        "stage": None,
        "documentsExpected": 100,
        "documentsScanned": 40,
        "estimatedCompletion": "2026-04-13T10:31:12.000Z",
    }


# -- on the sandbox --------------------------------------------------------------------------

# A second sync lasts long enough (~2 s) that a few tens of ms of a busy machine's scheduling
# are well inside the 25 % the ETA is allowed (at 20 it lasted 0.85 s, and 0.3 s of jitter failed).
SPEED = 8  # a first sync of the handbook takes ~4.7 s, a second ~2.1 s


@pytest.fixture
def progress_engine(fast_settings):
    from kbsync_sandbox import sandbox

    with sandbox(speed=SPEED):
        store = ExecutionStore(fast_settings.database_url)
        progress = SyncProgress(store, poll_seconds=fast_settings.poll_seconds)
        engine = SyncEngine(
            fast_settings,
            store,
            expected_seconds=progress.expected_seconds,
            expects_documents=progress.expects_documents,
        )
        yield engine, progress
        engine.close()
        store.close()


def watch(engine: SyncEngine, progress: SyncProgress, execution_id: str) -> list[tuple]:
    """(when, percentage, stage, estimated completion) at every few ms until the sync ends."""
    samples = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        execution = engine.get(execution_id)
        shown = progress.of(execution)
        samples.append(
            (datetime.now(UTC), shown.percentage, shown.stage, shown.estimated_completion)
        )
        if execution.status.is_final:
            return samples
        time.sleep(0.01)
    raise AssertionError("the sync did not end")


def test_on_the_sandbox_a_second_sync_rises_to_100_and_its_eta_foresees_its_end(
    progress_engine,
):
    engine, progress = progress_engine
    credentials = AwsCredentials.from_keys("AKIAKBSYNCTESTKEY001", TEST_SECRET)
    request = SyncRequest(TARGET, credentials, "progress test")
    first = engine.start_sync(request)
    first_samples = watch(engine, progress, first.id)
    first_ended = engine.get(first.id)
    assert first_ended.status is ExecutionStatus.COMPLETADO
    # No complete sync to measure the first against: its worker counted the bucket's
    # documents (sidecars left out), as many as the sync then scanned, and its log says so.
    scanned = first_ended.statistics["numberOfDocumentsScanned"]
    assert f"Documents expected: {scanned} (objects in the data source's bucket)." in [
        events.describe(event, events.ENGLISH) for event in first_ended.events
    ]
    first_percentages = [sample[1] for sample in first_samples if sample[1] is not None]
    assert first_percentages == sorted(first_percentages) and first_percentages[-1] == 100
    assert len(set(first_percentages)) >= 4, first_percentages
    # Its duration runs to AWS's end of the job, not to the poll that saw it.
    assert progress.expected_seconds(TARGET) == pytest.approx(
        (ended_at(first_ended) - parse_iso(first_ended.started_at)).total_seconds()
    )
    assert ended_at(first_ended) <= parse_iso(first_ended.finished_at)

    second = engine.start_sync(request)
    samples = watch(engine, progress, second.id)
    ended = engine.get(second.id)
    assert ended.status is ExecutionStatus.COMPLETADO

    percentages = [sample[1] for sample in samples]
    assert percentages == sorted(percentages)
    assert percentages[-1] == 100 and max(percentages[:-1]) <= 99
    assert len(set(percentages)) >= 4, percentages  # it rose, not jumped
    stages = [sample[2] for sample in samples[:-1]]
    assert stages[0] == STARTING and SCANNING in stages
    assert stages == sorted(stages, key=[STARTING, SCANNING, INDEXING, FINISHING].index)

    started, end = parse_iso(ended.started_at), parse_iso(ended.finished_at)
    duration = (end - started).total_seconds()
    scanning_etas = [
        parse_iso(eta)
        for _when, percentage, stage, eta in samples
        if stage == SCANNING and 20 <= percentage <= 80
    ]
    assert scanning_etas, samples
    for eta in scanning_etas:
        assert abs((eta - end).total_seconds()) <= 0.25 * duration, (eta, end, duration)
