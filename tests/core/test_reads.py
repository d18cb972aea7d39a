"""Recent reads for pollers: an ended execution is kept, an unfinished one only briefly, and a
write by this process is seen at once."""

import pytest

from kbsync_core.events import LINE, log_event
from kbsync_core.models import Execution, ExecutionStatus, SyncTarget
from kbsync_core.reads import ExecutionReads
from kbsync_core.store import ExecutionStore, Lease

TARGET = SyncTarget("us-east-1", "ABCDEFGHIJ", "KLMNOPQRST")
RUN_ID = "00000000-0000-4000-8000-0000000000aa"


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def stores(tmp_path):
    """This replica's store and another replica's, on one database file."""
    url = f"sqlite:///{tmp_path}/kbsync.sqlite3"
    mine, theirs = ExecutionStore(url), ExecutionStore(url)
    yield mine, theirs
    mine.close()
    theirs.close()


def add_running(store) -> Lease:
    lease = Lease(RUN_ID, "replica-b", 30)
    store.add(
        Execution(RUN_ID, TARGET, "reads", ExecutionStatus.EN_EJECUCION,
                  "2026-11-30T10:00:00.000Z"),
        lease=lease,
    )
    return lease


def test_a_new_execution_of_another_replica_is_found_at_once(stores):
    mine, theirs = stores
    reads = ExecutionReads(mine)
    assert reads.get(RUN_ID) is None
    add_running(theirs)
    assert reads.get(RUN_ID).status is ExecutionStatus.EN_EJECUCION


def test_another_replicas_change_shows_once_the_brief_freshness_ran_out(stores):
    mine, theirs = stores
    clock = Clock()
    reads = ExecutionReads(mine, fresh_seconds=0.25, clock=clock)
    lease = add_running(theirs)
    assert reads.get(RUN_ID).logs == []
    theirs.record(RUN_ID, log=[log_event(LINE, line="progress")], lease=lease)
    assert reads.peek(RUN_ID).logs == []  # read 0 s ago: still served
    clock.now = 0.25
    assert reads.peek(RUN_ID) is None
    assert reads.get(RUN_ID).logs == ["progress"]


def test_this_replicas_write_is_seen_at_once(stores):
    mine, _theirs = stores
    reads = ExecutionReads(mine, clock=Clock())
    lease = add_running(mine)
    reads.get(RUN_ID)
    mine.record(RUN_ID, log=[log_event(LINE, line="progress")], lease=lease)
    assert reads.peek(RUN_ID) is None
    assert reads.get(RUN_ID).logs == ["progress"]


def test_an_ended_execution_is_kept_and_the_oldest_read_goes_first(stores):
    mine, _theirs = stores
    clock = Clock()
    reads = ExecutionReads(mine, max_kept=2, clock=clock)
    for number in range(3):
        run_id = f"00000000-0000-4000-8000-00000000000{number}"
        mine.add(Execution(run_id, TARGET, "ended", ExecutionStatus.COMPLETADO,
                           "2026-11-30T10:00:00.000Z"))
        reads.get(run_id)
    clock.now = 3600
    assert reads.peek("00000000-0000-4000-8000-000000000000") is None  # evicted
    assert reads.peek("00000000-0000-4000-8000-000000000002").status is ExecutionStatus.COMPLETADO
