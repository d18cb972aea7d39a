"""The scheduler on the sandbox, with an injected clock: a slot fires once with a clientToken
derived from it, missed slots coalesce into one catch-up, a slot meeting a running sync is
skipped naming the job, AWS's quota is retried with backoff then skipped, and two schedulers
on one store claim each slot once."""

from datetime import UTC, datetime, timedelta

import pytest

from kbsync_core import events
from kbsync_core.aws import AwsClients
from kbsync_core.config import Settings
from kbsync_core.connections import Connections
from kbsync_core.errors import ConnectionInUseError
from kbsync_core.models import TRIGGER_SCHEDULE
from kbsync_core.scheduler import Scheduler, slot_execution_id
from kbsync_core.schedules import Schedules
from kbsync_core.store import ExecutionStore
from kbsync_core.sync import SyncEngine, client_token_for
from kbsync_core.timefmt import iso_utc

START = datetime(2026, 5, 4, 10, 0, 0, tzinfo=UTC)
CONNECTION = {
    "id": "handbook", "name": "Handbook", "region": "us-east-1",
    "knowledgeBaseId": "SANDBOXKB1", "dataSourceId": "SANDBOXDS1",
    "credentials": {"type": "default"},
}


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


class World:
    """One store, the sandbox, a connection, and what a replica runs on them."""

    def __init__(self, url: str, clock: Clock):
        settings = Settings(poll_seconds=0.02, aws_max_attempts=1)
        self.clock = clock
        self.store = ExecutionStore(url)
        self.clients = AwsClients(settings)
        self.connections = Connections(self.store.connections, self.clients)
        self.connections.ensure(CONNECTION)
        self.engine = SyncEngine(
            settings, self.store, self.clients,
            connection_credentials=self.connections.credentials_by_id,
        )
        self.schedules = Schedules(self.store.schedules, self.connections, clock)
        self.scheduler = self.replica("replica-a")

    def replica(self, owner: str) -> Scheduler:
        return Scheduler(
            self.store, self.connections, self.engine, self.clients, owner, clock=self.clock
        )

    def close(self) -> None:
        self.engine.close()
        self.store.close()


@pytest.fixture
def world(sandboxed, tmp_path):
    built = World(f"sqlite:///{tmp_path}/kbsync.sqlite3", Clock(START))
    yield built
    built.close()


def every_minute(world, **extra):
    return world.schedules.create(
        {"connectionId": "handbook", "expression": "* * * * *", "name": "each minute", **extra}
    ).record


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def jobs(sandboxed) -> list[dict]:
    return [params for name, params in sandboxed.calls if name == "StartIngestionJob"]


def test_a_due_slot_starts_one_sync_whose_client_token_derives_from_the_slot(world, sandboxed):
    schedule = every_minute(world)
    assert schedule.next_slot_at == "2026-05-04T10:01:00.000Z"
    assert world.scheduler.tick().claimed == 0  # not due yet
    world.clock.advance(minutes=1, seconds=2)
    assert world.scheduler.tick().claimed == 1
    assert world.scheduler.tick().claimed == 0  # the same slot never fires twice

    execution_id = slot_execution_id(schedule.id, "2026-05-04T10:01:00.000Z")
    assert [call["clientToken"] for call in jobs(sandboxed)] == [client_token_for(execution_id)]
    execution = world.engine.wait(execution_id, 10)
    assert str(execution.status) == "COMPLETADO"
    assert execution.trigger == TRIGGER_SCHEDULE
    assert world.schedules.names_of_executions([execution_id]) == {execution_id: "each minute"}
    assert [e.event for e in execution.events][:3] == [
        events.CREATED, events.SCHEDULED, events.JOB_STARTED
    ]
    shown = world.schedules.get(schedule.id)
    assert (shown.last_firing.outcome, shown.last_firing.execution_id) == ("started", execution_id)
    assert shown.record.next_slot_at == "2026-05-04T10:02:00.000Z"


def test_slots_missed_while_every_replica_was_down_make_one_catch_up_run(world, sandboxed):
    schedule = every_minute(world)
    world.clock.advance(minutes=10, seconds=30)  # nobody up from 10:01 to 10:10
    assert world.scheduler.tick().claimed == 1
    assert world.scheduler.tick().claimed == 0
    assert len(jobs(sandboxed)) == 1  # never a burst
    firing = world.schedules.get(schedule.id).last_firing
    assert firing.slot_at == "2026-05-04T10:10:00.000Z"
    assert firing.details == {"missed": 10, "since": "2026-05-04T10:01:00.000Z"}
    execution = world.engine.wait(firing.execution_id, 10)
    catch_up = [e for e in execution.events if e.event == events.CATCH_UP]
    assert [dict(e.values) for e in catch_up] == [
        {"missed": "10", "since": "2026-05-04T10:01:00.000Z"}
    ]
    assert "10 scheduled firings since 2026-05-04T10:01:00.000Z" in events.describe(
        catch_up[0], "en"
    )
    assert world.schedules.get(schedule.id).record.next_slot_at == "2026-05-04T10:11:00.000Z"


