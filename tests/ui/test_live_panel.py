"""The Sync page's live panel: it looks for a change every half second and builds the log again
only when the run changed (its version: last write and log), whoever wrote it."""

from streamlit.testing.v1 import AppTest

from kbsync_core import events
from kbsync_core.events import log_event
from kbsync_core.models import Execution, ExecutionStatus, SyncTarget
from kbsync_core.store import Lease
from kbsync_ui import execution_panel

TARGET = SyncTarget("us-east-1", "SANDBOXKB1", "SANDBOXDS1")


def panel_script(execution_id: str) -> None:
    from kbsync_core.runtime import get_kbsync
    from kbsync_ui.execution_panel import render_execution

    render_execution(get_kbsync(), execution_id, None)


def log_shown(at: AppTest) -> str:
    return "\n".join(str(code.value) for code in at.code)


def test_the_live_panel_rebuilds_the_log_when_the_run_changes_and_only_then(kbsync, monkeypatch):
    execution = Execution(
        "watched-elsewhere",
        TARGET,
        "live panel",
        ExecutionStatus.EN_EJECUCION,
        "2026-12-01T10:00:00.000Z",
        events=[log_event(events.CREATED)],
    )
    # Worked by another replica (a live lease): this process only reads it.
    kbsync.store.add(execution, lease=Lease(execution.id, "another-replica", 600))
    builds = []
    original = execution_panel.log_text
    monkeypatch.setattr(
        execution_panel, "log_text", lambda shown: builds.append(len(shown)) or original(shown)
    )
    at = AppTest.from_function(panel_script, args=(execution.id,), default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    assert builds == [1]
    at.run()  # nothing changed: the same log drawn again, not built again
    assert builds == [1]
    kbsync.store.record(execution.id, log=[log_event(events.STATUS, status="IN_PROGRESS")])
    at.run()
    assert builds == [1, 2]
    assert "IN_PROGRESS" in log_shown(at)
    assert execution_panel.CHECK_SECONDS <= 0.5
