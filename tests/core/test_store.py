import threading

import pytest
import sqlalchemy as sa

from kbsync_core.events import LINE, log_event
from kbsync_core.models import Execution, ExecutionStatus, SyncTarget
from kbsync_core.store import ExecutionStore, Lease

TARGET = SyncTarget("us-east-1", "ABCDEFGHIJ", "KLMNOPQRST")
OTHER_TARGET = SyncTarget("us-east-1", "ABCDEFGHIJ", "OTHERDS123")


def line(text: str):
    """A log event the API shows as `text`, verbatim."""
    return log_event(LINE, line=text)


def make_execution(number: int, target: SyncTarget = TARGET, **fields) -> Execution:
    return Execution(
        id=f"exec-{number:05d}",
        target=target,
        description=f"sync {number}",
        status=fields.pop("status", ExecutionStatus.PENDIENTE),
        started_at=f"2024-03-05T10:{number // 60 % 60:02d}:{number % 60:02d}.000Z",
        events=[line(f"line {number}")],
        **fields,
    )


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request, tmp_path):
    """The same store on an in-memory SQLite, a SQLite file, and a real PostgreSQL server."""
    if request.param == "memory":
        url = "sqlite://"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/kb.sqlite3"
    else:
        url = request.getfixturevalue("postgres_url")
    store = ExecutionStore(url)
    yield store
    store.close()


def test_an_execution_round_trips_with_everything_it_carries(store):
    store.add(make_execution(1))
    store.record(
        "exec-00001",
        log=[line("second"), line("third")],
        status=ExecutionStatus.FALLIDO,
        job_id="JOB0000001",
        aws_status="FAILED",
        statistics={"numberOfDocumentsScanned": 3},
        failure_reasons=["too big"],
        finished_at="2024-03-05T11:00:00.000Z",
    )
    execution = store.get("exec-00001")
    assert execution.status is ExecutionStatus.FALLIDO
    assert execution.logs == ["line 1", "second", "third"]
    assert execution.statistics == {"numberOfDocumentsScanned": 3}
    assert execution.failure_reasons == ["too big"]
    assert execution.job_id == "JOB0000001"
    assert execution.finished_at == "2024-03-05T11:00:00.000Z"
    assert execution.target == TARGET
    assert store.get("nope") is None


def test_unknown_fields_are_refused(store):
    store.add(make_execution(1))
    with pytest.raises(ValueError, match="secret"):
        store.record("exec-00001", secret_access_key="x")


def test_newest_first_per_data_source(store):
    for number in range(30):
        store.add(make_execution(number))
    store.add(make_execution(99, OTHER_TARGET))
    newest = store.list_for_target(TARGET, limit=5)
    assert [e.id for e in newest] == [f"exec-{n:05d}" for n in (29, 28, 27, 26, 25)]
    assert all(e.logs == [f"line {int(e.id[-5:])}"] for e in newest)
    assert [e.id for e in store.list_for_target(OTHER_TARGET)] == ["exec-00099"]


def test_unfinished_interrupted_and_by_job(store):
    store.add(make_execution(1, status=ExecutionStatus.EN_EJECUCION, job_id="JOB0000001"))
    store.add(make_execution(2, status=ExecutionStatus.COMPLETADO, job_id="JOB0000002"))
    lease = Lease("exec-00003", "replica-a", 30)
    store.add(make_execution(3, status=ExecutionStatus.PENDIENTE), lease=lease)
    assert store.runs.interrupt(lease)
    assert {e.id for e in store.list_unfinished()} == {"exec-00001", "exec-00003"}
    assert [e.id for e in store.list_interrupted(TARGET)] == ["exec-00003"]
    found = store.find_by_job_ids(TARGET, ["JOB0000002", "JOB0000009"])
    assert list(found) == ["JOB0000002"]


def test_a_file_store_survives_reopening(tmp_path):
    url = f"sqlite:///{tmp_path}/nested/dir/kb.sqlite3"
    first = ExecutionStore(url)
    first.add(make_execution(7))
    first.record("exec-00007", log=[line("after")])
    first.close()
    first.close()  # closing twice is harmless
    second = ExecutionStore(url)
    assert second.get("exec-00007").logs == ["line 7", "after"]
    second.close()


def test_many_threads_write_at_once_and_nothing_is_lost(store):
    store.add(make_execution(1))

    def write(thread_number):
        for number in range(25):
            store.record("exec-00001", log=[line(f"t{thread_number}-{number}")])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logs = store.get("exec-00001").logs
    assert len(logs) == 1 + 8 * 25
    for n in range(8):  # each writer's lines stay in its own order
        mine = [line for line in logs if line.startswith(f"t{n}-")]
        assert mine == [f"t{n}-{i}" for i in range(25)]


def test_the_schema_has_no_place_for_credentials(store):
    inspector = sa.inspect(store._engine)
    # api_tokens.token_hash holds a SHA-256 of kbsync's own API tokens (tests/core/test_tokens.py
    # checks the token itself is nowhere): no AWS credential, nor a token.
    columns = {
        c["name"]
        for t in inspector.get_table_names()
        for c in inspector.get_columns(t)
        if (t, c["name"]) != ("api_tokens", "token_hash")
    }
    assert not {name for name in columns if "secret" in name or "token" in name or "key" in name}
