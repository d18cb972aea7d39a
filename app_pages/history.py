"""History: every sync of the data source, local and from AWS, in one table."""

import streamlit as st

from kbsync_core.errors import AwsRequestError
from kbsync_core.history_table import filter_history, history_frame
from kbsync_core.models import ExecutionStatus
from kbsync_core.runtime import get_kbsync
from kbsync_core.validation import MAX_RESULTS_DEFAULT, MAX_RESULTS_RANGE, HistoryRequest
from kbsync_ui.connection import current_connection
from kbsync_ui.history_view import (
    render_history_table,
    render_selected_sync,
    render_trend_chart,
)

kbsync = get_kbsync()
connection = current_connection()

st.title("History")
if connection is None:
    st.info("Fill in the connection in the sidebar to see this data source's syncs.")
    st.stop()

controls = st.columns([1, 2, 2, 1.5], vertical_alignment="bottom")
max_results = controls[0].number_input(
    "Max results", min_value=MAX_RESULTS_RANGE[0], max_value=MAX_RESULTS_RANGE[1],
    value=MAX_RESULTS_DEFAULT, step=1,
)
statuses = controls[1].multiselect(
    "Status", [str(status) for status in ExecutionStatus], placeholder="All statuses"
)
dates = controls[2].date_input("Started between", value=(), format="YYYY-MM-DD")
refresh = controls[3].button("Refresh from AWS", icon=":material/refresh:")

request = HistoryRequest(connection.target, connection.credentials, int(max_results))
try:
    rows = kbsync.history.read(request, refresh=refresh)
except AwsRequestError as error:
    st.error(f"Could not read the history from AWS. {error}", icon=":material/error:")
    st.stop()

frame = filter_history(history_frame(rows), statuses=statuses, dates=dates)
st.caption(
    f"{len(frame)} of {len(rows)} syncs of `{connection.target.data_source_id}` "
    f"(knowledge base `{connection.target.knowledge_base_id}`, {connection.target.region})"
)
selected_id = render_history_table(frame)
st.download_button(
    "Download CSV",
    # A function: the CSV is built when someone asks for it, not on every page run.
    lambda: frame.to_csv(index=False),
    file_name="kbsync-history.csv",
    mime="text/csv", icon=":material/download:", on_click="ignore",
)
if selected_id is not None:
    render_selected_sync(kbsync, request, next(row for row in rows if row["id"] == selected_id))
render_trend_chart(frame)
