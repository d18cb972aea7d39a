"""One execution on screen, refreshed by a fragment that reruns only itself while it runs.

The fragment looks every CHECK_SECONDS (a read the reads cache answers, or one store read once
its 250 ms have passed), so a change shows within about half a second of its write instead of
up to 2 s later. What is costly to draw (the log's lines in the reader's language and zone) is
built again only when the execution's version changed; Streamlit clears a fragment's elements
that a rerun does not draw, so the same ones are drawn again from what was built.
"""


import pandas as pd
import streamlit as st

from kbsync_core import events
from kbsync_core.activity import Activity
from kbsync_core.errors import ExecutionFinishedError, ExecutionNotFoundError, NotMonitoredError
from kbsync_core.models import AwsCredentials, Execution, ExecutionStatus, SyncTarget
from kbsync_core.runtime import Kbsync
from kbsync_core.timefmt import utc_now
from kbsync_ui.connection import Connection
from kbsync_ui.i18n import Texts, browser_zone, current_language, format_moment
from kbsync_ui.presentation import (
    STATUS_COLORS,
    STOPPING,
    elapsed_seconds,
    format_duration,
    status_label,
)
from kbsync_ui.progress_bar import render_progress
from kbsync_ui.session import announce_once, watch_execution
from kbsync_ui.widgets import log_text, render_log_text, render_statistics

# How often the live panel looks for a change (the run's version: its last write and log).
CHECK_SECONDS = 0.5
DRAWN_LOG_KEY = "execution_panel_drawn_log"
SEEN_RUNNING_KEY = "execution_ids_seen_running"
STOP_FEEDBACK_KEY = "stop_feedback"
STOPPING_COLOR = "orange"

TEXTS = Texts({
    "unknown": (
        "kbsync has no execution `{id}`: the link may be mistyped, or it was made on another "
        "kbsync.",
        "kbsync no tiene la ejecución `{id}`: el enlace puede estar mal copiado, o se hizo en "
        "otro kbsync.",
    ),
    "aws_job": ("**AWS job** `{job}`", "**Job de AWS** `{job}`"),
    "elapsed": ("**Elapsed** {duration}", "**Duración** {duration}"),
    "started": ("Started {moment}", "Iniciada {moment}"),
    "stop": ("Stop sync", "Detener sincronización"),
    "stop_requested": ("Stop requested: AWS job {job}", "Detención solicitada: job de AWS {job}"),
    "already_ended": ("The sync already ended.", "La sincronización ya terminó."),
    "not_monitored": (
        "No kbsync process watches this sync, and none has credentials for it: choose its "
        "saved connection or type its keys in the sidebar, then press Stop again.",
        "Ningún proceso de kbsync sigue esta sincronización ni tiene credenciales para ella: "
        "elija su conexión guardada o escriba sus claves en el menú lateral y pulse Detener "
        "otra vez.",
    ),
    "operator_needed": (
        "Starting and stopping syncs needs the operator role.",
        "Iniciar y detener sincronizaciones requiere el rol de operador.",
    ),
    "completed": ("Sync completed: AWS job {job}", "Sincronización completada: job de AWS {job}"),
    "failed": ("Sync failed: AWS job {job}", "Sincronización fallida: job de AWS {job}"),
    "failed_no_job": (
        "Sync failed before AWS started a job", "La sincronización falló antes de que AWS "
        "iniciara un job",
    ),
    "stopped": ("Sync stopped: AWS job {job}", "Sincronización detenida: job de AWS {job}"),
    "conflict": (
        "AWS refused to start this sync: another one already runs on this data source "
        "(AWS job `{job}`). Watch it here instead of starting another.",
        "AWS no inició esta sincronización: ya hay otra en curso en este origen de datos "
        "(job de AWS `{job}`). Sígala aquí en lugar de iniciar otra.",
    ),
    "watch_running": ("Watch the running job", "Seguir el job en curso"),
    "need_connection": (
        "Choose a saved connection or type keys in the sidebar to watch it.",
        "Elija una conexión guardada o escriba claves en el menú lateral para seguirlo.",
    ),
    "session_title": ("Started in this session", "Iniciadas en esta sesión"),
    "col_status": ("Status", "Estado"),
    "col_job": ("AWS job", "Job de AWS"),
    "col_data_source": ("Data source", "Origen de datos"),
    "col_started": ("Started", "Inicio"),
    "col_description": ("Description", "Descripción"),
    "starting_job": ("starting…", "iniciando…"),
})
END_TOASTS = {
    ExecutionStatus.COMPLETADO: ("completed", ":material/check_circle:"),
    ExecutionStatus.FALLIDO: ("failed", ":material/cancel:"),
    ExecutionStatus.DETENIDO: ("stopped", ":material/stop_circle:"),
}


