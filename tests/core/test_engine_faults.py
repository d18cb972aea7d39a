"""What used to end a sync FALLIDO while AWS finished it, and two replicas on one database.

Each case injects the fault into the in-process sandbox, which answers real boto3 clients;
the same cases run over HTTP against the standalone sandbox in tests/api/test_faults.py.
"""

import threading
import time
from dataclasses import replace

import pytest

from kbsync_core.aws import AwsClients
from kbsync_core.history import HistoryService
from kbsync_core.models import AwsCredentials, ExecutionStatus, SyncTarget
from kbsync_core.runs import RunCoordinator
from kbsync_core.store import ExecutionStore
from kbsync_core.store.schema import runs_table
from kbsync_core.sync import SyncEngine, client_token_for
from kbsync_core.validation import HistoryRequest, SyncRequest
from kbsync_sandbox import SANDBOX_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_REGION
from tests.conftest import TEST_SECRET
from tests.support.waiting import wait_for

TARGET = SyncTarget(SANDBOX_REGION, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_DATA_SOURCE_ID)
CREDENTIALS = AwsCredentials.from_keys("AKIAKBSYNCFAULTS0001", TEST_SECRET)
LEASE_SECONDS = 1.0



@pytest.fixture
def settings(fast_settings, database_url):
    return replace(fast_settings, database_url=database_url, lease_seconds=LEASE_SECONDS)


class Replica:
    """One kbsync process's core on a shared database: its store, AWS clients (whose
    User-Agent names it), lease coordinator and engine."""

    def __init__(self, name, settings, takeover_credentials=None):
        self.name = name
        self.store = ExecutionStore(settings.database_url)
        self.clients = AwsClients(settings, caller_id=name)
        self.coordinator = RunCoordinator(self.store.runs, name, settings.lease_seconds)
        self.engine = SyncEngine(
            settings, self.store, self.clients, self.coordinator,
            takeover_credentials=takeover_credentials,
        )
        self.coordinator.start()

    def die(self):
        """As kill -9 would leave it: workers gone, leases left to expire, nothing released."""
        self.coordinator._closing.set()
        for worker in list(self.coordinator._workers.values()):
            worker.wake.set()
            worker.thread.join(5)

    def close(self):
        self.coordinator.close()
        self.store.close()


@pytest.fixture
def replicas(sandboxed, settings):
    made = []

    def make(name, **options):
        replica = Replica(name, settings, **options)
        made.append(replica)
        return replica

    yield make
    for replica in made:
        replica.close()


def run_to_end(engine, execution_id):
    execution = wait_for(lambda: engine.get(execution_id).status.is_final and engine.get(
        execution_id))
    return execution


def stop_sent(store, execution_id):
    """Until the worker logged that it sends StopIngestionJob: the job, slow until then, cannot
    have ended first; the test may speed it up."""
    wait_for(lambda: any(
        "Deteniendo Ingestion Job" in line for line in store.get(execution_id).logs
    ))


def job_callers(sandboxed, job_id):
    """The replicas (User-Agent's kbsync/<name>) that polled `job_id`, in order of their
    first poll."""
    callers = []
    for call in sandboxed.call_log:
        if call.operation == "GetIngestionJob" and call.parameters["ingestionJobId"] == job_id:
            name = call.user_agent.split("kbsync/", 1)[1].split()[0]
            if name not in callers:
                callers.append(name)
    return callers


def test_a_transient_error_on_the_first_poll_of_a_monitored_job_is_not_a_failure(
    replicas, sandboxed
):
    engine = replicas("a").engine
    job_id = engine.clients.bedrock_agent(CREDENTIALS, SANDBOX_REGION).start_ingestion_job(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID, dataSourceId=SANDBOX_DATA_SOURCE_ID
    )["ingestionJob"]["ingestionJobId"]
    sandboxed.inject_fault(operation="GetIngestionJob", error="ThrottlingException", count=2)

    execution = run_to_end(engine, engine.monitor_job(TARGET, CREDENTIALS, job_id).id)

    assert execution.status is ExecutionStatus.COMPLETADO, execution.logs
    assert sum("Error transitorio" in line for line in execution.logs) == 2


def test_a_dropped_connection_while_polling_is_transient(replicas, sandboxed):
    engine = replicas("a").engine
    sandboxed.inject_fault(operation="GetIngestionJob", close_connection=True, count=3)

    execution = run_to_end(engine, engine.start_sync(SyncRequest(TARGET, CREDENTIALS)).id)

    assert execution.status is ExecutionStatus.COMPLETADO, execution.logs
    assert sum("ConnectionClosedError" in line for line in execution.logs) == 3


