"""What one browser session remembers: the executions it started, and the one it is watching.

The execution watched is also in the URL (`?execution=<id>`, the API's execution id), so a
reload, a new tab or a shared link watches the same one.
"""

import time

import streamlit as st

MY_EXECUTIONS_KEY = "my_execution_ids"
CURRENT_EXECUTION_KEY = "current_execution_id"
ANNOUNCED_KEY = "announced_execution_ids"
START_GUARD_KEY = "sync_start_clicked_at"
QUERY_PARAM = "execution"
# A second click on Start within this many seconds of the first is the same intent: ignored.
START_GUARD_SECONDS = 3.0


def remember_execution(execution_id: str) -> None:
    """An execution this session started: listed below the panel, and watched."""
    started = st.session_state.setdefault(MY_EXECUTIONS_KEY, [])
    if execution_id not in started:
        started.append(execution_id)
    watch_execution(execution_id)


def watch_execution(execution_id: str) -> None:
    """Watch an execution in the panel; the URL names it."""
    st.session_state[CURRENT_EXECUTION_KEY] = execution_id
    st.query_params[QUERY_PARAM] = execution_id


def my_execution_ids() -> list[str]:
    return list(st.session_state.get(MY_EXECUTIONS_KEY, []))


def current_execution_id() -> str | None:
    """The execution watched: the URL's (a reload, a link), else this session's last one, which
    goes back into the URL (it is dropped when the operator goes to another page)."""
    wanted = st.query_params.get(QUERY_PARAM)
    if wanted:
        st.session_state[CURRENT_EXECUTION_KEY] = wanted
        return wanted
    current = st.session_state.get(CURRENT_EXECUTION_KEY)
    if current:
        st.query_params[QUERY_PARAM] = current
    return current


def forget_watched() -> None:
    st.session_state.pop(CURRENT_EXECUTION_KEY, None)
    st.query_params.pop(QUERY_PARAM, None)


def start_guarded() -> bool:
    """True if this click on Start comes within START_GUARD_SECONDS of the last accepted one
    (a double click): it starts nothing. Otherwise records this one and says False."""
    now = time.monotonic()
    last = st.session_state.get(START_GUARD_KEY)
    if last is not None and now - last < START_GUARD_SECONDS:
        return True
    st.session_state[START_GUARD_KEY] = now
    return False


def announce_once(execution_id: str) -> bool:
    """True the first time an execution's end is to be announced in this session."""
    announced = st.session_state.setdefault(ANNOUNCED_KEY, set())
    if execution_id in announced:
        return False
    announced.add(execution_id)
    return True
