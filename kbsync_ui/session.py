"""What one browser session remembers: the executions it started, and the one it is watching."""

import streamlit as st

MY_EXECUTIONS_KEY = "my_execution_ids"
CURRENT_EXECUTION_KEY = "current_execution_id"
ANNOUNCED_KEY = "announced_execution_ids"


def remember_execution(execution_id: str) -> None:
    st.session_state.setdefault(MY_EXECUTIONS_KEY, []).append(execution_id)
    st.session_state[CURRENT_EXECUTION_KEY] = execution_id


def my_execution_ids() -> list[str]:
    return list(st.session_state.get(MY_EXECUTIONS_KEY, []))


def current_execution_id() -> str | None:
    return st.session_state.get(CURRENT_EXECUTION_KEY)


def announce_once(execution_id: str) -> bool:
    """True the first time an execution's end is to be announced in this session."""
    announced = st.session_state.setdefault(ANNOUNCED_KEY, set())
    if execution_id in announced:
        return False
    announced.add(execution_id)
    return True
