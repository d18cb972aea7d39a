"""Table jobs: rows of a SQL table into a knowledge base on a schedule (seed 004); operators
and admins create and change them, viewers read the jobs and their runs."""

import streamlit as st

from kbsync_core.runtime import get_kbsync
from kbsync_ui.auth import current_access
from kbsync_ui.i18n import Texts
from kbsync_ui.table_jobs_view import (
    pick_job,
    render_actions,
    render_form,
    render_job_list,
    render_notice,
    render_runs,
    render_sample_rows,
)

kbsync = get_kbsync()
access = current_access(kbsync.settings.roles)

TEXTS = Texts(
    {
        "title": ("Table jobs", "Trabajos de tabla"),
        "about": (
            "Each run reads the rows added or changed since the last one loaded and sends them "
            "through content ingestion: unchanged rows are skipped. Runs fire once per slot, "
            "whichever replica is up, never two of a job at once.",
            "Cada ejecución lee las filas añadidas o cambiadas desde la última cargada y las "
            "envía por la ingesta de contenido: las que no cambiaron se omiten. Las ejecuciones "
            "se lanzan una vez por franja, sea cual sea la réplica activa, nunca dos de un "
            "trabajo a la vez.",
        ),
        "none_yet": ("No table jobs yet.", "Aún no hay trabajos de tabla."),
        "create": ("Create a job", "Crear un trabajo"),
    }
)

st.title(TEXTS("title"))
st.caption(TEXTS("about"))
render_notice()
# Viewers read; operators and admins change (checked here, not only by what is drawn).
if access.can_operate:
    render_sample_rows(kbsync)
jobs = kbsync.table_jobs.list()
if jobs:
    render_job_list(jobs)
    chosen = pick_job(jobs)
    if chosen is not None:
        if access.can_operate:
            render_actions(kbsync, chosen)
        render_runs(kbsync, chosen)
else:
    st.info(TEXTS("none_yet"))
if access.can_operate:
    with st.expander(TEXTS("create"), expanded=not jobs):
        render_form(kbsync)