def test_a_slot_meeting_a_running_sync_is_skipped_naming_the_job(world, sandboxed):
    schedule = every_minute(world)
    sandboxed.speed = 0.01  # the outside job stays running
    outside = world.clients.bedrock_agent(
        world.connections.credentials_by_id("handbook"), "us-east-1"
    ).start_ingestion_job(knowledgeBaseId="SANDBOXKB1", dataSourceId="SANDBOXDS1")
    world.clock.advance(minutes=1)
    world.scheduler.tick()
    firing = world.schedules.get(schedule.id).last_firing
    assert firing.outcome == "skipped"
    assert firing.details["running_job_id"] == outside["ingestionJob"]["ingestionJobId"]
    assert world.store.count() == 0  # no FALLIDO execution left behind

    # kbsync's own unfinished sync on the data source: skipped too, naming it.
    sandboxed.finish_running_jobs()
    world.clock.advance(minutes=1)
    world.scheduler.tick()
    started = world.schedules.get(schedule.id).last_firing
    assert started.outcome == "started"
    world.clock.advance(minutes=1)
    world.scheduler.tick()
    skipped = world.schedules.get(schedule.id).last_firing
    assert (skipped.outcome, skipped.details["running_execution_id"]) == (
        "skipped", started.execution_id
    )
    sandboxed.finish_running_jobs()


def test_a_slot_meeting_a_dead_replicas_sync_whose_job_ended_starts(world, sandboxed):
    """A replica killed while its sync ran leaves the execution unfinished until another takes
    its run over; once AWS says its job ended, the data source is free: the slot starts."""
    from kbsync_core.models import Execution, ExecutionStatus
    from kbsync_core.store import Lease

    schedule = every_minute(world)
    sandboxed.speed = 0.01  # the dead replica's job runs until finished below
    job = world.clients.bedrock_agent(
        world.connections.credentials_by_id("handbook"), "us-east-1"
    ).start_ingestion_job(knowledgeBaseId="SANDBOXKB1", dataSourceId="SANDBOXDS1")
    stale = Execution("dead-replicas-sync", world.connections.get("handbook").target, "dead",
                      ExecutionStatus.EN_EJECUCION, iso_utc(START),
                      job_id=job["ingestionJob"]["ingestionJobId"])
    world.store.add(stale, lease=Lease(stale.id, "dead-replica", 30))
    world.clock.advance(minutes=1)
    world.scheduler.tick()
    skipped = world.schedules.get(schedule.id).last_firing
    assert (skipped.outcome, skipped.details["running_execution_id"]) == ("skipped", stale.id)

    sandboxed.finish_running_jobs()  # AWS ended it; kbsync's record still says running
    world.clock.advance(minutes=1)
    world.scheduler.tick()
    started = world.schedules.get(schedule.id).last_firing
    assert started.outcome == "started", started
    sandboxed.finish_running_jobs()
    assert str(world.engine.wait(started.execution_id, 10).status) == "COMPLETADO"


def test_a_full_quota_is_retried_with_backoff_then_the_slot_is_skipped(world, sandboxed):
    schedule = world.schedules.create(
        {"connectionId": "handbook", "expression": "1 MINUTE"}
    ).record
    sandboxed.speed = 0.01
    client = world.clients.bedrock_agent(world.connections.credentials_by_id("handbook"),
                                         "us-east-1")
    for n in range(5):  # the account's 5 concurrent jobs, on other data sources
        sandboxed.add_data_source(f"BUSYDS000{n}", {"doc.md": b"# Doc"})
        client.start_ingestion_job(knowledgeBaseId="SANDBOXKB1", dataSourceId=f"BUSYDS000{n}")
    slot = moment(schedule.next_slot_at)
    world.clock.now = slot
    world.scheduler.tick()
    firing = world.schedules.get(schedule.id).last_firing
    assert firing.outcome == "retrying"
    assert "ServiceQuotaExceededException" in firing.details["error"]
    waits = []
    while firing.outcome == "retrying":
        retry_at = moment(firing.retry_at)
        waits.append((retry_at - world.clock.now).total_seconds())
        world.clock.now = retry_at
        world.scheduler.tick()
        firing = world.store.schedules.firings(schedule.id)[-1]
    assert waits[:3] == [5, 10, 20]  # doubling, within the minute of the slot
    assert (firing.outcome, firing.details["reason"]) == ("skipped", "quota")
    assert firing.retry_at is None and world.store.count() == 0

    # Within a later slot's period the quota frees up: the retry starts it.
    world.clock.now = slot + timedelta(minutes=1)
    world.scheduler.tick()
    retrying = world.schedules.get(schedule.id).last_firing
    assert retrying.outcome == "retrying"
    sandboxed.finish_running_jobs()
    world.clock.now = moment(retrying.retry_at)
    world.scheduler.tick()
    assert world.schedules.get(schedule.id).last_firing.outcome == "started"