# -- what a sync is doing ------------------------------------------------------------------------

def status_badge(status: str) -> str:
    """A status as a markdown badge, in words: `:blue-badge[🔄 Running]`."""
    color = STOPPING_COLOR if status == STOPPING else STATUS_COLORS[ExecutionStatus(status)]
    return f":{color}-badge[{status_label(status)}]"


def display_status(kbsync: Kbsync, execution: Execution) -> str:
    """The execution's status as shown: Stopping from the moment a stop is asked for."""
    return STOPPING if kbsync.engine.is_stopping(execution) else execution.status


def request_stop(kbsync: Kbsync, execution_id: str, credentials: AwsCredentials | None) -> None:
    """Stop's click (a callback, so the page drawn next already shows Stopping). A click on a
    sync whose stop was already asked does nothing: no second request, no second toast."""
    execution = kbsync.store.get(execution_id)
    if execution is None or kbsync.engine.is_stopping(execution):
        return
    try:
        # The sidebar's keys stop an execution this process no longer watches (after a
        # restart); one it watches is stopped with the keys that started it.
        kbsync.engine.stop_sync(execution_id, credentials)
        feedback = ("toast", TEXTS("stop_requested", job=execution.job_id or "—"))
    except (ExecutionFinishedError, ExecutionNotFoundError):
        feedback = ("warning", TEXTS("already_ended"))
    except NotMonitoredError:
        feedback = ("warning", TEXTS("not_monitored"))
    kbsync.reads.forget(execution_id)
    st.session_state[STOP_FEEDBACK_KEY] = (execution_id, *feedback)


def watch_job(
    kbsync: Kbsync,
    target: SyncTarget,
    credentials: AwsCredentials,
    job_id: str,
    description: str,
    started_at: str | None = None,
) -> str:
    """Watch an AWS job in the panel: kbsync's execution of it when it has one (however it
    ended: never a second execution of one job), else a new one that monitors it from
    `started_at`, AWS's start of the job."""
    attached = kbsync.engine.monitor_job(
        target, credentials, job_id, description, started_at=started_at
    )
    watch_execution(attached.id)
    return attached.id


# -- the panel -------------------------------------------------------------------------------------

def render_execution(
    kbsync: Kbsync,
    execution_id: str,
    connection: Connection | None,
    can_operate: bool = True,
    execution: Execution | None = None,
) -> Execution | None:
    """`can_operate`: whether this user may stop the sync or watch a job instead (operator).
    `execution`: the execution as the page already read it in this run (one read, so what
    the page says above the panel and the panel agree)."""
    execution = execution or kbsync.reads.get(execution_id)
    if execution is None:
        st.warning(TEXTS("unknown", id=execution_id), icon=":material/search_off:")
        return None
    seen_running = st.session_state.setdefault(SEEN_RUNNING_KEY, set())
    if execution.status.is_final:
        if execution_id in seen_running and announce_once(execution_id):
            _end_toast(execution)
        _panel(kbsync, execution, connection, can_operate)
    else:
        seen_running.add(execution_id)
        st.fragment(run_every=CHECK_SECONDS)(_live_panel)(
            kbsync, execution_id, connection, can_operate
        )
    return execution


def _end_toast(execution: Execution) -> None:
    if execution.conflict_job_id and not execution.job_id:
        return  # a refused start, said on the page itself: not a sync that ended
    key, icon = END_TOASTS[execution.status]
    if execution.job_id:
        st.toast(TEXTS(key, job=execution.job_id), icon=icon)
    else:
        st.toast(TEXTS("failed_no_job"), icon=icon)


def _live_panel(
    kbsync: Kbsync, execution_id: str, connection: Connection | None, can_operate: bool
) -> None:
    execution = kbsync.reads.get(execution_id)
    _panel(kbsync, execution, connection, can_operate)
    if execution.status.is_final:
        # A whole-app rerun draws the panel without a timer and announces the end.
        st.rerun(scope="app")


def _panel(
    kbsync: Kbsync, execution: Execution, connection: Connection | None, can_operate: bool
) -> None:
    status = display_status(kbsync, execution)
    with st.container(border=True):
        # One line that wraps on a phone (four columns stacked four rows high there).
        elapsed = elapsed_seconds(execution.started_at, execution.finished_at, utc_now())
        st.markdown(
            f"{status_badge(status)} · {TEXTS('aws_job', job=execution.job_id or '—')} · "
            f"{TEXTS('elapsed', duration=format_duration(elapsed))}"
        )
        st.caption(TEXTS("started", moment=format_moment(execution.started_at)))
        _stop_button(kbsync, execution, status, connection, can_operate)
        _stop_feedback(execution.id)
        render_progress(kbsync, execution)
        render_statistics(execution.statistics)
        _problems(execution)
        _conflict(kbsync, execution, connection, can_operate)
        _render_log_of(execution)


