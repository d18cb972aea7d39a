"""History: every sync of the data source, local and from AWS, in one live table."""

import streamlit as st

from kbsync_core.models import ExecutionStatus
from kbsync_core.runtime import get_kbsync
from kbsync_core.validation import MAX_RESULTS_DEFAULT, MAX_RESULTS_RANGE, HistoryRequest
from kbsync_ui.connection import current_connection
from kbsync_ui.history_view import HistoryView, render_history
from kbsync_ui.i18n import Texts, worded_choice
from kbsync_ui.presentation import status_words

TEXTS = Texts({
    "title": ("History", "Historial"),
    "no_connection": (
        "Choose a connection or fill in the data source and keys in the sidebar to see its "
        "syncs.",
        "Elija una conexión o rellene el origen de datos y las claves en la barra lateral para "
        "ver sus sincronizaciones.",
    ),
    "max_results": ("Max results", "Máximo de resultados"),
    "status": ("Status", "Estado"),
    "all_statuses": ("All statuses", "Todos los estados"),
    "dates": ("Started between", "Iniciadas entre"),
    "refresh": ("Refresh from AWS", "Actualizar desde AWS"),
})

kbsync = get_kbsync()
connection = current_connection()

st.title(TEXTS("title"))
if connection is None:
    st.info(TEXTS("no_connection"), icon=":material/info:")
    st.stop()

controls = st.columns([1, 2, 2, 1.5], vertical_alignment="bottom")
max_results = controls[0].number_input(
    TEXTS("max_results"), min_value=MAX_RESULTS_RANGE[0], max_value=MAX_RESULTS_RANGE[1],
    value=MAX_RESULTS_DEFAULT, step=1, key="history_max_results",
)
# Options are the seeds' codes, shown in words.
statuses = controls[1].multiselect(
    TEXTS("status"), [str(status) for status in ExecutionStatus], format_func=status_words,
    placeholder=TEXTS("all_statuses"), key=worded_choice("history_statuses"),
)
dates = controls[2].date_input(
    TEXTS("dates"), value=(), format="YYYY-MM-DD", key="history_dates"
)
refresh = controls[3].button(TEXTS("refresh"), icon=":material/refresh:", key="history_refresh")

request = HistoryRequest(connection.target, connection.credentials, int(max_results))
render_history(kbsync, HistoryView(request, tuple(statuses), tuple(dates)), refresh=refresh)
