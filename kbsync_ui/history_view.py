"""The History page's pieces: the table, the selected sync's details, the trend chart."""

import pandas as pd
import streamlit as st

from kbsync_core.errors import AwsRequestError
from kbsync_core.runtime import Kbsync
from kbsync_core.validation import HistoryRequest
from kbsync_ui.presentation import format_duration, status_label
from kbsync_ui.widgets import render_log, render_statistics

TABLE_KEY = "history_table"
TREND_SYNCS = 30
TABLE_COLUMNS = {
    "status": "Status",
    "source": "Source",
    "jobId": "AWS job",
    "startedAt": "Started (UTC)",
    "finishedAt": "Finished (UTC)",
    "duration": "Duration",
    "documentsScanned": "Scanned",
    "documentsIndexed": "Indexed",
    "documentsDeleted": "Deleted",
    "documentsFailed": "Failed",
    "description": "Description",
}


def render_history_table(frame: pd.DataFrame) -> str | None:
    """The table, newest first, sortable by every column; returns the selected row's id."""
    shown = frame.sort_values("startedAt", ascending=False).reset_index(drop=True)
    table = shown.assign(
        status=shown["status"].map(status_label),
        duration=shown["durationSeconds"].map(format_duration),
    )[list(TABLE_COLUMNS)]
    when = st.column_config.DatetimeColumn
    event = st.dataframe(
        table.rename(columns=TABLE_COLUMNS),
        hide_index=True,
        key=TABLE_KEY,
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "Started (UTC)": when(format="YYYY-MM-DD HH:mm"),
            "Finished (UTC)": when(format="YYYY-MM-DD HH:mm"),
            "Description": st.column_config.TextColumn(width="small"),
        },
    )
    selected = event.selection.rows if event else []
    return shown.iloc[selected[0]]["id"] if selected else None


def render_selected_sync(kbsync: Kbsync, request: HistoryRequest, row: dict) -> None:
    with st.container(border=True):
        st.subheader(f"{status_label(row['status'])} · {row.get('jobId') or row['id']}")
        render_statistics(row.get("statistics") or {})
        for reason in _failure_reasons(kbsync, request, row):
            st.error(reason, icon=":material/cancel:")
        render_log(kbsync.store.events_of(row["id"]))  # none for a row of AWS alone


def _failure_reasons(kbsync: Kbsync, request: HistoryRequest, row: dict) -> list[str]:
    try:
        return kbsync.history.failure_reasons(request, row)
    except AwsRequestError as error:
        return [f"Could not read the failure reasons: {error}"]


def _trend_spec(y_field: str, y_title: str, mark: dict) -> dict:
    return {
        "mark": mark,
        "encoding": {
            "x": {"field": "startedAt", "type": "temporal", "title": "Started"},
            "y": {"field": y_field, "type": "quantitative", "title": y_title},
            "tooltip": [
                {"field": "jobId", "title": "AWS job"},
                {"field": "status"},
                {"field": "durationSeconds", "title": "Duration (s)"},
                {"field": "documentsScanned", "title": "Scanned"},
                {"field": "documentsIndexed", "title": "Indexed"},
            ],
        },
    }


def render_trend_chart(frame: pd.DataFrame) -> None:
    """Duration and documents of the most recent finished syncs: a trend at a glance.

    Plain Vega-Lite specs rather than Altair objects: Altair's schema validation alone cost
    more than the rest of the page (measured by bench/bench_console.py).
    """
    recent = frame.dropna(subset=["durationSeconds"]).nlargest(TREND_SYNCS, "startedAt")
    if len(recent) < 2:
        return
    st.subheader("Recent syncs")
    left, right = st.columns(2)
    left.vega_lite_chart(
        recent, _trend_spec("durationSeconds", "Duration (s)", {"type": "bar"}), width="stretch"
    )
    right.vega_lite_chart(
        recent,
        _trend_spec("documentsScanned", "Documents scanned", {"type": "line", "point": True}),
        width="stretch",
    )
