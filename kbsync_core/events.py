"""An execution's log, as structured events: when (UTC), what (an event of the catalogue), and
its values. Rendered at the edge (DESIGN.md, "Events, languages and time"):

- `seed_line(event)`: the JSON API's line, byte for byte the seeds' (`[5/3/2024, 10:00:00]
  Ejecución creada.`: es-ES wall-clock time in the server's local zone, the seeds' words);
- `describe(event, language)`: the text alone, in English or Spanish, for the console, which
  writes the time itself (in the browser's zone).

Values are kept as they came: an AWS error or failure reason stays as AWS wrote it (redacted
before it is recorded). `parse_seed_line` goes the other way, for lines stored before events
were (migration 0005): a line that matches no template is kept whole, nothing lost.
"""

import re
import string
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from kbsync_core.timefmt import es_local_time, iso_utc, parse_iso, utc_now

ENGLISH = "en"
SPANISH = "es"

# The events of a sync's log (the seed's wording, 000, and kbsync's additions).
CREATED = "created"
STARTING = "starting"
JOB_STARTED = "job_started"
STATUS = "status"
COMPLETED = "completed"
FAILED = "failed"
FAILURE_REASON = "failure_reason"
STOPPED = "stopped"
STOP_REQUESTED = "stop_requested"
AWS_ERROR = "aws_error"
INTERNAL_ERROR = "internal_error"
POLL_RETRY = "poll_retry"
START_RETRY = "start_retry"
CONFLICT = "conflict"
ATTACHED = "attached"
RESUMED = "resumed"
TAKEN_OVER = "taken_over"
INTERRUPTED = "interrupted"
RECONCILED = "reconciled"
SANDBOX_RESTARTED = "sandbox_restarted"
# A sync a schedule started (kbsync_core/scheduler.py), and one that stands for the firings
# missed while no replica was up.
SCHEDULED = "scheduled"
CATCH_UP = "catch_up"
# How many documents a data source's first sync should scan, counted in its bucket: what its
# progress is measured against until a complete sync says (kbsync_core/progress.py).
EXPECTED_DOCUMENTS = "expected_documents"
# The optional value of an ending event: when a poll last saw the job running (ISO 8601 UTC,
# kbsync's clock; not AWS's updatedAt, whose clock need not be the server's: a sped-up
# sandbox's runs faster).
RUNNING_SEEN_AT = "running_seen_at"
# A line stored before events were, whose text matched no template: its text after the time.
TEXT = "text"
# A stored line whose time could not be read back exactly as written: the whole line, verbatim.
LINE = "line"


@dataclass(frozen=True)
class EventKind:
    name: str
    spanish: str  # the seeds' words: the JSON API's text
    english: str
    # Values kept beside the template's but never rendered, so the seeds' lines do not move:
    # AWS's error code, which seed 003's API maps to its error codes; on an ending event, when
    # the poll before the one that saw the end still saw the job running: the end happened
    # between the two, and durations are measured to the middle (a slow poll's lateness must
    # not lengthen the next sync's expected duration).
    optional: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(
            name for _literal, name, _spec, _conv in string.Formatter().parse(self.spanish)
            if name
        )


