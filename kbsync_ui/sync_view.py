"""The Sync page's pieces: the data source's state (does a sync run on it now, who started
it, Watch and Stop), and Start with the reason it is off. The page (app_pages/sync.py) lays
them out; the execution panel is kbsync_ui/execution_panel.py."""


import streamlit as st

from kbsync_core.activity import RunningSync
from kbsync_core.models import TRIGGER_CONSOLE, TRIGGERS
from kbsync_core.validation import (
    DESCRIPTION_MAX_LENGTH,
    RequestValidationError,
    SyncRequest,
    validate_description,
)
from kbsync_ui.connection import connection_gap
from kbsync_ui.execution_panel import (
    data_source_activity,
    display_status,
    request_stop,
    status_badge,
    watch_job,
)
from kbsync_ui.i18n import Texts, format_moment
from kbsync_ui.presentation import STOPPING
from kbsync_ui.session import (
    current_execution_id,
    remember_execution,
    start_guarded,
    watch_execution,
)

TEXTS = Texts({
    "title": ("Sync", "Sincronizar"),
    "description": ("Description", "Descripción"),
    "default_description": (
        "Sync started from the kbsync console", "Sincronización iniciada desde la consola de kbsync"
    ),
    "start": ("Start sync", "Iniciar sincronización"),
    "busy": (
        "**A sync runs on data source `{data_source}` now** · {status} · AWS job `{job}` · "
        "started by {trigger} · since {moment}",
        "**Hay una sincronización en curso en el origen de datos `{data_source}`** · {status} · "
        "job de AWS `{job}` · iniciada por {trigger} · desde {moment}",
    ),
    "idle": (
        "No sync runs on data source `{data_source}` now.",
        "No hay ninguna sincronización en curso en el origen de datos `{data_source}`.",
    ),
    "aws_unasked": (
        "Could not ask AWS whether a sync runs on it: {reason}",
        "No se pudo preguntar a AWS si hay una sincronización en curso: {reason}",
    ),
    "busy_watched": (
        "**A sync runs on data source `{data_source}` now**, started by {trigger}: the one "
        "below.",
        "**Hay una sincronización en curso en el origen de datos `{data_source}`**, iniciada "
        "por {trigger}: la de abajo.",
    ),
    "watch": ("Watch", "Seguir"),
    "stop": ("Stop", "Detener"),
    "starting_job": ("starting…", "iniciándose…"),
    "trigger_console": ("the console", "la consola"),
    "trigger_api": ("the API", "la API"),
    "trigger_schedule": ("a schedule", "una programación"),
    "trigger_aws": ("AWS (outside kbsync)", "AWS (fuera de kbsync)"),
    "trigger_ingestion": ("an ingestion job", "un trabajo de ingesta"),
    "why_busy": (
        "Start is off while a sync runs on this data source: watch it or stop it above.",
        "Iniciar está desactivado mientras haya una sincronización en curso en este origen de "
        "datos: sígala o deténgala arriba.",
    ),
    "operator_needed": (
        "Starting and stopping syncs needs the operator role.",
        "Iniciar y detener sincronizaciones requiere el rol de operador.",
    ),
    "refused_busy": (
        "Not started: a sync already runs on this data source (AWS job `{job}`).",
        "No se inició: ya hay una sincronización en curso en este origen de datos (job de AWS "
        "`{job}`).",
    ),
    "refused_twice": (
        "Not started again: one click on Start is enough, the sync is already starting.",
        "No se inició otra vez: basta un clic en Iniciar, la sincronización ya se está iniciando.",
    ),
    "refused_error": ("Not started: {reason}", "No se inició: {reason}"),
    "no_connection": (
        "Choose a saved connection or type access keys in the sidebar first.",
        "Elija antes una conexión guardada o escriba claves de acceso en el menú lateral.",
    ),
})
REFUSAL_KEY = "sync_start_refusal"
DESCRIPTION_KEY = "sync_description"


def trigger_words(trigger: str | None) -> str:
    return TEXTS(f"trigger_{trigger}") if trigger in TRIGGERS else "—"


def _default_description() -> None:
    """The console's own default, in the console's language (the API keeps the seed's)."""
    current = st.session_state.get(DESCRIPTION_KEY)
    if current is None or current in TEXTS.both("default_description"):
        st.session_state[DESCRIPTION_KEY] = TEXTS("default_description")


def _start(kbsync, connection, running: RunningSync | None) -> None:
    """Start's click (a callback: the page drawn next already shows the sync and a disabled
    Start). A refusal is said on the page, in words."""
    st.session_state.pop(REFUSAL_KEY, None)
    # The store is asked afresh: a click from a page drawn before another sync began.
    fresh = data_source_activity(kbsync, connection.target, connection.credentials).running
    busy = fresh or running
    if busy is not None:
        st.session_state[REFUSAL_KEY] = TEXTS("refused_busy", job=busy.job_id or "—")
        return
    try:
        description = validate_description(
            st.session_state.get(DESCRIPTION_KEY) or TEXTS("default_description")
        )
    except RequestValidationError as error:
        st.session_state[REFUSAL_KEY] = TEXTS("refused_error", reason=error.message)
        return
    if start_guarded():
        st.session_state[REFUSAL_KEY] = TEXTS("refused_twice")
        return
    request = SyncRequest(
        connection.target, connection.credentials, description, connection.connection_id,
        trigger=TRIGGER_CONSOLE,
    )
    remember_execution(kbsync.engine.start_sync(request).id)


