"""Schema migrations: a database from kbsync 0.1.0 upgrades with nothing lost, on SQLite and on
PostgreSQL, and processes that open one database at the same moment all start."""

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from kbsync_core.store import ExecutionStore
from kbsync_core.store.database import (
    BASELINE_REVISION,
    MIGRATIONS_DIR,
    SCHEMA_REVISION,
    create_database_engine,
    current_revision,
    migration_config,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
# Written by kbsync 0.1.0 (commit 14085dd) itself: six executions (one of each ending, one
# left running and marked interrupted, one pending) and their thirteen log lines.
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "kbsync-0.1.0.sqlite3"
RUNNING_ID = "0b7c2a57-2c7e-4bde-9a55-1f0d8a1c0005"
PENDING_ID = "0b7c2a57-2c7e-4bde-9a55-1f0d8a1c0006"
FAILED_ID = "0b7c2a57-2c7e-4bde-9a55-1f0d8a1c0002"
HEAD_REVISION = SCHEMA_REVISION
# Today's main failed 2 starts in 10 on one SQLite file; PostgreSQL's lock is cheaper to show.
CONCURRENT_PROCESSES = {"sqlite": 10, "postgresql": 5}


def fixture_rows() -> tuple[list[dict], list[dict]]:
    """What 0.1.0 wrote, read straight from the file with sqlite3 (no kbsync code)."""
    connection = sqlite3.connect(FIXTURE)
    connection.row_factory = sqlite3.Row
    try:
        executions = [dict(row) for row in connection.execute("SELECT * FROM executions")]
        logs = [dict(row) for row in connection.execute("SELECT * FROM execution_logs")]
    finally:
        connection.close()
    return executions, logs


def assert_nothing_lost(store: ExecutionStore, added: dict[str, list[str]] | None = None) -> None:
    """Every row of the fixture is there; and the lines `added` to it, by execution id."""
    executions, logs = fixture_rows()
    assert store.count() == len(executions) == 6
    for row in executions:
        execution = store.get(row["id"])
        expected_logs = [log["line"] for log in sorted(logs, key=lambda log: log["id"])
                         if log["execution_id"] == row["id"]]
        expected_logs += (added or {}).get(row["id"], [])
        assert execution.logs == expected_logs  # the API's lines, byte for byte
        assert execution.events[0].event == "created"
        assert execution.trigger is None  # who started it was not recorded: unknown
        assert execution.to_dict()["trigger"] is None
        assert str(execution.status) == row["status"]
        assert execution.description == row["description"]
        assert execution.job_id == row["job_id"]
        assert execution.started_at == row["started_at"]
        assert execution.finished_at == row["finished_at"]
        assert execution.interrupted == bool(row["interrupted"])
    failed = store.get(FAILED_ID)
    assert failed.failure_reasons == ["Document broken.pdf could not be parsed"]
    assert failed.statistics == {"numberOfDocumentsScanned": 3, "numberOfDocumentsFailed": 3}


def assert_runs_follow_the_executions(store: ExecutionStore) -> None:
    """Every execution became a sync run; what was unfinished is there to be worked."""
    states = {row["id"]: store.runs.get(row["id"]).state for row in fixture_rows()[0]}
    assert states[RUNNING_ID] == "interrupted"
    assert states[PENDING_ID] == "active"
    assert {state for run_id, state in states.items()
            if run_id not in (RUNNING_ID, PENDING_ID)} == {"ended"}
    assert {e.id for e in store.list_unfinished()} == {RUNNING_ID, PENDING_ID}
    assert [e.id for e in store.list_interrupted(store.get(RUNNING_ID).target)] == [RUNNING_ID]


def assert_lines_became_events(store: ExecutionStore) -> None:
    """Each line of 0.1.0 is the event it was written for, at the UTC time it was written (the
    fixture was written on a server in UTC)."""
    failed = store.get(FAILED_ID)
    assert [(e.at, e.event, dict(e.values)) for e in failed.events] == [
        ("2026-11-21T01:00:00.000Z", "created", {}),
        ("2026-11-21T01:00:30.000Z", "failure_reason",
         {"reason": "Document broken.pdf could not be parsed"}),
        ("2026-11-21T01:00:30.000Z", "failed", {}),
    ]
    assert [(e.event, dict(e.values)) for e in store.get(RUNNING_ID).events] == [
        ("created", {}), ("job_started", {"job_id": "JOBAAAAAA5"}),
    ]
    refused = store.get("0b7c2a57-2c7e-4bde-9a55-1f0d8a1c0004").events
    assert (refused[1].event, dict(refused[1].values)) == (
        "aws_error", {"error": "ConflictException: busy"}
    )
    for row in fixture_rows()[0]:
        assert store.get(row["id"]).events[0].at == row["started_at"]


def assert_schedules_can_be_kept(store: ExecutionStore) -> None:
    """0007: the schedules tables exist, empty; no execution of 0.1.0 came from a schedule."""
    assert store.schedules.all() == []
    assert store.schedules.due("9999") == []
    assert store.schedules.schedules_of_executions(r["id"] for r in fixture_rows()[0]) == {}
    with store.engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert "schedule_id" in {c["name"] for c in inspector.get_columns("executions")}
        unique = inspector.get_unique_constraints("schedule_firings")
        assert [sorted(c["column_names"]) for c in unique] == [["schedule_id", "slot_at"]]
        indexes = {index["name"] for index in inspector.get_indexes("schedules")}
        assert "ix_schedules_next_slot_at" in indexes


def assert_ingestion_can_be_kept(store: ExecutionStore) -> None:
    """0008: the ingestion tables exist, empty, with the keys deduplication and resuming rely
    on; the executions of 0.1.0 are no ingestion job's."""
    assert store.ingestion.list_jobs() == (0, [])
    with store.engine.connect() as connection:
        inspector = sa.inspect(connection)
        assert inspector.get_pk_constraint("ingestion_records")["constrained_columns"] == [
            "job_id", "position"
        ]
        assert inspector.get_pk_constraint("ingestion_hashes")["constrained_columns"] == [
            "region", "knowledge_base_id", "data_source_id", "document_digest"
        ]
        indexes = {index["name"] for index in inspector.get_indexes("ingestion_jobs")}
        assert {"ix_ingestion_jobs_created_at", "ix_ingestion_jobs_status_created_at"} <= indexes
    assert {store.runs.get(row["id"]).kind for row in fixture_rows()[0]} == {"sync"}


def assert_upgraded_with_nothing_lost(url: str) -> None:
    """kbsync opens the database: at the newest revision, every row of 0.1.0 is there."""
    store = ExecutionStore(url)
    try:
        assert current_revision(store.engine) == HEAD_REVISION
        assert_nothing_lost(store)
        assert_lines_became_events(store)
        assert_runs_follow_the_executions(store)
        assert_schedules_can_be_kept(store)
        assert_ingestion_can_be_kept(store)
    finally:
        store.close()


@pytest.fixture
def server_in(monkeypatch):
    """Run the test as a server in this time zone: stored lines were written in local time."""

    def move_to(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield move_to
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def server_in_utc(server_in):
    server_in("UTC")


def test_a_sqlite_database_from_0_1_0_upgrades_with_nothing_lost(tmp_path, server_in_utc):
    database = tmp_path / "kbsync.sqlite3"
    shutil.copy(FIXTURE, database)
    assert_upgraded_with_nothing_lost(f"sqlite:///{database}")
    # Opening it again applies nothing and changes nothing.
    again = ExecutionStore(f"sqlite:///{database}")
    try:
        assert_nothing_lost(again)
    finally:
        again.close()


def test_a_postgresql_database_at_0_1_0s_schema_upgrades_with_nothing_lost(
    postgres_url, server_in_utc
):
    load_0_1_0_into_postgresql(postgres_url)
    assert_upgraded_with_nothing_lost(postgres_url)


def load_0_1_0_into_postgresql(postgres_url: str) -> None:
    """0.1.0 ran on SQLite only: build its schema on PostgreSQL with the baseline revision, and
    load the fixture's rows into it."""
    executions, logs = fixture_rows()
    engine = create_database_engine(postgres_url)
    with engine.connect() as connection:
        command.upgrade(migration_config(connection), BASELINE_REVISION)
        connection.commit()
        tables = sa.MetaData()
        tables.reflect(connection)
        connection.execute(
            tables.tables["executions"].insert(),
            [
                {
                    **row,
                    "interrupted": bool(row["interrupted"]),
                    "statistics": json.loads(row["statistics"]),
                    "failure_reasons": json.loads(row["failure_reasons"]),
                }
                for row in executions
            ],
        )
        connection.execute(tables.tables["execution_logs"].insert(), logs)
        connection.commit()
    engine.dispose()


# Lines 0.1.0 may hold besides the fixture's (written on a server in Madrid), each with what it
# must become: its event and values, or kept whole (`line`).
ODD_LINES = [
    ("[24/11/2026, 2:00:05] Estado actual: IN_PROGRESS", "status", {"status": "IN_PROGRESS"}),
    (
        "[24/11/2026, 2:00:06] Error transitorio al consultar el estado (ThrottlingException: "
        "Rate exceeded (slow down)\nRequestId: 7); se reintentará.",
        "poll_retry",
        {"error": "ThrottlingException: Rate exceeded (slow down)\nRequestId: 7"},
    ),
    ("[24/11/2026, 2:00:07] Una nota que ninguna plantilla dice", "text",
     {"text": "Una nota que ninguna plantilla dice"}),
    ("no time at all", "line", {"line": "no time at all"}),
    ("[24/11/2026, 02:00:09] Ejecución creada.", "line",
     {"line": "[24/11/2026, 02:00:09] Ejecución creada."}),
    ("[24/11/2026, 2:00:10] Reanudando la monitorización.", "resumed", {}),
]


def test_every_stored_line_becomes_an_event_and_the_api_reads_it_as_before(
    database_url, server_in, tmp_path
):
    server_in("Europe/Madrid")
    if database_url.startswith("sqlite"):
        shutil.copy(FIXTURE, database_url.removeprefix("sqlite:///"))
    else:
        load_0_1_0_into_postgresql(database_url)
    engine = create_database_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO execution_logs (id, execution_id, line) VALUES (:n, :id, :line)"),
            [{"n": 100 + n, "id": RUNNING_ID, "line": line}
             for n, (line, _event, _values) in enumerate(ODD_LINES)],
        )
    engine.dispose()

    store = ExecutionStore(database_url)
    try:
        running = store.get(RUNNING_ID)
        odd = running.events[2:]
        assert [(e.event, dict(e.values)) for e in odd] == [
            (event, values) for _line, event, values in ODD_LINES
        ]
        # Times read in Madrid (UTC+1), as they were written; a line showing none takes the
        # time of the line before it.
        assert [e.at for e in odd] == [
            "2026-11-24T01:00:05.000Z", "2026-11-24T01:00:06.000Z", "2026-11-24T01:00:07.000Z",
            "2026-11-24T01:00:07.000Z", "2026-11-24T01:00:09.000Z", "2026-11-24T01:00:10.000Z",
        ]
        # Every line, the fixture's own too, byte for byte as before (in Madrid, as written).
        assert_nothing_lost(store, {RUNNING_ID: [line for line, _event, _values in ODD_LINES]})
        with store.engine.connect() as connection:
            columns = {c["name"] for c in sa.inspect(connection).get_columns("execution_logs")}
        assert "line" not in columns and {"at", "event", "event_values"} <= columns
    finally:
        store.close()


OPEN_STORE = """
import sys
from kbsync_core.store import ExecutionStore
store = ExecutionStore(sys.argv[1])
print(store.count())
store.close()
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_processes_that_open_a_new_database_at_once_all_start(backend, tmp_path, request):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/shared.sqlite3"
    else:
        url = request.getfixturevalue("postgres_url")
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_STORE, url],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(CONCURRENT_PROCESSES[backend])
    ]
    results = [(process.wait(60), *process.communicate()) for process in processes]
    failures = [stderr for code, _out, stderr in results if code != 0]
    assert not failures, failures[0]
    assert [out.strip() for _code, out, _err in results] == ["0"] * CONCURRENT_PROCESSES[backend]
    store = ExecutionStore(url)
    try:
        assert current_revision(store.engine) == HEAD_REVISION
    finally:
        store.close()


def test_the_revision_the_schema_describes_is_alembics_head():
    from alembic.script import ScriptDirectory

    assert ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head() == SCHEMA_REVISION