@pytest.mark.parametrize(
    "lost",
    [{"status": 500}, {}],
    ids=["500-after-the-job-was-created", "connection-closed-after-the-job-was-created"],
)
def test_a_lost_answer_to_the_start_is_retried_with_the_same_token(replicas, sandboxed, lost):
    engine = replicas("a").engine
    sandboxed.inject_fault(operation="StartIngestionJob", lost_answer=True, count=1, **lost)

    execution = run_to_end(engine, engine.start_sync(SyncRequest(TARGET, CREDENTIALS)).id)

    assert execution.status is ExecutionStatus.COMPLETADO, execution.logs
    starts = [params for name, params in sandboxed.calls if name == "StartIngestionJob"]
    assert [params["clientToken"] for params in starts] == [client_token_for(execution.id)] * 2
    history = HistoryService(engine, engine.clients).read(HistoryRequest(TARGET, CREDENTIALS))
    assert [row["id"] for row in history] == [execution.id]  # one sync, one row


def test_a_replica_that_starts_leaves_another_replicas_live_runs_alone(replicas, sandboxed):
    sandboxed.speed = 20
    first = replicas("a")
    execution = first.engine.start_sync(SyncRequest(TARGET, CREDENTIALS))
    wait_for(lambda: first.store.get(execution.id).job_id)

    second = replicas("b", takeover_credentials=CREDENTIALS)
    time.sleep(LEASE_SECONDS * 2)  # several of its keeper's turns
    second.coordinator.sweep()

    assert not second.engine.is_monitored(execution.id)
    assert not second.store.get(execution.id).interrupted
    sandboxed.speed = 200
    done = run_to_end(first.engine, execution.id)
    assert done.status is ExecutionStatus.COMPLETADO
    assert job_callers(sandboxed, done.job_id) == ["a"]


def test_a_dead_replicas_run_is_taken_over_once_and_ends_in_its_true_state(
    replicas, sandboxed
):
    sandboxed.speed = 20
    first = replicas("a")
    others = [replicas(name, takeover_credentials=CREDENTIALS) for name in ("b", "c")]
    execution = first.engine.start_sync(SyncRequest(TARGET, CREDENTIALS))
    job_id = wait_for(lambda: first.store.get(execution.id).job_id)

    first.die()
    died_at = time.monotonic()
    taker = wait_for(lambda: next(
        (replica for replica in others if replica.engine.is_monitored(execution.id)), None))
    taken_after = time.monotonic() - died_at

    assert taken_after < 2 * LEASE_SECONDS + 1
    sandboxed.speed = 200
    done = run_to_end(taker.engine, execution.id)
    assert done.status is ExecutionStatus.COMPLETADO
    assert any("dejó de responder" in line for line in done.logs)
    # "a" may or may not have polled before it died; of the others, only the taker ever did.
    assert job_callers(sandboxed, job_id)[-1:] == [taker.name]
    assert set(job_callers(sandboxed, job_id)) <= {"a", taker.name}
    starts = [params for name, params in sandboxed.calls if name == "StartIngestionJob"]
    assert len(starts) == 1


def test_a_stop_asked_of_one_replica_is_honoured_by_the_one_that_works_the_run(
    replicas, sandboxed
):
    sandboxed.speed = 5
    worker, front = replicas("a"), replicas("b")
    execution = worker.engine.start_sync(SyncRequest(TARGET, CREDENTIALS))
    wait_for(lambda: worker.store.get(execution.id).status is ExecutionStatus.EN_EJECUCION)

    front.engine.stop_sync(execution.id)  # no credentials: "a" holds the run

    stop_sent(worker.store, execution.id)
    sandboxed.speed = 200
    stopped = run_to_end(worker.engine, execution.id)
    assert stopped.status is ExecutionStatus.DETENIDO
    assert not front.engine.is_monitored(execution.id)


