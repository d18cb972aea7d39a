"""Schema migrations: a database from kbsync 0.1.0 upgrades with nothing lost, on SQLite and on
PostgreSQL, and processes that open one database at the same moment all start."""

import json
import shutil
import sqlite3
import subprocess
import sys
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


def assert_nothing_lost(store: ExecutionStore) -> None:
    executions, logs = fixture_rows()
    assert store.count() == len(executions) == 6
    for row in executions:
        execution = store.get(row["id"])
        expected_logs = [log["line"] for log in sorted(logs, key=lambda log: log["id"])
                         if log["execution_id"] == row["id"]]
        assert execution.logs == expected_logs
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


def assert_upgraded_with_nothing_lost(url: str) -> None:
    """kbsync opens the database: at the newest revision, every row of 0.1.0 is there."""
    store = ExecutionStore(url)
    try:
        assert current_revision(store.engine) == HEAD_REVISION
        assert_nothing_lost(store)
        assert_runs_follow_the_executions(store)
    finally:
        store.close()


def test_a_sqlite_database_from_0_1_0_upgrades_with_nothing_lost(tmp_path):
    database = tmp_path / "kbsync.sqlite3"
    shutil.copy(FIXTURE, database)
    assert_upgraded_with_nothing_lost(f"sqlite:///{database}")
    # Opening it again applies nothing and changes nothing.
    again = ExecutionStore(f"sqlite:///{database}")
    try:
        assert_nothing_lost(again)
    finally:
        again.close()


def test_a_postgresql_database_at_0_1_0s_schema_upgrades_with_nothing_lost(postgres_url):
    # 0.1.0 ran on SQLite only: build its schema on PostgreSQL with the baseline revision,
    # load the fixture's rows into it, then let kbsync open it.
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

    assert_upgraded_with_nothing_lost(postgres_url)


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
