"""A schedule firing every minute, two replicas on one PostgreSQL database, one of them killed
with SIGKILL in between: each slot fires exactly once, one job per slot on the sandbox server.

The replicas' scheduler clocks run 30 times faster than real time (KBSYNC_SCHEDULER_CLOCK_SPEED,
the same origin in both), so a minute's slot comes every 2 s and the test covers five slots in
about 11 s instead of five minutes.
"""

import itertools
import time
from datetime import timedelta

import pytest

from kbsync_core.store import ExecutionStore
from kbsync_core.timefmt import parse_iso
from tests.api.client import wait_until
from tests.api.conftest import SandboxControl
from tests.support.replicas import Replica, replica_consoles
from tests.support.servers import start_sandbox_server
from tests.support.tokens import client, create_token

CLOCK_SPEED = 30
SLOT_SECONDS = 60 / CLOCK_SPEED
SLOTS_BEFORE_KILL = 2
SLOTS_AFTER_KILL = 3
# Fast enough that a slot's job ends well before the next slot (a sample sync is 20-40 s at 1).
SANDBOX_SPEED = 100


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("schedule-replicas-sandbox")
    with start_sandbox_server(log_dir, speed=SANDBOX_SPEED, name="schedule-sandbox") as running:
        yield running


def test_each_slot_fires_once_across_replicas_and_a_kill(tmp_path_factory, postgres_server,
                                                         sandbox):
    control = SandboxControl(sandbox.url)
    environment = {
        "AWS_ACCESS_KEY_ID": "AKIAKBSYNCSCHEDULES1",
        "AWS_SECRET_ACCESS_KEY": "schedule-replica-secret-0123456789abcdef",
        "KBSYNC_SCHEDULER_CLOCK_SPEED": str(CLOCK_SPEED),
        "KBSYNC_SCHEDULER_TICK_SECONDS": "0.2",
    }
    with replica_consoles(tmp_path_factory, postgres_server, sandbox.url, environment) as (
        database_url, server_a, server_b,
    ):
        a, b = Replica(server_a), Replica(server_b)
        admin = client(server_a, create_token(server_a, "admin", "*"))
        created = admin.post("/api/connections", {
            "id": "handbook", "name": "Handbook", "region": "us-east-1",
            "knowledgeBaseId": "SANDBOXKB1", "dataSourceId": "SANDBOXDS1",
            "credentials": {"type": "default"},
        })
        assert created.status == 201, created.json
        schedule = admin.post("/api/schedules",
                              {"connectionId": "handbook", "expression": "* * * * *"})
        assert schedule.status == 201, schedule.json
        schedule_id = schedule.json["id"]

        time.sleep(SLOTS_BEFORE_KILL * SLOT_SECONDS + 0.5)
        a.server.kill()  # SIGKILL: mid-tick or mid-firing, as a crash would
        time.sleep(SLOTS_AFTER_KILL * SLOT_SECONDS)
        store = ExecutionStore(database_url)
        try:
            # A slot the killed replica left mid-start is due again a minute of the schedule's
            # clock later: the survivor takes it up and starts its job (a pause before that
            # would end it skipped, as a paused schedule's firings are).
            wait_until(
                lambda: not [f for f in store.schedules.firings(schedule_id, limit=100)
                             if f.outcome in ("starting", "retrying")],
                15, "the survivor settled every firing",
            )
            admin_b = client(server_b, create_token(server_b, "admin-b", "*"))
            assert admin_b.request("PUT", f"/api/schedules/{schedule_id}",
                                   {"enabled": False}).status == 200
            # A firing under way when it was paused (or left by the killed replica) ends.
            wait_until(
                lambda: not [f for f in store.schedules.firings(schedule_id, limit=100)
                             if f.outcome in ("starting", "retrying")],
                15, "every firing settled",
            )
            firings = sorted(store.schedules.firings(schedule_id, limit=100),
                             key=lambda f: f.slot_at)
        finally:
            store.close()
        slots = [f.slot_at for f in firings]
        assert len(slots) == len(set(slots)) >= SLOTS_BEFORE_KILL + SLOTS_AFTER_KILL - 1, firings
        # Consecutive minutes: no slot lost to the kill.
        moments = [parse_iso(slot) for slot in slots]
        assert all(later - earlier == timedelta(minutes=1)
                   for earlier, later in itertools.pairwise(moments)), slots
        assert {f.outcome for f in firings} == {"started"}, firings
        # Whichever replica claimed the slots before the kill (a busy machine may let either win
        # every race), the survivor fired the ones after it.
        claimers = [f.claimed_by.rsplit("-", 2)[-2] for f in firings]
        assert set(claimers) <= {str(a.pid), str(b.pid)}, claimers
        assert claimers[-(SLOTS_AFTER_KILL - 1):] == [str(b.pid)] * (SLOTS_AFTER_KILL - 1), claimers
        starts = [c for c in control.calls("StartIngestionJob") if "kbsync/" in c["userAgent"]]
        tokens = {c["parameters"]["clientToken"] for c in starts}
        assert len(tokens) == len(firings)  # one start per slot (a retry would repeat one)
        jobs = control.agent.list_ingestion_jobs(
            knowledgeBaseId="SANDBOXKB1", dataSourceId="SANDBOXDS1", maxResults=100
        )["ingestionJobSummaries"]
        assert len(jobs) == len(firings)  # one job per slot on the sandbox server
