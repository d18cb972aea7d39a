"""Log events: stored structured, rendered as the seeds' Spanish lines for the API (byte for
byte), and as English or Spanish text for the console; old lines read back into events."""

import re
import string
import time
from datetime import UTC, datetime

import pytest

from kbsync_core import events
from kbsync_core.events import (
    CATALOGUE,
    LINE,
    TEXT,
    LogEvent,
    describe,
    log_event,
    match_seed_text,
    parse_seed_line,
    seed_line,
)

SEED_LINE = re.compile(r"^\[\d{1,2}/\d{1,2}/\d{4}, \d{1,2}:\d{2}:\d{2}\] ")
# The seeds' words (000) and kbsync's additions, exactly as the JSON API has always written
# them: copied here, not read from the catalogue, so that a change to a template fails.
SEED_TEXTS = {
    "created": "Ejecución creada.",
    "starting": "Iniciando tarea de sincronización en Bedrock Knowledge Base...",
    "job_started": "Ingestion Job iniciado: {job_id}",
    "status": "Estado actual: {status}",
    "completed": "Sincronización completada correctamente.",
    "failed": "La sincronización terminó con errores.",
    "failure_reason": "Motivo del fallo: {reason}",
    "stopped": "Sincronización detenida.",
    "stop_requested": "Deteniendo Ingestion Job: {job_id}",
    "aws_error": "Error de AWS: {error}",
    "internal_error": "Error interno de kbsync: {error}",
    "poll_retry": "Error transitorio al consultar el estado ({error}); se reintentará.",
    "start_retry": "Error transitorio al iniciar el Ingestion Job ({error}); se reintentará con "
    "el mismo clientToken, sin riesgo de iniciar un segundo job.",
    "conflict": "Ya hay un Ingestion Job en curso en este data source: {job_id}. Puede "
    "monitorizarlo en lugar de iniciar otro.",
    "attached": "Monitorizando Ingestion Job existente: {job_id}",
    "resumed": "Reanudando la monitorización.",
    "taken_over": "Reanudando la monitorización: el proceso de kbsync que seguía esta ejecución "
    "dejó de responder.",
    "interrupted": "El proceso que seguía la ejecución se detuvo y ningún proceso de kbsync "
    "tiene credenciales para seguirla; tomará su estado final de AWS cuando se consulte el "
    "historial del data source con credenciales válidas.",
    "reconciled": "Estado final recuperado desde AWS: {status}",
    "sandbox_restarted": "El proceso se reinició y el sandbox integrado no conserva sus jobs: "
    "esta sincronización simulada se perdió.",
    "scheduled": "Sincronización iniciada por la programación {schedule} (franja {slot}).",
    "catch_up": "Ejecución de recuperación: no había ningún proceso de kbsync activo para "
    "{missed} ejecuciones programadas desde {since}; se ejecuta una sola vez, por la última.",
    "expected_documents": "Documentos esperados: {count} (objetos en el bucket del data source).",
    "text": "{text}",
    "line": "{line}",
}
# Values as they come: AWS's own words, parentheses, colons and line breaks included.
SAMPLE_VALUES = {
    "job_id": "ABCDEFGHIJ",
    "status": "IN_PROGRESS",
    "reason": "Document s3://bucket/a (1).pdf: could not be parsed",
    "error": "ThrottlingException: Rate exceeded (try again later)\nRequestId: 42",
    "text": "Una nota: escrita a mano.",
    "line": "[1/1/2026, 0:00:00] kept whole",
    "schedule": "nightly (30 2 * * *)",
    "slot": "2026-03-29T01:00:00.000Z",
    "missed": "4",
    "count": "120",
    "since": "2026-03-25T01:30:00.000Z",
}


def fields(template: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(template) if name}


