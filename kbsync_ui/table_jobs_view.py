"""The Table jobs page's pieces (seed 004): the list (status, next run, last run and rows
sent), the chosen job's actions (pause or resume, run now, delete) and its runs, the form that
creates one from the sources' tables and columns, and the sandbox's "Add sample rows".

The core checks a job (kbsync_core/tables/validation.py) and names each problem's field: the
form shows each under its field. Times are the browser's zone (format_moment).
"""

from contextlib import suppress
from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from kbsync_core.errors import (
    SourceError,
    TableJobBusyError,
    TableJobInvalidError,
    TableJobNotFoundError,
)
from kbsync_core.runtime import Kbsync
from kbsync_ui.i18n import Texts, format_moment

TEXTS = Texts(
    {
        "name": ("Name", "Nombre"),
        "source": ("Source", "Origen"),
        "table": ("Table", "Tabla"),
        "source_table": ("Source table", "Tabla de origen"),
        "content_columns": ("Content columns", "Columnas de contenido"),
        "content_help": (
            "Each row's document: these columns as `column: value` lines; the others become its "
            "metadata.",
            "El documento de cada fila: estas columnas como líneas `columna: valor`; las demás "
            "pasan a ser sus metadatos.",
        ),
        "filter_column": ("Filter column", "Columna de filtro"),
        "filter_help": (
            "Usually a timestamp: each run reads the rows after the last one loaded, in its order.",
            "Normalmente una marca de tiempo: cada ejecución lee las filas posteriores a la última "
            "cargada, en su orden.",
        ),
        "kb_name": ("Connection", "Conexión"),
        "interval": ("Interval", "Intervalo"),
        "interval_help": (
            "5 MINUTES, 1 HOUR, 6 HOURS, 1 DAY, HOURLY, DAILY, WEEKLY: at least one minute.",
            "5 MINUTES, 1 HOUR, 6 HOURS, 1 DAY, HOURLY, DAILY, WEEKLY: un minuto como mínimo.",
        ),
        "start_time": (
            "Start (ISO 8601, UTC unless it has an offset)",
            "Inicio (ISO 8601, UTC salvo que lleve desfase)",
        ),
        "end_time": (
            "End (ISO 8601; at most 30 days after the start)",
            "Fin (ISO 8601; como mucho 30 días después del inicio)",
        ),
        "create": ("Create job", "Crear trabajo"),
        "created": (
            "Created the job {name}: its first run is {moment}.",
            "Trabajo {name} creado: su primera ejecución es {moment}.",
        ),
        "refused": ("The job was not created: {message}.", "No se creó el trabajo: {message}."),
        "no_sources": (
            "No SQL source is configured (KBSYNC_SOURCES_FILE).",
            "No hay ningún origen SQL configurado (KBSYNC_SOURCES_FILE).",
        ),
        "no_tables": ("This source has no tables.", "Este origen no tiene tablas."),
        "no_connections": (
            "Add a connection first: table jobs send rows through one.",
            "Añada antes una conexión: los trabajos de tabla envían las filas a través de una.",
        ),
        "status": ("Status", "Estado"),
        "next_run": ("Next run", "Próxima ejecución"),
        "last_run": ("Last run", "Última ejecución"),
        "last_status": ("Last outcome", "Último resultado"),
        "rows_sent": ("Rows sent", "Filas enviadas"),
        "scheduled": ("scheduled", "programado"),
        "paused": ("paused", "en pausa"),
        "finished": ("finished", "terminado"),
        "running": ("running", "en curso"),
        "completed": ("completed", "completada"),
        "failed": ("failed", "fallida"),
        "cancelled": ("cancelled", "cancelada"),
        "skipped": ("skipped", "omitida"),
        "choose": ("Job", "Trabajo"),
        "pause": ("Pause", "Pausar"),
        "resume": ("Resume", "Reanudar"),
        "paused_notice": ("Paused {name}.", "{name} en pausa."),
        "resumed_notice": (
            "Resumed {name}: it runs from its next slot.",
            "{name} reanudado: se ejecuta desde su próxima franja.",
        ),
        "run_now": ("Run now", "Ejecutar ahora"),
        "ran": ("Started a run of {name}.", "Ejecución de {name} iniciada."),
        "busy": (
            "A run of {name} is under way: wait for it to end.",
            "Hay una ejecución de {name} en curso: espere a que termine.",
        ),
        "delete": ("Delete", "Eliminar"),
        "delete_confirm": (
            "Delete the job {name} and its runs? What it sent stays in the knowledge base.",
            "¿Eliminar el trabajo {name} y sus ejecuciones? Lo enviado se queda en la "
            "base de conocimiento.",
        ),
        "delete_yes": ("Yes, delete {name}", "Sí, eliminar {name}"),
        "deleted": ("Deleted the job {name}.", "Trabajo {name} eliminado."),
        "runs": ("Runs", "Ejecuciones"),
        "no_runs": ("No runs yet.", "Aún no hay ejecuciones."),
        "started": ("Started", "Inicio"),
        "finished_at": ("Finished", "Fin"),
        "trigger": ("Trigger", "Origen"),
        "schedule": ("schedule", "programación"),
        "manual": ("run now", "ejecutar ahora"),
        "rows_read": ("Read", "Leídas"),
        "sent": ("Sent", "Enviadas"),
        "rows_skipped": ("Unchanged", "Sin cambios"),
        "rows_failed": ("Failed", "Fallidas"),
        "error": ("Error", "Error"),
        "watermark": ("Loaded up to: {watermark}", "Cargado hasta: {watermark}"),
        "add_rows": ("Add sample rows", "Añadir filas de ejemplo"),
        "add_rows_help": (
            "Adds 3 orders to the sandbox's orders_db.orders, the first with the newest row's "
            "created_at: the next run reads exactly those.",
            "Añade 3 pedidos a orders_db.orders del sandbox, el primero con el created_at de la "
            "fila más reciente: la siguiente ejecución lee exactamente esos.",
        ),
        "rows_added": (
            "Added orders {ids} to orders_db.orders.",
            "Pedidos {ids} añadidos a orders_db.orders.",
        ),
    }
)
KEY = "table_jobs_{}"
PICK_KEY = KEY.format("pick")
PICK_NEXT_KEY = KEY.format("pick_next")
NOTICE_KEY = KEY.format("notice")
DELETE_PENDING_KEY = KEY.format("delete_pending")
SAMPLE_ROWS = 3


