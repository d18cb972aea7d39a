"""Schedules: syncs that run by themselves; operators and admins change them, viewers read."""

import streamlit as st

from kbsync_core.runtime import get_kbsync
from kbsync_ui.auth import current_access
from kbsync_ui.i18n import Texts
from kbsync_ui.schedules_view import (
    pick_schedule,
    render_actions,
    render_form,
    render_notice,
    render_schedule_list,
)

kbsync = get_kbsync()
access = current_access(kbsync.settings.roles)

TEXTS = Texts({
    "title": ("Schedules", "Programaciones"),
    "about": (
        "Each fires once per slot, whichever replica is up; slots missed while none was run "
        "once, and a slot that meets a running sync is skipped.",
        "Cada una se ejecuta una vez por franja, sea cual sea la réplica activa; las franjas "
        "perdidas mientras no había ninguna se ejecutan una sola vez, y una franja que "
        "encuentra una sincronización en curso se omite.",
    ),
    "none_yet": ("No schedules yet.", "Aún no hay programaciones."),
    "add": ("Add a schedule", "Añadir una programación"),
    "edit": ("Edit the chosen one", "Editar la elegida"),
})

st.title(TEXTS("title"))
st.caption(TEXTS("about"))
render_notice()
schedules = kbsync.schedules.list()
if schedules:
    render_schedule_list(schedules)
else:
    st.info(TEXTS("none_yet"))

# Viewers read; operators and admins change (checked here, not only by what is drawn).
if access.can_operate:
    chosen = pick_schedule(schedules)
    if chosen is not None:
        render_actions(kbsync, chosen)
    adding, editing = st.tabs([TEXTS("add"), TEXTS("edit")], key="schedules_tabs")
    with adding:
        render_form(kbsync, None)
    with editing:
        if chosen is not None:
            render_form(kbsync, chosen)
