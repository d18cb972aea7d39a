"""Connections: the saved targets syncs start from; admins add, edit and delete them."""

import streamlit as st

from kbsync_core.runtime import get_kbsync
from kbsync_ui.auth import current_access
from kbsync_ui.connections_view import (
    pick_connection,
    render_connection_list,
    render_delete,
    render_form,
    render_notice,
    render_test,
)
from kbsync_ui.i18n import Texts
from kbsync_ui.webhooks_view import render_webhooks

kbsync = get_kbsync()
access = current_access(kbsync.settings.roles)
service = kbsync.connections

TEXTS = Texts({
    "title": ("Connections", "Conexiones"),
    "about": (
        "Each acts with the server's own identity (its default credentials, a profile, or a "
        "role it assumes): no secret is ever stored.",
        "Cada una actúa con la identidad del propio servidor (sus credenciales "
        "predeterminadas, un perfil o un rol que asume): nunca se guarda un secreto.",
    ),
    "none_yet": ("No connections yet.", "Aún no hay conexiones."),
    "add": ("Add a connection", "Añadir una conexión"),
    "edit": ("Edit or delete the chosen one", "Editar o eliminar la elegida"),
    "choose_above": ("Choose a connection above.", "Elija una conexión arriba."),
})

st.title(TEXTS("title"))
st.caption(TEXTS("about"))
render_notice()
connections = service.list()
if connections:
    render_connection_list(connections)
else:
    st.info(TEXTS("none_yet"))

chosen = pick_connection(connections)
if chosen is not None:
    render_test(service, chosen)

# The navigation lists this page for admins only; each change is checked again here.
can_administer = access.role is not None and access.role.can_administer
if chosen is not None:
    render_webhooks(kbsync.webhooks, chosen, can_change=can_administer)

if can_administer:
    # Keyed: a notice or a test result above must not send the operator back to the first tab.
    adding, editing = st.tabs([TEXTS("add"), TEXTS("edit")], key="connections_tabs")
    with adding:
        render_form(service, None)
    with editing:
        if chosen is None:
            st.caption(TEXTS("choose_above"))
        else:
            render_form(service, chosen)
            render_delete(service, chosen)
