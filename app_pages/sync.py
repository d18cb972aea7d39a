"""Sync: the data source's state first (does a sync run on it now, who started it), then start
one and watch it to its end. The execution watched is in the URL (`?execution=<id>`)."""

import streamlit as st

from kbsync_core.runtime import get_kbsync
from kbsync_ui.auth import current_access
from kbsync_ui.connection import current_connection
from kbsync_ui.execution_panel import render_execution, render_session_executions
from kbsync_ui.session import current_execution_id, my_execution_ids
from kbsync_ui.sync_view import TEXTS, render_data_source_state, render_start

kbsync = get_kbsync()
connection = current_connection()
access = current_access(kbsync.settings.roles)
watched_id = current_execution_id()

st.title(TEXTS("title"))
# The execution watched is read before the data source's state: one that ended in between
# shows ended in both (the store's answer below is the newer).
watched = kbsync.reads.get(watched_id) if watched_id else None
running = render_data_source_state(kbsync, connection, watched_id, access.can_operate)
render_start(kbsync, connection, running, access.can_operate)
if watched_id:
    render_execution(kbsync, watched_id, connection, access.can_operate, watched)

render_session_executions(kbsync, my_execution_ids())