def form_key(field: str) -> str:
    return KEY.format(f"form_{field}")


def word(value: str | None) -> str:
    """A status or trigger in the operator's language (as it is, when it has no words)."""
    if not value:
        return "—"
    try:
        return TEXTS(value)
    except KeyError:
        return value


def render_notice() -> None:
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.success(notice, icon=":material/check_circle:")


def render_sample_rows(kbsync: Kbsync) -> None:
    """The sandbox's button: rows added to orders_db.orders, to watch an incremental run."""
    if not kbsync.settings.uses_sandbox:
        return
    if st.button(TEXTS("add_rows"), key=KEY.format("add_rows"), icon=":material/add_row_below:",
                 help=TEXTS("add_rows_help")):  # fmt: skip
        with suppress(SourceError):  # no sample source: nothing to add to
            ids = kbsync.table_jobs.add_sample_rows(SAMPLE_ROWS)
            st.success(TEXTS("rows_added", ids=", ".join(map(str, ids))),
                       icon=":material/check_circle:")  # fmt: skip


def render_job_list(jobs: list[dict]) -> None:
    rows = []
    for job in jobs:
        last = job["last_run"] or {}
        rows.append(
            {
                TEXTS("name"): job["job_name"],
                TEXTS("source_table"): job["source_table"],
                TEXTS("kb_name"): job["kb_name"],
                TEXTS("interval"): job["interval"],
                TEXTS("status"): word(job["status"]),
                TEXTS("next_run"): format_moment(job["next_run"]),
                TEXTS("last_run"): format_moment(last.get("started_at")),
                TEXTS("last_status"): word(last.get("status")),
                TEXTS("rows_sent"): last.get("rows_sent", "—"),
            }
        )
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def pick_job(jobs: list[dict]) -> dict | None:
    by_id = {job["job_id"]: job for job in jobs}
    if PICK_NEXT_KEY in st.session_state:
        st.session_state[PICK_KEY] = st.session_state.pop(PICK_NEXT_KEY)
    if st.session_state.get(PICK_KEY) not in by_id:
        st.session_state.pop(PICK_KEY, None)
    chosen = st.selectbox(
        TEXTS("choose"), list(by_id), key=PICK_KEY, index=0 if by_id else None,
        format_func=lambda job_id: f"{by_id[job_id]['job_name']} — {by_id[job_id]['kb_name']}",
    )  # fmt: skip
    return by_id.get(chosen)


def render_actions(kbsync: Kbsync, job: dict) -> None:
    """Pause or resume, run now, and delete (after a second click naming it)."""
    job_id, name = job["job_id"], job["job_name"]
    pause, run, delete = st.columns(3)
    paused = job["status"] == "paused"
    if pause.button(TEXTS("resume") if paused else TEXTS("pause"), key=KEY.format("toggle"),
                    icon=":material/pause_circle:"):  # fmt: skip
        with suppress(TableJobNotFoundError):  # deleted meanwhile: the list says so
            if paused:
                kbsync.table_jobs.resume(job_id)
            else:
                kbsync.table_jobs.pause(job_id)
        notice = "resumed_notice" if paused else "paused_notice"
        st.session_state[NOTICE_KEY] = TEXTS(notice, name=name)
        st.rerun()
    if run.button(TEXTS("run_now"), key=KEY.format("run_now"), icon=":material/play_arrow:"):
        try:
            kbsync.table_jobs.run_now(job_id)
            st.success(TEXTS("ran", name=name), icon=":material/check_circle:")
        except TableJobBusyError:
            st.warning(TEXTS("busy", name=name), icon=":material/block:")
        except TableJobNotFoundError:
            st.rerun()
    if delete.button(TEXTS("delete"), key=KEY.format("delete"), icon=":material/delete:"):
        st.session_state[DELETE_PENDING_KEY] = job_id
    if st.session_state.get(DELETE_PENDING_KEY) != job_id:
        return
    st.warning(TEXTS("delete_confirm", name=name))
    if st.button(TEXTS("delete_yes", name=name), type="primary", key=KEY.format("delete_yes")):
        st.session_state.pop(DELETE_PENDING_KEY, None)
        with suppress(TableJobNotFoundError):  # deleted meanwhile: the same outcome
            kbsync.table_jobs.delete(job_id)
        st.session_state[NOTICE_KEY] = TEXTS("deleted", name=name)
        st.session_state[PICK_NEXT_KEY] = None
        st.rerun()


