"""One execution on screen, refreshed by a fragment that reruns only itself while it runs."""

import pandas as pd
import streamlit as st

from kbsync_core.errors import ExecutionFinishedError, NotMonitoredError
from kbsync_core.models import Execution, ExecutionStatus
from kbsync_core.runtime import Kbsync
from kbsync_core.timefmt import utc_now
from kbsync_ui.auth import OPERATOR_NEEDED
from kbsync_ui.connection import Connection
from kbsync_ui.presentation import (
    STATUS_COLORS,
    elapsed_seconds,
    format_duration,
    status_label,
)
from kbsync_ui.session import announce_once, remember_execution
from kbsync_ui.widgets import render_log, render_statistics

REFRESH_SECONDS = 2
SEEN_RUNNING_KEY = "execution_ids_seen_running"
AWS_ERROR_PREFIX = "Error de AWS: "
END_TOASTS = {
    ExecutionStatus.COMPLETADO: ("Sync completed", ":material/check_circle:"),
    ExecutionStatus.FALLIDO: ("Sync failed", ":material/cancel:"),
    ExecutionStatus.DETENIDO: ("Sync stopped", ":material/stop_circle:"),
}


def render_execution(
    kbsync: Kbsync, execution_id: str, connection: Connection | None, can_operate: bool = True
) -> None:
    """`can_operate`: whether this user may stop the sync or watch a job instead (operator)."""
    execution = kbsync.reads.get(execution_id)
    if execution is None:
        st.info("That execution is no longer in the store.")
        return
    seen_running = st.session_state.setdefault(SEEN_RUNNING_KEY, set())
    if execution.status.is_final:
        if execution_id in seen_running and announce_once(execution_id):
            message, icon = END_TOASTS[execution.status]
            st.toast(f"{message}: {execution.job_id or execution.id}", icon=icon)
        _panel(kbsync, execution, connection, can_operate)
    else:
        seen_running.add(execution_id)
        st.fragment(run_every=REFRESH_SECONDS)(_live_panel)(
            kbsync, execution_id, connection, can_operate
        )


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
    with st.container(border=True):
        header = st.columns([2, 3, 2, 2], vertical_alignment="center")
        header[0].badge(
            status_label(execution.status), color=STATUS_COLORS[execution.status]
        )
        header[1].markdown(f"**AWS job** `{execution.job_id or '—'}`")
        elapsed = elapsed_seconds(execution.started_at, execution.finished_at, utc_now())
        header[2].markdown(f"**Elapsed** {format_duration(elapsed)}")
        with header[3]:
            _stop_button(kbsync, execution, connection, can_operate)
        render_statistics(execution.statistics)
        _problems(execution)
        _conflict(kbsync, execution, connection, can_operate)
        render_log(execution.events)


def _problems(execution: Execution) -> None:
    for reason in execution.failure_reasons:
        st.error(reason, icon=":material/cancel:")
    if execution.status is ExecutionStatus.FALLIDO and not execution.failure_reasons:
        aws_errors = [line for line in execution.logs if AWS_ERROR_PREFIX in line]
        if aws_errors:
            st.error(aws_errors[-1].split(AWS_ERROR_PREFIX, 1)[1], icon=":material/cancel:")


def _stop_button(
    kbsync: Kbsync, execution: Execution, connection: Connection | None, can_operate: bool
) -> None:
    if execution.status.is_final:
        return
    if st.button(
        "Stop sync", key=f"stop-{execution.id}", icon=":material/stop:",
        disabled=not can_operate, help=None if can_operate else OPERATOR_NEEDED,
    ) and can_operate:
        try:
            # The sidebar's keys stop an execution this process no longer watches (after a
            # restart); one it watches is stopped with the keys that started it.
            kbsync.engine.stop_sync(execution.id, connection.credentials if connection else None)
            st.toast("Stop requested", icon=":material/stop:")
        except (ExecutionFinishedError, NotMonitoredError) as error:
            st.warning(str(error))


def _conflict(
    kbsync: Kbsync, execution: Execution, connection: Connection | None, can_operate: bool
) -> None:
    if not execution.conflict_job_id or execution.status is not ExecutionStatus.FALLIDO:
        return
    st.warning(
        f"A sync already runs on this data source: job `{execution.conflict_job_id}`. "
        "Watch it here instead of starting another."
    )
    if st.button(
        "Monitor the running job",
        key=f"monitor-{execution.id}",
        disabled=connection is None or not can_operate,
        help=OPERATOR_NEEDED if not can_operate else (
            None if connection else "Fill in the connection in the sidebar first."
        ),
    ) and can_operate:
        attached = kbsync.engine.monitor_job(
            execution.target, connection.credentials, execution.conflict_job_id,
            execution.description,
        )
        remember_execution(attached.id)
        st.rerun(scope="app")


def render_session_executions(executions: list[Execution]) -> None:
    """The executions this browser session started, newest first."""
    if not executions:
        return
    st.subheader("Started in this session")
    st.dataframe(
        pd.DataFrame(
            {
                "Status": [status_label(e.status) for e in executions],
                "AWS job": [e.job_id or "—" for e in executions],
                "Data source": [e.target.data_source_id for e in executions],
                "Started": pd.to_datetime([e.started_at for e in executions], utc=True),
                "Description": [e.description for e in executions],
            }
        ),
        hide_index=True,
        column_config={"Started": st.column_config.DatetimeColumn(format="D MMM, HH:mm:ss")},
    )