@pytest.fixture
def server_in(monkeypatch):
    """Run the test as a server in this time zone (the API's lines are in its local time)."""

    def move_to(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield move_to
    monkeypatch.undo()
    time.tzset()


def sample(name: str, moment: datetime | None = None) -> LogEvent:
    return log_event(name, moment, **{k: SAMPLE_VALUES[k] for k in fields(SEED_TEXTS[name])})


def test_the_catalogue_keeps_the_seeds_words_and_speaks_english_with_the_same_values():
    assert {name: kind.spanish for name, kind in CATALOGUE.items()} == SEED_TEXTS
    for kind in CATALOGUE.values():
        assert kind.english and fields(kind.english) == fields(kind.spanish), kind.name
    english = [kind.english for kind in CATALOGUE.values() if kind.name not in (TEXT, LINE)]
    assert not [text for text in english if re.search(r"[áéíóúñ]|Ejecución|Sincroniz", text)]


def test_the_apis_line_is_byte_for_byte_the_seeds_in_the_servers_local_time(server_in):
    server_in("Europe/Madrid")
    created = log_event(events.CREATED, datetime(2024, 3, 5, 9, 0, 0, 999000, tzinfo=UTC))
    assert created.at == "2024-03-05T09:00:00.999Z"
    assert seed_line(created) == "[5/3/2024, 10:00:00] Ejecución creada."
    summer = log_event(events.JOB_STARTED, datetime(2024, 7, 15, 22, 5, 9, tzinfo=UTC),
                       job_id="ABCDEFGHIJ")
    assert seed_line(summer) == "[16/7/2024, 0:05:09] Ingestion Job iniciado: ABCDEFGHIJ"
    for name in CATALOGUE:
        event = sample(name, datetime(2026, 11, 22, 22, 50, 8, tzinfo=UTC))
        if name == LINE:
            assert seed_line(event) == SAMPLE_VALUES["line"]  # kept whole, as it was stored
            continue
        line = seed_line(event)
        assert SEED_LINE.match(line), line
        assert line == "[22/11/2026, 23:50:08] " + SEED_TEXTS[name].format(**SAMPLE_VALUES)


def test_the_console_reads_each_event_in_english_or_spanish():
    failed = log_event(events.FAILURE_REASON, reason="Document a.pdf could not be parsed")
    assert describe(failed, "en") == "Failure reason: Document a.pdf could not be parsed"
    assert describe(failed, "es") == "Motivo del fallo: Document a.pdf could not be parsed"
    assert describe(log_event(events.COMPLETED), "en") == "Sync completed successfully."
    assert describe(log_event(events.COMPLETED), "es") == "Sincronización completada correctamente."
    # AWS's words stay AWS's, in both languages.
    error = log_event(events.AWS_ERROR, error="AccessDeniedException: not authorized")
    assert describe(error, "en") == "AWS error: AccessDeniedException: not authorized"
    assert describe(error, "es") == "Error de AWS: AccessDeniedException: not authorized"


def test_an_event_takes_exactly_its_templates_values():
    with pytest.raises(ValueError, match="job_id"):
        log_event(events.JOB_STARTED)
    with pytest.raises(ValueError):
        log_event(events.CREATED, job_id="ABCDEFGHIJ")
    with pytest.raises(KeyError):
        log_event("no_such_event")


def test_an_event_stored_with_values_it_does_not_know_still_reads():
    odd = LogEvent("2026-11-22T22:50:08.000Z", events.JOB_STARTED, {"other": "x"})
    assert describe(odd, "en").startswith("job_started")
    unknown = LogEvent("2026-11-22T22:50:08.000Z", "from_a_newer_kbsync", {"a": "b"})
    assert describe(unknown, "es") == "from_a_newer_kbsync b"
    assert seed_line(unknown).endswith("] from_a_newer_kbsync b")


@pytest.mark.parametrize("zone", ["UTC", "Europe/Madrid", "America/Santiago"])
def test_every_line_kbsync_wrote_reads_back_as_its_event(server_in, zone):
    server_in(zone)
    for name in CATALOGUE:
        if name == LINE:
            continue
        written = sample(name, datetime(2026, 11, 22, 22, 50, 8, tzinfo=UTC))
        line = seed_line(written)
        read = parse_seed_line(line, "1970-01-01T00:00:00.000Z")
        assert (read.event, dict(read.values)) == (written.event, dict(written.values)), line
        assert read.at == "2026-11-22T22:50:08.000Z"
        assert seed_line(read) == line


def test_a_text_no_template_gives_is_kept_as_text():
    assert match_seed_text("Ejecución creada. Y algo más") == (
        TEXT, {"text": "Ejecución creada. Y algo más"}
    )
    assert match_seed_text("Reanudando la monitorización.") == (events.RESUMED, {})


def test_a_line_whose_time_does_not_read_back_as_written_is_kept_whole(server_in):
    server_in("Europe/Madrid")
    fallback = "2026-11-22T00:00:00.000Z"
    for line in (
        "no time at all",
        "[22/11/2026, 00:50:08] Ejecución creada.",  # a zero no kbsync writes
        "[31/3/2024, 2:30:00] Ejecución creada.",  # a time Madrid's clocks skipped
        "[31/2/2024, 2:30:00] Ejecución creada.",  # no such day
    ):
        read = parse_seed_line(line, fallback)
        assert read.event == LINE and seed_line(read) == line, line
    assert parse_seed_line("no time at all", fallback).at == fallback
    # The hour Madrid's clocks repeat is read as the first one: the same line again.
    twice = "[27/10/2024, 2:30:00] Sincronización detenida."
    assert seed_line(parse_seed_line(twice, fallback)) == twice
