"""Ingest: put records into a connection's data source (seed 002's jobs); operators and admins
send and cancel, viewers read the jobs."""

import streamlit as st

from kbsync_core.runtime import get_kbsync
from kbsync_ui.auth import current_access
from kbsync_ui.i18n import Texts
from kbsync_ui.ingest_view import render_job, render_new_job, render_notice, render_past_jobs

kbsync = get_kbsync()
access = current_access(kbsync.settings.roles)

TEXTS = Texts(
    {
        "title": ("Ingest", "Ingesta"),
        "about": (
            "Records become documents of the connection's data source: unchanged ones are skipped, "
            "deleted ones removed. The preview reads them as sending would, without sending.",
            "Los registros pasan a ser documentos del origen de datos de la conexión: los que "
            "no cambiaron se omiten y los eliminados se quitan. La vista previa los lee como el "
            "envío, sin enviar.",
        ),
    }
)

st.title(TEXTS("title"))
st.caption(TEXTS("about"))
render_notice()
# Viewers read; operators and admins send and cancel (checked here, not only by what is drawn).
if access.can_operate:
    render_new_job(kbsync)
opened = render_past_jobs(kbsync)
if opened is not None:
    render_job(kbsync, opened, access.can_operate)