def execution_version(execution: Execution) -> tuple:
    """What changes whenever the execution does: every write stamps updated_at and adds to
    its log."""
    return (execution.id, execution.updated_at, len(execution.events), str(execution.status))


def _render_log_of(execution: Execution) -> None:
    """The log, its lines built again only when the execution (or the reader's language or
    zone) changed since this session last drew it."""
    wanted = (execution_version(execution), current_language(), browser_zone())
    drawn = st.session_state.get(DRAWN_LOG_KEY)
    if drawn is None or drawn[0] != wanted:
        drawn = (wanted, log_text(execution.events))
        st.session_state[DRAWN_LOG_KEY] = drawn
    render_log_text(drawn[1])


def _problems(execution: Execution) -> None:
    for reason in execution.failure_reasons:
        st.error(reason, icon=":material/cancel:")
    if (
        execution.status is ExecutionStatus.FALLIDO
        and not execution.failure_reasons
        and not execution.conflict_job_id
    ):
        aws_errors = [e.values["error"] for e in execution.events if e.event == events.AWS_ERROR]
        if aws_errors:
            st.error(aws_errors[-1], icon=":material/cancel:")


def _stop_button(
    kbsync: Kbsync,
    execution: Execution,
    status: str,
    connection: Connection | None,
    can_operate: bool,
) -> None:
    if execution.status.is_final:
        return
    st.button(
        TEXTS("stop"), key=f"stop-{execution.id}", icon=":material/stop:",
        disabled=not can_operate or status == STOPPING,
        on_click=request_stop if can_operate else None,
        args=(kbsync, execution.id, connection.credentials if connection else None),
    )
    if not can_operate:
        st.caption(TEXTS("operator_needed"))


def _stop_feedback(execution_id: str) -> None:
    feedback = st.session_state.get(STOP_FEEDBACK_KEY)
    if not feedback or feedback[0] != execution_id:
        return
    del st.session_state[STOP_FEEDBACK_KEY]
    _id, kind, message = feedback
    if kind == "toast":
        st.toast(message, icon=":material/stop:")
    else:
        st.warning(message)


def _conflict(
    kbsync: Kbsync, execution: Execution, connection: Connection | None, can_operate: bool
) -> None:
    if not execution.conflict_job_id or execution.status is not ExecutionStatus.FALLIDO:
        return
    st.warning(TEXTS("conflict", job=execution.conflict_job_id))
    if st.button(
        TEXTS("watch_running"),
        key=f"monitor-{execution.id}",
        disabled=connection is None or not can_operate,
    ) and can_operate and connection is not None:
        watch_job(
            kbsync, execution.target, connection.credentials, execution.conflict_job_id,
            execution.description,
            _aws_started_at(kbsync, execution, connection.credentials),
        )
        st.rerun(scope="app")
    if not can_operate:
        st.caption(TEXTS("operator_needed"))
    elif connection is None:
        st.caption(TEXTS("need_connection"))


def _aws_started_at(
    kbsync: Kbsync, execution: Execution, credentials: AwsCredentials
) -> str | None:
    """AWS's start of the job a refused start ran into, when AWS lists it as running."""
    running = data_source_activity(kbsync, execution.target, credentials).running
    if running is not None and running.job_id == execution.conflict_job_id:
        return running.started_at
    return None


def data_source_activity(
    kbsync: Kbsync, target: SyncTarget, credentials: AwsCredentials | None
) -> Activity:
    return kbsync.activity.running(target, credentials)


# -- this session's executions -------------------------------------------------------------------

def render_session_executions(kbsync: Kbsync, execution_ids: list[str]) -> None:
    """The executions this browser session started, newest first, as they are now."""
    executions = [e for e in (kbsync.reads.get(i) for i in execution_ids) if e is not None]
    if not executions:
        return
    executions.sort(key=lambda e: e.started_at, reverse=True)
    st.subheader(TEXTS("session_title"))
    st.dataframe(
        pd.DataFrame(
            {
                TEXTS("col_status"): [
                    status_label(display_status(kbsync, e)) for e in executions
                ],
                TEXTS("col_job"): [
                    e.job_id or ("—" if e.status.is_final else TEXTS("starting_job"))
                    for e in executions
                ],
                TEXTS("col_data_source"): [e.target.data_source_id for e in executions],
                TEXTS("col_started"): [format_moment(e.started_at) for e in executions],
                TEXTS("col_description"): [e.description for e in executions],
            }
        ),
        hide_index=True,
    )