def _watch(kbsync, connection, running: RunningSync) -> None:
    if running.execution is not None and running.job_id is None:
        watch_execution(running.execution.id)  # kbsync's own, AWS has not answered yet
        return
    if running.execution is not None and (connection is None or not running.execution.interrupted):
        watch_execution(running.execution.id)
        return
    watch_job(
        kbsync, connection.target, connection.credentials, running.job_id,
        st.session_state.get(DESCRIPTION_KEY) or TEXTS("default_description"),
        running.started_at,
    )


def _stop(kbsync, connection, running: RunningSync) -> None:
    if running.execution is None or running.execution.interrupted:
        _watch(kbsync, connection, running)
        execution_id = current_execution_id()
    else:
        execution_id = running.execution.id
    request_stop(kbsync, execution_id, connection.credentials if connection else None)


STATE_REFRESH_SECONDS = 5


def _running_key(running: RunningSync | None) -> tuple | None:
    """What the page's Start button depends on: which sync runs (not its progress)."""
    if running is None:
        return None
    return (running.execution.id if running.execution else None, running.job_id)


def _state(kbsync, connection, watched_id, can_operate, page_key) -> None:
    """The data source's state, first thing on the page: refreshed by itself every few
    seconds (a sync started from elsewhere shows up); when which sync runs changes, the whole
    page is drawn again, so Start follows."""
    activity = data_source_activity(kbsync, connection.target, connection.credentials)
    running = activity.running
    if _running_key(running) != page_key:
        st.rerun(scope="app")
    _draw_state(kbsync, connection, running, watched_id, can_operate)
    if activity.warning:
        st.caption(f":orange[{TEXTS('aws_unasked', reason=activity.warning)}]")


def _draw_state(kbsync, connection, running: RunningSync | None, watched_id, can_operate):
    target = connection.target
    if running is None:
        idle = TEXTS("idle", data_source=target.data_source_id)
        st.caption(f":green[:material/check_circle: {idle}]")
        return
    watched = running.execution is not None and running.execution.id == watched_id
    if watched:
        # The panel below says how it goes, refreshed every 2 s: not repeated here, where it
        # would fall behind.
        st.markdown(
            TEXTS(
                "busy_watched", data_source=target.data_source_id,
                trigger=trigger_words(running.trigger),
            )
        )
        return
    if running.execution is not None:
        status = display_status(kbsync, running.execution)
    else:
        status = STOPPING if running.stopping else "EN_EJECUCION"
    with st.container(border=True):
        st.markdown(
            TEXTS(
                "busy", data_source=target.data_source_id, status=status_badge(status),
                job=running.job_id or TEXTS("starting_job"),
                trigger=trigger_words(running.trigger),
                moment=format_moment(running.started_at),
            )
        )
        buttons = st.container(horizontal=True)
        # Watching an AWS job kbsync does not follow yet makes kbsync follow it: an operator's.
        needs_worker = running.execution is None or running.execution.interrupted
        buttons.button(
            TEXTS("watch"), key="state-watch", icon=":material/visibility:",
            disabled=needs_worker and not can_operate,
            on_click=_watch, args=(kbsync, connection, running),
        )
        buttons.button(
            TEXTS("stop"), key="state-stop", icon=":material/stop:",
            disabled=not can_operate or status == STOPPING,
            on_click=_stop, args=(kbsync, connection, running),
        )




def render_data_source_state(kbsync, connection, watched_id, can_operate) -> RunningSync | None:
    """The data source's state, first thing on the page; the sync that runs on it, if any."""
    if connection is None:
        return None
    activity = data_source_activity(kbsync, connection.target, connection.credentials)
    running = activity.running
    if running is not None and running.execution is not None and running.execution.id == watched_id:
        # The panel shows it, live: this part is drawn once per page run.
        _draw_state(kbsync, connection, running, watched_id, can_operate)
    else:
        st.fragment(run_every=STATE_REFRESH_SECONDS)(_state)(
            kbsync, connection, watched_id, can_operate, _running_key(running)
        )
    return running


def render_start(kbsync, connection, running: RunningSync | None, can_operate: bool) -> None:
    """Description and Start, with why Start is off written under it (not only in a tooltip,
    which touch screens never show), and a refused start said in words."""
    _default_description()
    st.text_input(TEXTS("description"), max_chars=DESCRIPTION_MAX_LENGTH, key=DESCRIPTION_KEY)
    if not can_operate:
        why_not = TEXTS("operator_needed")
    elif connection is None:
        why_not = connection_gap() or TEXTS("no_connection")
    elif running is not None:
        why_not = TEXTS("why_busy")
    else:
        why_not = None
    # The role is checked again on the click: a disabled button is only the browser's side.
    st.button(
        TEXTS("start"), type="primary", icon=":material/play_arrow:", key="sync_start",
        disabled=why_not is not None,
        on_click=_start if can_operate and connection is not None else None,
        args=(kbsync, connection, running),
    )
    if why_not:
        st.caption(f":material/info: {why_not}")
    refusal = st.session_state.pop(REFUSAL_KEY, None)
    if refusal:
        st.warning(refusal, icon=":material/block:")
