"""The Schedules page's pieces: the list (next and last firing, last outcome), the form that
adds or edits one with the next five firings shown as the operator types, and the actions on
the chosen one (pause or resume, run now, delete).

Times are shown in the schedule's own time zone (a cron's hours are read in it), with the
weekday in the operator's language. The core's refusals (ScheduleInvalidError) name the field.
"""

from contextlib import suppress
from datetime import datetime
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from kbsync_core.errors import ScheduleInvalidError, ScheduleNotFoundError
from kbsync_core.runtime import Kbsync
from kbsync_core.schedule_spec import DEFAULT_TIMEZONE
from kbsync_core.schedules import Schedule, Schedules
from kbsync_core.store.schedules import ORIGIN_CONSOLE
from kbsync_ui.i18n import Texts, format_moment

TEXTS = Texts({
    "name": ("Name", "Nombre"),
    "connection": ("Connection", "Conexión"),
    "expression": ("Expression", "Expresión"),
    "expression_help": (
        "A cron of 5 fields (0 */4 * * *: every 4 hours) or an interval: 5 MINUTES, 6 HOURS, "
        "1 DAY, HOURLY, DAILY, WEEKLY.",
        "Un cron de 5 campos (0 */4 * * *: cada 4 horas) o un intervalo: 5 MINUTES, 6 HOURS, "
        "1 DAY, HOURLY, DAILY, WEEKLY.",
    ),
    "timezone": ("Time zone", "Zona horaria"),
    "start": ("Start (optional, ISO 8601)", "Inicio (opcional, ISO 8601)"),
    "end": ("End (optional, ISO 8601)", "Fin (opcional, ISO 8601)"),
    "enabled": ("Enabled", "Activa"),
    "yes": ("yes", "sí"),
    "no": ("paused", "en pausa"),
    "next": ("Next firing", "Próxima ejecución"),
    "last": ("Last firing", "Última ejecución"),
    "outcome": ("Last outcome", "Último resultado"),
    "outcome_started": ("started", "iniciada"),
    "outcome_skipped": ("skipped", "omitida"),
    "outcome_retrying": ("retrying", "reintentando"),
    "outcome_starting": ("starting", "iniciándose"),
    "outcome_failed": ("failed", "fallida"),
    "preview": ("Next firings:", "Próximas ejecuciones:"),
    "preview_none": ("It never fires again (its window ended).",
                     "No vuelve a ejecutarse (su ventana terminó)."),
    "choose": ("Schedule", "Programación"),
    "add": ("Add schedule", "Añadir programación"),
    "save": ("Save changes", "Guardar cambios"),
    "saved": ("Saved the schedule {name}.", "Programación {name} guardada."),
    "pause": ("Pause", "Pausar"),
    "resume": ("Resume", "Reanudar"),
    "paused": ("Paused {name}.", "{name} en pausa."),
    "resumed": ("Resumed {name}: it fires from its next slot.",
                "{name} reanudada: se ejecuta desde su próxima franja."),
    "run_now": ("Run now", "Ejecutar ahora"),
    "ran": ("Started execution {id}.", "Ejecución {id} iniciada."),
    "not_run": ("Not started: {reason}", "No se inició: {reason}"),
    "delete": ("Delete", "Eliminar"),
    "delete_confirm": ("Delete the schedule {name}? Syncs it started keep their history.",
                       "¿Eliminar la programación {name}? Las sincronizaciones que inició "
                       "conservan su historial."),
    "delete_yes": ("Yes, delete {name}", "Sí, eliminar {name}"),
    "deleted": ("Deleted the schedule {name}.", "Programación {name} eliminada."),
    "no_connections": ("Add a connection first: schedules sync through one.",
                       "Añada antes una conexión: las programaciones sincronizan a través de "
                       "una."),
    "monday": ("Monday", "lunes"),
    "tuesday": ("Tuesday", "martes"),
    "wednesday": ("Wednesday", "miércoles"),
    "thursday": ("Thursday", "jueves"),
    "friday": ("Friday", "viernes"),
    "saturday": ("Saturday", "sábado"),
    "sunday": ("Sunday", "domingo"),
})
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PICK_KEY = "schedules_pick"
PICK_NEXT_KEY = "schedules_pick_next"
NOTICE_KEY = "schedules_notice"
DELETE_PENDING_KEY = "schedules_delete_pending"


def form_key(prefix: str, field: str) -> str:
    """A form widget's key: `prefix` is "add", or "edit-<id>" (a fresh form per schedule)."""
    return f"schedule_form_{prefix}_{field}"


def moment_in_words(moment: str | datetime | None, timezone: str) -> str:
    """`Sunday 2026-03-29 03:00:00 CEST`: the weekday in the operator's language, the time in
    the schedule's zone."""
    if moment is None:
        return "—"
    zone = ZoneInfo(timezone)
    when = datetime.fromisoformat(moment.replace("Z", "+00:00")) if isinstance(moment, str) \
        else moment
    return f"{TEXTS(WEEKDAYS[when.astimezone(zone).weekday()])} {format_moment(when, zone)}"


def render_notice() -> None:
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice:
        st.success(notice, icon=":material/check_circle:")


