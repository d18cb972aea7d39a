"""Leases on runs, on SQLite and on a real PostgreSQL: one holder at a time, taken over only
once expired, writes refused to a replica that lost its run, stop requests that survive."""

import threading
import time

import pytest

from kbsync_core.events import LINE, log_event
from kbsync_core.models import Execution, ExecutionStatus, SyncTarget
from kbsync_core.store import ExecutionStore, Lease, LeaseLostError

TARGET = SyncTarget("us-east-1", "ABCDEFGHIJ", "KLMNOPQRST")
RUN_ID = "00000000-0000-4000-8000-000000000001"
LEASE_SECONDS = 30


@pytest.fixture
def stores(database_url):
    """Two replicas' stores on one database."""
    first, second = ExecutionStore(database_url), ExecutionStore(database_url)
    yield first, second
    first.close()
    second.close()


def add_run(store: ExecutionStore, lease: Lease | None) -> None:
    store.add(
        Execution(RUN_ID, TARGET, "leases", ExecutionStatus.PENDIENTE, "2026-11-30T10:00:00.000Z"),
        lease=lease,
    )


def test_a_run_is_created_held_and_nobody_else_can_claim_it(stores):
    mine, theirs = stores
    add_run(mine, Lease(RUN_ID, "replica-a", LEASE_SECONDS))
    assert not theirs.runs.claim(Lease(RUN_ID, "replica-b", LEASE_SECONDS))
    assert theirs.runs.unattended("sync") == []
    assert mine.runs.claim(Lease(RUN_ID, "replica-a", LEASE_SECONDS))  # renewing one's own


def test_an_expired_lease_is_taken_over_and_the_old_holder_can_no_longer_write(stores):
    mine, theirs = stores
    old = Lease(RUN_ID, "replica-a", 0.2)
    add_run(mine, old)
    time.sleep(0.3)
    assert [run.id for run in theirs.runs.unattended("sync")] == [RUN_ID]
    new = Lease(RUN_ID, "replica-b", LEASE_SECONDS)
    assert theirs.runs.claim(new)

    with pytest.raises(LeaseLostError):
        mine.record(RUN_ID, log=[log_event(LINE, line="from the stalled replica")], lease=old,
                    status=ExecutionStatus.FALLIDO)
    with pytest.raises(LeaseLostError):
        mine.runs.checkpoint(old)
    theirs.record(RUN_ID, log=[log_event(LINE, line="from the new holder")], lease=new)
    execution = theirs.get(RUN_ID)
    assert execution.status is ExecutionStatus.PENDIENTE
    assert execution.logs == ["from the new holder"]


def test_many_replicas_claiming_at_once_one_wins(database_url):
    stores = [ExecutionStore(database_url) for _ in range(4)]
    try:
        add_run(stores[0], Lease(RUN_ID, "a-dead-replica", 0))
        barrier = threading.Barrier(16)
        winners = []

        def claim(number):
            barrier.wait()
            if stores[number % 4].runs.claim(Lease(RUN_ID, f"replica-{number}", LEASE_SECONDS)):
                winners.append(number)

        threads = [threading.Thread(target=claim, args=(n,)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(winners) == 1
        assert stores[1].runs.get(RUN_ID).owner_id == f"replica-{winners[0]}"
    finally:
        for store in stores:
            store.close()


def test_a_stop_request_is_durable_and_reaches_the_holder(stores, database_url):
    mine, theirs = stores
    lease = Lease(RUN_ID, "replica-a", LEASE_SECONDS)
    add_run(mine, lease)
    assert not mine.runs.checkpoint(lease)
    assert theirs.runs.request_stop(RUN_ID, "2026-11-30T10:00:05.000Z")
    theirs.close()
    reopened = ExecutionStore(database_url)  # as after a restart
    try:
        assert reopened.runs.get(RUN_ID).stop_requested
    finally:
        reopened.close()
    assert mine.runs.checkpoint(lease)
    assert mine.runs.renew_all("replica-a", [RUN_ID, "not-mine"], LEASE_SECONDS) == {RUN_ID: True}


def test_a_final_status_ends_the_run_and_frees_it(stores):
    mine, theirs = stores
    lease = Lease(RUN_ID, "replica-a", LEASE_SECONDS)
    add_run(mine, lease)
    mine.record(RUN_ID, lease=lease, status=ExecutionStatus.COMPLETADO,
                finished_at="2026-11-30T10:01:00.000Z")
    run = theirs.runs.get(RUN_ID)
    assert (run.state, run.owner_id) == ("ended", None)
    assert not theirs.runs.request_stop(RUN_ID, "2026-11-30T10:02:00.000Z")
    assert not theirs.runs.claim(Lease(RUN_ID, "replica-b", LEASE_SECONDS))


def test_an_interrupted_run_waits_for_someone_with_credentials(stores):
    mine, theirs = stores
    lease = Lease(RUN_ID, "replica-a", LEASE_SECONDS)
    add_run(mine, lease)
    assert mine.runs.interrupt(lease)
    assert theirs.get(RUN_ID).interrupted
    # Offered to whoever has credentials for it, but not claimable as an active run.
    assert [run.state for run in theirs.runs.unattended("sync")] == ["interrupted"]
    assert not theirs.runs.claim(Lease(RUN_ID, "replica-b", LEASE_SECONDS))
    assert theirs.runs.claim(
        Lease(RUN_ID, "replica-b", LEASE_SECONDS), from_states=("active", "interrupted")
    )
    assert not theirs.get(RUN_ID).interrupted


def test_a_released_run_is_free_at_once(stores):
    mine, theirs = stores
    lease = Lease(RUN_ID, "replica-a", LEASE_SECONDS)
    add_run(mine, lease)
    mine.runs.release(lease)
    assert [run.id for run in theirs.runs.unattended("sync")] == [RUN_ID]