def test_two_schedulers_on_one_store_fire_each_slot_once(world, sandboxed):
    schedule = every_minute(world)
    other = world.replica("replica-b")
    for _minute in range(3):
        world.clock.advance(minutes=1)
        # Both saw the schedule due; each tries to claim: one wins.
        due = world.store.schedules.due(iso_utc(world.clock.now))
        assert [record.id for record in due] == [schedule.id]
        won = [world.scheduler._fire_due(due[0], world.clock.now),
               other._fire_due(due[0], world.clock.now)]
        assert sorted(won) == [False, True]
        world.engine.wait(world.schedules.get(schedule.id).last_firing.execution_id, 10)
    firings = world.store.schedules.firings(schedule.id)
    assert len(firings) == len({f.slot_at for f in firings}) == 3
    assert len(jobs(sandboxed)) == 3
    assert {f.outcome for f in firings} == {"started"}


def test_paused_and_windowed_schedules_fire_nothing(world, sandboxed):
    paused = every_minute(world)
    world.schedules.set_enabled(paused.id, False)
    every_minute(world, startTime="2026-05-04T12:00:00Z", name="later")
    every_minute(world, endTime="2026-05-04T10:00:30Z", name="over")
    world.clock.advance(minutes=5)
    assert world.scheduler.tick().claimed == 0
    assert jobs(sandboxed) == []
    resumed = world.schedules.set_enabled(paused.id, True)  # from the next slot: no catch-up
    assert resumed.record.next_slot_at == "2026-05-04T10:06:00.000Z"


def test_a_connection_with_schedules_is_not_deleted(world):
    every_minute(world)
    with pytest.raises(ConnectionInUseError, match="has schedules \\(each minute\\)"):
        world.connections.delete("handbook")


def test_a_firing_left_mid_start_by_a_dead_replica_starts_no_second_job(world, sandboxed):
    from kbsync_core.store.schedules import STARTING, FiringRecord

    schedule = every_minute(world)
    sandboxed.speed = 0.01  # 10:01's job runs on until the end
    slot = "2026-05-04T10:01:00.000Z"
    execution_id = slot_execution_id(schedule.id, slot)
    # The dead replica claimed the slot and AWS started its job, then it died: no execution.
    job = world.clients.bedrock_agent(
        world.connections.credentials_by_id("handbook"), "us-east-1"
    ).start_ingestion_job(knowledgeBaseId="SANDBOXKB1", dataSourceId="SANDBOXDS1",
                          clientToken=client_token_for(execution_id))["ingestionJob"]
    world.store.schedules.claim(FiringRecord(
        id=0, schedule_id=schedule.id, slot_at=slot, outcome=STARTING,
        execution_id=execution_id, claimed_by="dead-replica", claimed_at=slot, updated_at=slot,
        retry_at="2026-05-04T10:02:00.000Z", attempts=1, details={},
    ))
    world.store.schedules.advance(schedule.id, schedule.next_slot_at, "2026-05-04T10:02:00.000Z")
    world.clock.now = moment("2026-05-04T10:01:50.000Z")
    assert world.scheduler.tick() == type(world.scheduler.tick())(0, 0)  # not due again yet
    world.clock.now = moment("2026-05-04T10:02:00.500Z")
    report = world.scheduler.tick()
    assert (report.claimed, report.retaken) == (1, 1)
    fired = {f.slot_at: f for f in world.store.schedules.firings(schedule.id)}
    assert fired[slot].outcome == "started" and fired[slot].attempts == 2
    execution = world.store.get(execution_id)
    assert execution.job_id == job["ingestionJobId"]  # the same job, found by its token
    starts = [c for c in jobs(sandboxed) if c["clientToken"] == client_token_for(execution_id)]
    assert len(starts) == 2  # asked twice, one job: AWS answered the retry with the first
    # 10:02 came in the same tick, after: it met 10:01's sync and was skipped naming it.
    assert (fired["2026-05-04T10:02:00.000Z"].outcome,
            fired["2026-05-04T10:02:00.000Z"].details["running_execution_id"]) == (
        "skipped", execution_id
    )
    sandboxed.finish_running_jobs()
    assert str(world.engine.wait(execution_id, 10).status) == "COMPLETADO"