CATALOGUE: dict[str, EventKind] = {
    kind.name: kind
    for kind in (
        EventKind(CREATED, "Ejecución creada.", "Execution created."),
        EventKind(
            STARTING,
            "Iniciando tarea de sincronización en Bedrock Knowledge Base...",
            "Starting the sync task on the Bedrock knowledge base...",
        ),
        EventKind(
            JOB_STARTED, "Ingestion Job iniciado: {job_id}", "Ingestion job started: {job_id}"
        ),
        EventKind(STATUS, "Estado actual: {status}", "Current status: {status}"),
        EventKind(
            COMPLETED,
            "Sincronización completada correctamente.",
            "Sync completed successfully.",
            (RUNNING_SEEN_AT,),
        ),
        EventKind(
            FAILED,
            "La sincronización terminó con errores.",
            "The sync ended with errors.",
            (RUNNING_SEEN_AT,),
        ),
        EventKind(FAILURE_REASON, "Motivo del fallo: {reason}", "Failure reason: {reason}"),
        EventKind(STOPPED, "Sincronización detenida.", "Sync stopped.", (RUNNING_SEEN_AT,)),
        EventKind(
            STOP_REQUESTED, "Deteniendo Ingestion Job: {job_id}", "Stopping ingestion job: {job_id}"
        ),
        EventKind(AWS_ERROR, "Error de AWS: {error}", "AWS error: {error}", ("code",)),
        EventKind(
            INTERNAL_ERROR, "Error interno de kbsync: {error}", "kbsync internal error: {error}"
        ),
        EventKind(
            POLL_RETRY,
            "Error transitorio al consultar el estado ({error}); se reintentará.",
            "Transient error while reading the status ({error}); it will be retried.",
        ),
        EventKind(
            START_RETRY,
            "Error transitorio al iniciar el Ingestion Job ({error}); se reintentará con el mismo "
            "clientToken, sin riesgo de iniciar un segundo job.",
            "Transient error while starting the ingestion job ({error}); it will be retried with "
            "the same clientToken, with no risk of starting a second job.",
        ),
        EventKind(
            CONFLICT,
            "Ya hay un Ingestion Job en curso en este data source: {job_id}. "
            "Puede monitorizarlo en lugar de iniciar otro.",
            "An ingestion job is already running on this data source: {job_id}. "
            "You can monitor it instead of starting another.",
        ),
        EventKind(
            ATTACHED,
            "Monitorizando Ingestion Job existente: {job_id}",
            "Monitoring an existing ingestion job: {job_id}",
        ),
        EventKind(RESUMED, "Reanudando la monitorización.", "Resuming monitoring."),
        EventKind(
            TAKEN_OVER,
            "Reanudando la monitorización: el proceso de kbsync que seguía esta ejecución dejó "
            "de responder.",
            "Resuming monitoring: the kbsync process that watched this execution stopped "
            "responding.",
        ),
        EventKind(
            INTERRUPTED,
            "El proceso que seguía la ejecución se detuvo y ningún proceso de kbsync tiene "
            "credenciales para seguirla; tomará su estado final de AWS cuando se consulte el "
            "historial del data source con credenciales válidas.",
            "The process that watched the execution stopped and no kbsync process has "
            "credentials to go on; it will take its final state from AWS when the data source's "
            "history is read with valid credentials.",
        ),
        EventKind(
            RECONCILED,
            "Estado final recuperado desde AWS: {status}",
            "Final state recovered from AWS: {status}",
        ),
        EventKind(
            SANDBOX_RESTARTED,
            "El proceso se reinició y el sandbox integrado no conserva sus jobs: "
            "esta sincronización simulada se perdió.",
            "The process restarted and the embedded sandbox does not keep its jobs: "
            "this simulated sync was lost.",
        ),
        EventKind(
            SCHEDULED,
            "Sincronización iniciada por la programación {schedule} (franja {slot}).",
            "Sync started by the schedule {schedule} (slot {slot}).",
        ),
        EventKind(
            CATCH_UP,
            "Ejecución de recuperación: no había ningún proceso de kbsync activo para "
            "{missed} ejecuciones programadas desde {since}; se ejecuta una sola vez, por la "
            "última.",
            "Catch-up run: no kbsync process was up for {missed} scheduled firings since "
            "{since}; it runs once, for the latest.",
        ),
        EventKind(
            EXPECTED_DOCUMENTS,
            "Documentos esperados: {count} (objetos en el bucket del data source).",
            "Documents expected: {count} (objects in the data source's bucket).",
        ),
        EventKind(TEXT, "{text}", "{text}"),
        EventKind(LINE, "{line}", "{line}"),
    )
}


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One entry of an execution's log: `at` as iso_utc writes it, an event of CATALOGUE, and
    its values (text, as JSON keeps them)."""

    at: str
    event: str
    values: Mapping[str, str] = field(default_factory=dict)


def log_event(name: str, moment: datetime | None = None, **values: str) -> LogEvent:
    """A new event of the catalogue, now (or at `moment`); its values must be the template's."""
    kind = CATALOGUE[name]
    if not set(kind.fields) <= set(values) <= {*kind.fields, *kind.optional}:
        raise ValueError(f"event {name!r} takes {kind.fields}, not {tuple(values)}")
    return LogEvent(iso_utc(moment or utc_now()), name, {k: str(v) for k, v in values.items()})


