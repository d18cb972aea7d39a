"""A table job every minute, two replicas on one PostgreSQL database against the sandbox server:
each slot runs once (one run row, one ingestion job at most), whichever replica claims it, and
every row reaches the CUSTOM data source exactly once, rows added between slots included.

The replicas' scheduler clocks run 30 times faster than real time (KBSYNC_SCHEDULER_CLOCK_SPEED,
the same origin in both), so a minute's slot comes every 2 s.
"""

import itertools
import sqlite3
import time
from contextlib import closing
from datetime import timedelta

import pytest

from kbsync_core.scheduler import scaled_clock
from kbsync_core.store import ExecutionStore
from kbsync_core.store.table_jobs import TableJobRecord
from kbsync_core.tables.sample import SAMPLE_ROWS, add_orders, ensure_sample
from kbsync_core.timefmt import iso_utc, parse_iso
from tests.api.client import wait_until
from tests.api.conftest import SandboxControl
from tests.support.replicas import replica_consoles
from tests.support.servers import start_sandbox_server
from tests.support.tokens import client, create_token

CLOCK_SPEED = 30
SLOT_SECONDS = 60 / CLOCK_SPEED
SLOTS = 4
SANDBOX_SPEED = 100


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("table-replicas-sandbox")
    with start_sandbox_server(log_dir, speed=SANDBOX_SPEED, name="table-sandbox") as running:
        yield running


def test_each_slot_of_a_table_job_runs_once_across_replicas(tmp_path_factory, postgres_server,
                                                           sandbox):  # fmt: skip
    control = SandboxControl(sandbox.url)
    source_dir = tmp_path_factory.mktemp("table-source")
    orders = source_dir / "orders.sqlite3"
    ensure_sample(orders)
    sources_file = source_dir / "sources.toml"
    sources_file.write_text(f'[sources.orders_db]\nurl = "sqlite:///{orders}"\n')
    environment = {
        "AWS_ACCESS_KEY_ID": "AKIAKBSYNCTABLEJOBS1",
        "AWS_SECRET_ACCESS_KEY": "table-replica-secret-0123456789abcdef",
        "KBSYNC_SCHEDULER_CLOCK_SPEED": str(CLOCK_SPEED),
        "KBSYNC_SCHEDULER_TICK_SECONDS": "0.2",
        "KBSYNC_INGEST_RATE": "200",
        "KBSYNC_SOURCES_FILE": str(sources_file),
    }
    with replica_consoles(tmp_path_factory, postgres_server, sandbox.url, environment) as (
        database_url, server_a, server_b,
    ):  # fmt: skip
        admin = client(server_a, create_token(server_a, "admin", "*"))
        created = admin.post("/api/connections", {
            "id": "orders-kb", "name": "Orders", "region": "us-east-1",
            "knowledgeBaseId": "SANDBOXKB1", "dataSourceId": "SANDBOXDS3",
            "credentials": {"type": "default"},
        })  # fmt: skip
        assert created.status == 201, created.json
        store = ExecutionStore(database_url)
        try:
            # The job as TableJobs.create saves it, its window on the replicas' sped-up clock.
            start = (scaled_clock(CLOCK_SPEED)() + timedelta(minutes=1)).replace(microsecond=0)
            now = iso_utc(start)
            job = TableJobRecord(
                id="job_replicas", name="orders every minute", source_table="orders_db.orders",
                content_columns=["product", "description"], filter_column="created_at",
                row_id_columns=["order_id"], kb_name="orders-kb", connection_id="orders-kb",
                region="us-east-1", knowledge_base_id="SANDBOXKB1", data_source_id="SANDBOXDS3",
                interval="1 MINUTE", start_at=now, end_at=iso_utc(start + timedelta(days=1)),
                paused=False, next_slot_at=now, watermark=None, running_run_id=None,
                created_at=now, updated_at=now,
            )  # fmt: skip
            assert store.table_jobs.insert(job)
            time.sleep(SLOT_SECONDS * 2.5)
            added = add_orders(orders, 3)
            time.sleep(SLOT_SECONDS * (SLOTS - 2.5))
            store.table_jobs.set_paused(job.id, True, None, iso_utc(start))
            wait_until(
                lambda: all(r.status != "running" for r in store.table_jobs.runs(job.id)),
                20, "every run ended",
            )  # fmt: skip
            runs = sorted(store.table_jobs.runs(job.id, 100), key=lambda r: r.slot_at)
        finally:
            store.close()
    slots = [run.slot_at for run in runs]
    assert len(slots) == len(set(slots)) >= SLOTS - 1, runs
    moments = [parse_iso(slot) for slot in slots]
    assert moments[0] == start
    assert all(b - a == timedelta(minutes=1) for a, b in itertools.pairwise(moments)), slots
    assert {run.status for run in runs} <= {"completed", "skipped"}, runs
    assert sum(run.rows_read for run in runs) == SAMPLE_ROWS + len(added)
    loads = [run for run in runs if run.ingestion_job_id]
    assert len({run.ingestion_job_id for run in loads}) == len(loads) >= 2
    # Claimed by the two replicas only (a busy machine may let either win every slot).
    claimers = {int(run.claimed_by.rsplit("-", 2)[-2]) for run in runs}
    assert claimers <= {server_a.process.pid, server_b.process.pid}, claimers
    sent = [
        document["content"]["custom"]["customDocumentIdentifier"]["id"]
        for call in control.calls("IngestKnowledgeBaseDocuments")
        for document in call["parameters"]["documents"]
    ]
    expected = {f"orders-{n}" for n in range(1, SAMPLE_ROWS + 1)} | {f"orders-{n}" for n in added}
    assert len(sent) == len(expected) and set(sent) == expected
    with closing(sqlite3.connect(orders)) as connection:
        assert connection.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == len(expected)
