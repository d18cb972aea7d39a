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

kbsync = get_kbsync()
access = current_access(kbsync.settings.roles)
service = kbsync.connections

st.title("Connections")
st.caption(
    "Each acts with the server's own identity (its default credentials, a profile, or a "
    "role it assumes): no secret is ever stored."
)
render_notice()
connections = service.list()
if connections:
    render_connection_list(connections)
else:
    st.info("No connections yet.")

chosen = pick_connection(connections)
if chosen is not None:
    render_test(service, chosen)

# The navigation lists this page for admins only; each change is checked again here.
if access.role is not None and access.role.can_administer:
    adding, editing = st.tabs(["Add a connection", "Edit or delete the chosen one"])
    with adding:
        render_form(service, None)
    with editing:
        if chosen is None:
            st.caption("Choose a connection above.")
        else:
            render_form(service, chosen)
            render_delete(service, chosen)