def _text(event: LogEvent, template: str | None) -> str:
    """The template with the event's values; an event this kbsync does not know (a newer
    one's), or stored with other values, as its name and values."""
    if template is not None:
        try:
            return template.format_map(event.values)
        except (KeyError, ValueError, IndexError):
            pass
    return " ".join([event.event, *map(str, event.values.values())])


def seed_text(event: LogEvent) -> str:
    """The event's text in the seeds' words, without its time."""
    kind = CATALOGUE.get(event.event)
    return _text(event, kind.spanish if kind else None)


def seed_line(event: LogEvent) -> str:
    """The JSON API's line: `[<d/m/yyyy, H:MM:SS>] <text>`, as the seeds write it."""
    return seed_lines([event])[0]


def seed_lines(events: Iterable[LogEvent]) -> list[str]:
    """`seed_line` of each event (a whole log at once: the local zone is looked up once)."""
    clocks = _seed_clocks()
    lines = []
    for event in events:
        name = event.event
        if name == LINE:
            lines.append(str(event.values.get(LINE, "")))
            continue
        clock = clocks.get(event.at)
        if clock is None:
            clock = clocks[event.at] = es_local_time(parse_iso(event.at))
        kind = CATALOGUE.get(name)
        lines.append(f"[{clock}] {_text(event, kind.spanish if kind else None)}")
    return lines


# Seed clocks already rendered (`5/3/2024, 10:00:00` by `at`), for the local zone as
# time.tzset() last set it: a page that shows the same syncs again (History's refresh, a poll
# of the API) renders each time once. A few MB at most, then started afresh.
_SEED_CLOCKS: dict[tuple, dict[str, str]] = {}
SEED_CLOCKS_KEPT = 100_000


def _seed_clocks() -> dict[str, str]:
    zone = (time.timezone, time.altzone, time.tzname)
    clocks = _SEED_CLOCKS.get(zone)
    if clocks is None or len(clocks) > SEED_CLOCKS_KEPT:
        _SEED_CLOCKS.clear()  # one zone at a time: another is only ever a test's
        clocks = _SEED_CLOCKS[zone] = {}
    return clocks


def describe(event: LogEvent, language: str) -> str:
    """The event's text alone, in English (`en`) or Spanish (`es`)."""
    kind = CATALOGUE.get(event.event)
    if kind is None:
        return _text(event, None)
    return _text(event, kind.spanish if language == SPANISH else kind.english)


# -- lines stored before events were --------------------------------------------------------

SEED_LINE = re.compile(
    r"\[(?P<day>\d{1,2})/(?P<month>\d{1,2})/(?P<year>\d{4}), "
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2}):(?P<second>\d{2})\] (?P<text>.*)",
    re.DOTALL,
)


def _template_pattern(template: str) -> re.Pattern:
    parts = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name:
            parts.append(f"(?P<{name}>.*)")
    return re.compile("".join(parts), re.DOTALL)


# Fallbacks last: every other template is tried first.
_PATTERNS = [
    (name, _template_pattern(kind.spanish))
    for name, kind in CATALOGUE.items()
    if name not in (TEXT, LINE)
]


def match_seed_text(text: str) -> tuple[str, dict[str, str]]:
    """The event and values whose Spanish template gives exactly `text`; (TEXT, {"text"})
    when none does."""
    for name, pattern in _PATTERNS:
        found = pattern.fullmatch(text)
        if found:
            return name, found.groupdict()
    return TEXT, {"text": text}


def parse_seed_line(line: str, fallback_at: str) -> LogEvent:
    """The event a stored line was written for, its time read in the server's local zone, as
    it was written. `seed_line` of the answer is `line` again, byte for byte: a line whose time
    does not read back exactly as written (or that has none) is kept whole as a LINE event,
    at the time it seems to say or else at `fallback_at`."""
    found = SEED_LINE.fullmatch(line)
    if found is None:
        return LogEvent(fallback_at, LINE, {"line": line})
    try:
        local = datetime(
            *(int(found[part]) for part in ("year", "month", "day", "hour", "minute", "second"))
        )
    except ValueError:  # 31/2/2026, 25:00:00...
        return LogEvent(fallback_at, LINE, {"line": line})
    at = iso_utc(local.astimezone())  # a naive time is read in the process's local zone
    name, values = match_seed_text(found["text"])
    event = LogEvent(at, name, values)
    if seed_line(event) != line:  # written as no kbsync writes it, or in another zone's gap
        return LogEvent(at, LINE, {"line": line})
    return event