def test_a_stop_survives_the_death_of_the_replica_that_accepted_it(replicas, sandboxed):
    sandboxed.speed = 2
    first = replicas("a")
    execution = first.engine.start_sync(SyncRequest(TARGET, CREDENTIALS))
    wait_for(lambda: first.store.get(execution.id).status is ExecutionStatus.EN_EJECUCION)
    # The request is written, then the replica dies before its worker could act on it.
    first.coordinator.runs.request_stop(execution.id, "2026-11-30T10:00:00.000Z")
    first.die()

    second = replicas("b", takeover_credentials=CREDENTIALS)
    stop_sent(second.store, execution.id)
    sandboxed.speed = 200
    stopped = run_to_end(second.engine, execution.id)
    assert stopped.status is ExecutionStatus.DETENIDO, stopped.logs


def test_a_stop_that_failed_to_reach_aws_is_sent_again(replicas, sandboxed):
    sandboxed.speed = 5
    engine = replicas("a").engine
    execution = engine.start_sync(SyncRequest(TARGET, CREDENTIALS))
    wait_for(lambda: engine.get(execution.id).status is ExecutionStatus.EN_EJECUCION)
    sandboxed.inject_fault(operation="StopIngestionJob", close_connection=True, count=2)

    engine.stop_sync(execution.id)

    wait_for(lambda: sum(
        "Deteniendo Ingestion Job" in line for line in engine.get(execution.id).logs) == 3)
    sandboxed.speed = 200
    stopped = run_to_end(engine, execution.id)
    assert stopped.status is ExecutionStatus.DETENIDO, stopped.logs
    stops = [name for name, _params in sandboxed.calls if name == "StopIngestionJob"]
    assert len(stops) == 3


def test_a_run_interrupted_by_a_replica_without_credentials_is_resumed_by_one_with_them(
    replicas, sandboxed
):
    sandboxed.speed = 20
    first = replicas("a")
    execution = first.engine.start_sync(SyncRequest(TARGET, CREDENTIALS))
    wait_for(lambda: first.store.get(execution.id).job_id)
    first.die()
    # A replica with no identity of its own finds the run first: all it can do is park it.
    bystander = replicas("b")
    interrupted = wait_for(lambda: bystander.store.get(execution.id).interrupted and
                           bystander.store.get(execution.id))
    assert interrupted.status is ExecutionStatus.EN_EJECUCION

    rescuer = replicas("c", takeover_credentials=CREDENTIALS)

    wait_for(lambda: rescuer.engine.is_monitored(execution.id))
    sandboxed.speed = 200
    done = run_to_end(rescuer.engine, execution.id)
    assert done.status is ExecutionStatus.COMPLETADO
    assert not done.interrupted
    assert sum("ningún proceso de kbsync tiene credenciales" in line for line in done.logs) == 1


def test_a_replica_that_stalled_past_its_lease_stops_without_writing(replicas, sandboxed):
    sandboxed.speed = 5
    stalled = replicas("a")
    execution = stalled.engine.start_sync(SyncRequest(TARGET, CREDENTIALS))
    wait_for(lambda: stalled.store.get(execution.id).status is ExecutionStatus.EN_EJECUCION)
    # "a" stalls (a long GC pause, a frozen VM): its next lease renewals wait on `thaw`, its
    # lease runs out, and another replica claims the run. Then "a" thaws.
    thaw = threading.Event()
    for name in ("checkpoint", "renew_all"):
        renew = getattr(stalled.store.runs, name)
        setattr(stalled.store.runs, name, lambda *args, renew=renew: thaw.wait() and renew(*args))
    with stalled.store.engine.begin() as connection:
        connection.execute(
            runs_table.update().where(runs_table.c.id == execution.id).values(lease_expires_ms=0)
        )
    taker = replicas("b", takeover_credentials=CREDENTIALS)
    wait_for(lambda: taker.engine.is_monitored(execution.id))
    taken_at = time.time()
    thaw.set()

    wait_for(lambda: not stalled.engine.is_monitored(execution.id))  # its worker left
    sandboxed.speed = 200
    done = run_to_end(taker.engine, execution.id)
    assert done.status is ExecutionStatus.COMPLETADO
    assert any("dejó de responder" in line for line in done.logs)
    # Once "a" met the lost lease (at its next step), it polled no more and wrote nothing.
    # Once "a" met the lost lease (at its next step) it polled no more and wrote nothing.
    polls_by_a_after_takeover = [
        call for call in sandboxed.call_log
        if call.operation == "GetIngestionJob" and call.user_agent.endswith("kbsync/a")
        and call.at > taken_at + 0.5
    ]
    assert polls_by_a_after_takeover == []
    assert sum("Ingestion Job iniciado" in line for line in done.logs) == 1