def render_schedule_list(schedules: list[Schedule]) -> None:
    rows = []
    for schedule in schedules:
        record, last = schedule.record, schedule.last_firing
        rows.append({
            TEXTS("name"): record.name,
            TEXTS("connection"): record.connection_id,
            TEXTS("expression"): record.expression,
            TEXTS("timezone"): record.timezone,
            TEXTS("enabled"): TEXTS("yes") if record.enabled else TEXTS("no"),
            TEXTS("next"): moment_in_words(record.next_slot_at, record.timezone),
            TEXTS("last"): moment_in_words(last.slot_at if last else None, record.timezone),
            TEXTS("outcome"): TEXTS(f"outcome_{last.outcome}") if last else "—",
        })
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def pick_schedule(schedules: list[Schedule]) -> Schedule | None:
    by_id = {schedule.record.id: schedule for schedule in schedules}
    if PICK_NEXT_KEY in st.session_state:
        st.session_state[PICK_KEY] = st.session_state.pop(PICK_NEXT_KEY)
    if st.session_state.get(PICK_KEY) not in by_id:
        st.session_state.pop(PICK_KEY, None)
    chosen = st.selectbox(
        TEXTS("choose"), list(by_id), key=PICK_KEY, index=0 if by_id else None,
        format_func=lambda identifier: (
            f"{by_id[identifier].record.name} — {by_id[identifier].record.connection_id}"
        ),
    )
    return by_id.get(chosen)


def render_preview(service: Schedules, payload: dict) -> None:
    """The next five firings of the expression as typed, or the core's refusal."""
    if not (payload.get("expression") or "").strip():
        return
    try:
        firings = service.preview(
            payload["expression"], payload["timezone"], payload["startTime"], payload["endTime"]
        )
    except ScheduleInvalidError as error:
        st.error(error.message, icon=":material/error:")
        return
    timezone = (payload["timezone"] or "").strip() or DEFAULT_TIMEZONE
    if not firings:
        st.caption(TEXTS("preview_none"))
        return
    lines = "\n".join(f"- {moment_in_words(moment, timezone)}" for moment in firings)
    st.markdown(f"{TEXTS('preview')}\n{lines}")


def render_form(kbsync: Kbsync, schedule: Schedule | None) -> None:
    """Add (schedule None) or edit one schedule; the preview follows what is typed."""
    service = kbsync.schedules
    connections = [connection.id for connection in kbsync.connections.list()]
    if not connections:
        st.info(TEXTS("no_connections"))
        return
    prefix = "add" if schedule is None else f"edit-{schedule.record.id}"
    current = schedule.to_dict() if schedule else {}
    connection = st.selectbox(
        TEXTS("connection"), connections, key=form_key(prefix, "connectionId"),
        index=connections.index(current["connectionId"])
        if current.get("connectionId") in connections else 0,
    )
    payload = {"connectionId": connection}
    for field, label, default in (
        ("name", TEXTS("name"), ""),
        ("expression", TEXTS("expression"), ""),
        ("timezone", TEXTS("timezone"), DEFAULT_TIMEZONE),
        ("startTime", TEXTS("start"), ""),
        ("endTime", TEXTS("end"), ""),
    ):
        payload[field] = st.text_input(
            label, value=current.get(field) or default, key=form_key(prefix, field),
            help=TEXTS("expression_help") if field == "expression" else None,
        )
    render_preview(service, payload)
    label = TEXTS("add") if schedule is None else TEXTS("save")
    if not st.button(label, type="primary", key=form_key(prefix, "save")):
        return
    body = {key: (value or None) for key, value in payload.items()}
    try:
        if schedule is None:
            saved = service.create(body, origin=ORIGIN_CONSOLE)
        else:
            saved = service.update(schedule.record.id, body)
    except (ScheduleInvalidError, ScheduleNotFoundError) as error:
        st.error(getattr(error, "message", str(error)), icon=":material/error:")
        return
    st.session_state[NOTICE_KEY] = TEXTS("saved", name=saved.record.name)
    st.session_state[PICK_NEXT_KEY] = saved.record.id
    st.rerun()


def render_actions(kbsync: Kbsync, schedule: Schedule) -> None:
    """Pause or resume, run now, and delete (after a second click naming it)."""
    record = schedule.record
    pause, run, delete = st.columns(3)
    toggle = TEXTS("pause") if record.enabled else TEXTS("resume")
    if pause.button(toggle, key="schedules_toggle", icon=":material/pause_circle:"):
        kbsync.schedules.set_enabled(record.id, not record.enabled)
        done = "paused" if record.enabled else "resumed"
        st.session_state[NOTICE_KEY] = TEXTS(done, name=record.name)
        st.rerun()
    if run.button(TEXTS("run_now"), key="schedules_run_now", icon=":material/play_arrow:"):
        outcome = kbsync.scheduler.run_now(record)
        if outcome.execution_id:
            st.success(TEXTS("ran", id=outcome.execution_id), icon=":material/check_circle:")
        else:
            st.warning(TEXTS("not_run", reason=outcome.reason), icon=":material/block:")
    if delete.button(TEXTS("delete"), key="schedules_delete", icon=":material/delete:"):
        st.session_state[DELETE_PENDING_KEY] = record.id
    if st.session_state.get(DELETE_PENDING_KEY) != record.id:
        return
    st.warning(TEXTS("delete_confirm", name=record.name))
    if st.button(TEXTS("delete_yes", name=record.name), type="primary",
                 key="schedules_delete_yes"):
        st.session_state.pop(DELETE_PENDING_KEY, None)
        with suppress(ScheduleNotFoundError):  # deleted meanwhile: the same outcome
            kbsync.schedules.delete(record.id)
        st.session_state[NOTICE_KEY] = TEXTS("deleted", name=record.name)
        st.session_state[PICK_NEXT_KEY] = None
        st.rerun()