def render_runs(kbsync: Kbsync, job: dict) -> None:
    """The chosen job's runs, newest first: rows read, sent, unchanged and failed, and why."""
    try:
        body = kbsync.table_jobs.body(job["job_id"])
    except TableJobNotFoundError:
        return
    st.subheader(TEXTS("runs"))
    if body["watermark"]:
        st.caption(TEXTS("watermark", watermark=body["watermark"]))
    if not body["runs"]:
        st.caption(TEXTS("no_runs"))
        return
    rows = [
        {
            TEXTS("started"): format_moment(run["started_at"]),
            TEXTS("finished_at"): format_moment(run["finished_at"]),
            TEXTS("trigger"): word(run["trigger"]),
            TEXTS("status"): word(run["status"]),
            TEXTS("rows_read"): run["rows_read"],
            TEXTS("sent"): run["rows_sent"],
            TEXTS("rows_skipped"): run["rows_skipped"],
            TEXTS("rows_failed"): run["rows_failed"],
            TEXTS("error"): run["error"] or "",
        }
        for run in body["runs"]
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def _default_moment(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).replace(microsecond=0, tzinfo=None).isoformat()


def render_form(kbsync: Kbsync) -> None:
    """Create a job: the source, its table and columns picked from what the source has; every
    problem the core finds shown under its field."""
    service = kbsync.table_jobs
    sources = service.source_names()
    connections = [connection.id for connection in kbsync.connections.list()]
    if not sources:
        st.info(TEXTS("no_sources"))
        return
    if not connections:
        st.info(TEXTS("no_connections"))
        return
    slots: dict = {}
    body: dict = {"job_name": st.text_input(TEXTS("name"), key=form_key("job_name"))}
    slots["job_name"] = st.empty()
    source = st.selectbox(TEXTS("source"), sources, key=form_key("source"))
    try:
        tables = service.tables(source)
    except SourceError as error:
        st.warning(str(error), icon=":material/warning:")
        tables = []
    if not tables:
        st.caption(TEXTS("no_tables"))
        return
    table = st.selectbox(TEXTS("table"), tables, key=form_key("source_table"))
    body["source_table"] = table
    slots["source_table"] = st.empty()
    try:
        columns = [column.name for column in service.columns(table)]
    except SourceError as error:
        st.warning(str(error), icon=":material/warning:")
        columns = []
    body["content_columns"] = st.multiselect(
        TEXTS("content_columns"), columns, key=form_key(f"content_columns_{table}"),
        help=TEXTS("content_help"),
    )  # fmt: skip
    slots["content_columns"] = st.empty()
    body["filter_column"] = st.selectbox(
        TEXTS("filter_column"), columns, key=form_key(f"filter_column_{table}"),
        index=columns.index("created_at") if "created_at" in columns else 0,
        help=TEXTS("filter_help"),
    )  # fmt: skip
    slots["filter_column"] = st.empty()
    body["kb_name"] = st.selectbox(TEXTS("kb_name"), connections, key=form_key("kb_name"))
    slots["kb_name"] = st.empty()
    for field, default in (
        ("interval", "10 MINUTES"),
        ("start_time", _default_moment(timedelta(minutes=1))),
        ("end_time", _default_moment(timedelta(days=7))),
    ):
        help_text = TEXTS("interval_help") if field == "interval" else None
        body[field] = st.text_input(TEXTS(field), value=default, key=form_key(field),
                                    help=help_text)  # fmt: skip
        slots[field] = st.empty()
    if not st.button(TEXTS("create"), type="primary", key=form_key("create")):
        return
    try:
        record = service.create(body)
    except TableJobInvalidError as error:
        show_problems(error, slots)
        return
    moment = format_moment(service.data(record)["next_run"])
    st.session_state[NOTICE_KEY] = TEXTS("created", name=record.name, moment=moment)
    st.session_state[PICK_NEXT_KEY] = record.id
    st.rerun()


def show_problems(error: TableJobInvalidError, slots: dict) -> None:
    """Each problem under its field (one the form has no field for, at the top)."""
    by_field: dict[str, list[str]] = {}
    for problem in error.problems:
        field = problem.field if problem.field in slots else None
        by_field.setdefault(field, []).append(problem.message)
    st.error(TEXTS("refused", message=error.message), icon=":material/error:")
    for field, messages in by_field.items():
        text = "\n\n".join(messages)
        if field is None:
            st.error(text)
        else:
            slots[field].error(text, icon=":material/error:")
