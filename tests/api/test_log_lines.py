"""The API's log lines stay the seeds', byte for byte, now that kbsync stores events: on a
server in Madrid, a database from kbsync 0.1.0 answers with the very lines it stored, and a new
sync's lines are `[d/m/yyyy, H:MM:SS] <the seeds' words>` in the server's local time."""

import re
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.api.client import JsonClient
from tests.api.conftest import history_body, sync_body
from tests.support.servers import start_console

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "kbsync-0.1.0.sqlite3"
FAILED_ID = "0b7c2a57-2c7e-4bde-9a55-1f0d8a1c0002"
COMPLETED_ID = "0b7c2a57-2c7e-4bde-9a55-1f0d8a1c0001"
SERVER_ZONE = "Europe/Madrid"
LOG_LINE = re.compile(
    r"^\[(?P<day>\d{1,2})/(?P<month>\d{1,2})/(?P<year>\d{4}), "
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2}):(?P<second>\d{2})\] (?P<text>.+)$"
)


@pytest.fixture(scope="module")
def madrid_api(tmp_path_factory):
    """A console whose server runs in Madrid, opened on a copy of 0.1.0's database."""
    data_dir = tmp_path_factory.mktemp("madrid-console")
    shutil.copy(FIXTURE, data_dir / "kbsync.sqlite3")
    with start_console(data_dir, {"TZ": SERVER_ZONE}, name="madrid-console") as running:
        yield JsonClient(running.url)


def stored_lines(execution_id: str) -> list[str]:
    connection = sqlite3.connect(FIXTURE)
    try:
        return [line for (line,) in connection.execute(
            "SELECT line FROM execution_logs WHERE execution_id = ? ORDER BY id", (execution_id,)
        )]
    finally:
        connection.close()


def moment_of(line: str) -> datetime:
    match = LOG_LINE.match(line)
    assert match, f"not a seed log line: {line!r}"
    parts = (int(match[name]) for name in ("year", "month", "day", "hour", "minute", "second"))
    return datetime(*parts, tzinfo=ZoneInfo(SERVER_ZONE))


def test_lines_stored_by_0_1_0_come_back_byte_for_byte(madrid_api):
    for execution_id in (FAILED_ID, COMPLETED_ID):
        reply = madrid_api.get("/api/sync", executionId=execution_id)
        assert reply.status == 200
        assert reply.json["logs"] == stored_lines(execution_id)
        assert reply.json["trigger"] is None  # not recorded then: unknown
    assert stored_lines(FAILED_ID)[1] == (
        "[21/11/2026, 1:00:30] Motivo del fallo: Document broken.pdf could not be parsed"
    )


def test_a_new_syncs_lines_are_the_seeds_in_the_servers_local_time(madrid_api):
    execution_id = madrid_api.start_sync(sync_body(description="Sync documents from workshop"))
    done = madrid_api.wait_until_final(execution_id)
    assert done["status"] == "COMPLETADO"
    assert done["trigger"] == "api"
    texts = [LOG_LINE.match(line)["text"] for line in done["logs"] if LOG_LINE.match(line)]
    assert len(texts) == len(done["logs"]), done["logs"]
    assert texts[:3] == [
        "Ejecución creada.",
        "Iniciando tarea de sincronización en Bedrock Knowledge Base...",
        f"Ingestion Job iniciado: {done['jobId']}",
    ]
    assert set(texts[3:-1]) <= {"Estado actual: IN_PROGRESS", "Estado actual: STARTING",
                                "Estado actual: COMPLETE"}
    assert texts[-2:] == ["Estado actual: COMPLETE", "Sincronización completada correctamente."]
    # Each time is the server's wall clock in Madrid (not UTC), within the sync's span.
    started = datetime.fromisoformat(done["startedAt"]).replace(microsecond=0)
    finished = datetime.fromisoformat(done["finishedAt"])
    assert all(started <= moment_of(line) <= finished for line in done["logs"]), done["logs"]
    assert moment_of(done["logs"][0]) == started

    history = madrid_api.post("/api/sync-history", history_body())
    assert history.status == 200
    (row,) = [row for row in history.json["executions"] if row["id"] == execution_id]
    assert row["logs"] == done["logs"]
    assert row["trigger"] == "api"
